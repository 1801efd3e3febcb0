"""`glassbox alerts sync` against Grafana's HTTP API: create, update, delete, idempotency, dry run.

The target is the local fake (tests/support/grafana.py, records every request) and, when GRAFANA_URL is
set (with GRAFANA_TOKEN, or user:password in the URL), also a real Grafana — the same tests run on both.
Writes are counted on the client side for both targets (a recording wrapper around grafana-client's
API), and on the server side for the fake. Each test works in its own folder with its own rule names.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import pytest
from typer.testing import CliRunner

from glassbox.alerts.config import AlertsFile, parse_alerts
from glassbox.alerts.grafana_rules import rule_uid
from glassbox.alerts.sync import connect, plan, sync
from glassbox.cli.main import _register, app
from glassbox.common.settings import GrafanaSettings
from tests.support.grafana import FakeGrafana

TARGETS = ["fake"] + (["real"] if os.environ.get("GRAFANA_URL") else [])
WRITE_PREFIXES = ("create_", "update_", "delete_", "set_")


@dataclass
class Target:
    settings: GrafanaSettings
    fake: FakeGrafana | None
    api: Any
    writes: list[str] = field(default_factory=list)
    prefix: str = ""

    def alerts(self, rules: list[dict[str, Any]], **extra: Any) -> AlertsFile:
        named = [{**r, "name": f"{self.prefix}{r['name']}"} for r in rules]
        for r in named:
            if r.get("contact_point"):
                r["contact_point"] = f"{self.prefix}{r['contact_point']}"
        points = [{**p, "name": f"{self.prefix}{p['name']}"} for p in extra.pop("contact_points", [])]
        return parse_alerts({"rule_group": f"{self.prefix}group", "rules": named, "contact_points": points, **extra})

    def rules(self) -> dict[str, dict[str, Any]]:
        mine = [r for r in self.api.alertingprovisioning.get_alertrules_all() if r.get("folderUID") ==
                self.settings.folder_uid]  # fmt: skip
        return {r["title"].removeprefix(self.prefix): r for r in mine}


class _Recording:
    """Forwards to a grafana-client element and records the names of write calls."""

    def __init__(self, inner: Any, log: list[str]) -> None:
        self._inner, self._log = inner, log

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith(WRITE_PREFIXES):

            def record(*args: Any, **kwargs: Any) -> Any:
                self._log.append(name)
                return attr(*args, **kwargs)

            return record
        return attr


def _settings(url: str, folder_uid: str, token: str | None, user: str | None, password: str | None) -> GrafanaSettings:
    return GrafanaSettings(url=url, token=token, user=user, password=password, folder=f"Glassbox test {folder_uid}",
                           folder_uid=folder_uid, datasource_uid=os.environ.get("GRAFANA_DATASOURCE_UID",
                                                                                "glassbox-clickhouse"))  # fmt: skip


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """A Grafana to sync to, with a fresh folder uid and rule-name prefix; cleaned up afterwards."""
    unique = uuid.uuid4().hex[:8]
    if request.param == "fake":
        yield from _fake_target(unique)
        return
    raw = urlparse(os.environ["GRAFANA_URL"])
    url = raw._replace(netloc=(raw.hostname or "") + (f":{raw.port}" if raw.port else "")).geturl()
    settings = _settings(url, f"gbx-test-{unique}", os.environ.get("GRAFANA_TOKEN"), raw.username, raw.password)
    result = _wrap(settings, None, f"t{unique}-")
    yield result
    for uid, rule in ((r["uid"], r) for r in result.api.alertingprovisioning.get_alertrules_all()):
        if rule.get("folderUID") == settings.folder_uid:
            result.api.alertingprovisioning.delete_alertrule(uid)
    for point in result.api.alertingprovisioning.get_contactpoints():
        if str(point.get("name", "")).startswith(result.prefix):
            result.api.alertingprovisioning.delete_contactpoint(point["uid"])
    result.api.folder.delete_folder(settings.folder_uid)


@pytest.fixture
def fake_target() -> Iterator[Target]:
    """The local fake only: for what must not be done to a real Grafana (replacing its notification policy
    tree) and for what needs the fake's credentials (the CLI reads GLASSBOX_GRAFANA_* settings)."""
    yield from _fake_target(uuid.uuid4().hex[:8])


def _fake_target(unique: str) -> Iterator[Target]:
    with FakeGrafana() as fake:
        settings = _settings(fake.url, f"gbx-test-{unique}", fake.token, None, None)
        yield _wrap(settings, fake, "")


def _wrap(settings: GrafanaSettings, fake: FakeGrafana | None, prefix: str) -> Target:
    api = connect(settings)
    target = Target(settings, fake, api, prefix=prefix)
    api.alertingprovisioning = _Recording(api.alertingprovisioning, target.writes)
    api.folder = _Recording(api.folder, target.writes)
    return target


RULE_A = {"name": "tool-errors", "summary": "tool calls fail", "metric": "tool_error_rate", "above": 0.01,
          "group_by": ["service"], "min_count": 20, "severity": "critical"}  # fmt: skip
RULE_B = {"name": "dead-letters", "summary": "dead letters", "metric": "dead_letters", "above": 0, "for": "0s"}


def test_first_sync_creates_the_folder_and_every_rule(target: Target) -> None:
    """An empty Grafana gets the folder and one rule per entry, with stable uids and the managed label."""
    alerts = target.alerts([RULE_A, RULE_B])
    result = sync(target.api, alerts, target.settings)
    assert [(c.action, c.kind) for c in result.changes] == [
        ("create", "folder"),
        ("create", "rule"),
        ("create", "rule"),
    ]
    assert target.writes == ["create_folder", "create_alertrule", "create_alertrule"]
    rules = target.rules()
    assert set(rules) == {"tool-errors", "dead-letters"}
    assert rules["tool-errors"]["uid"] == rule_uid(alerts.rules[0])
    assert rules["tool-errors"]["labels"]["managed_by"] == "glassbox"
    assert rules["tool-errors"]["data"][1]["model"]["conditions"][0]["evaluator"]["params"] == [0.01]
    if target.fake is not None:
        assert [(r.method, r.path) for r in target.fake.writes] == [
            ("POST", "/api/folders"),
            ("POST", "/api/v1/provisioning/alert-rules"),
            ("POST", "/api/v1/provisioning/alert-rules"),
        ]


def test_second_sync_of_the_same_file_writes_nothing(target: Target) -> None:
    """Idempotent: Grafana's normalised copy (durations, defaults, ids) compares equal to the file."""
    alerts = target.alerts([RULE_A, RULE_B])
    sync(target.api, alerts, target.settings)
    target.writes.clear()
    if target.fake is not None:
        target.fake.clear()
    again = sync(target.api, alerts, target.settings)
    assert again.writes == [] and again.unchanged == 3
    assert target.writes == []
    if target.fake is not None:
        assert target.fake.writes == []


def test_a_changed_threshold_updates_only_that_rule(target: Target) -> None:
    """Raising one threshold is one PUT of that rule, and the diff names the field with old and new values."""
    sync(target.api, target.alerts([RULE_A, RULE_B]), target.settings)
    target.writes.clear()
    changed = target.alerts([{**RULE_A, "above": 0.05}, RULE_B])
    result = sync(target.api, changed, target.settings)
    (change,) = result.writes
    assert (change.action, change.title) == ("update", f"{target.prefix}tool-errors")
    assert "data[1].model.conditions[0].evaluator.params[0]: 0.01 → 0.05" in change.details
    assert target.writes == ["update_alertrule"]
    assert target.rules()["tool-errors"]["data"][1]["model"]["conditions"][0]["evaluator"]["params"] == [0.05]


def test_a_rule_removed_from_the_file_is_deleted_and_others_are_left_alone(target: Target) -> None:
    """Only managed rules not in the file go; a rule someone made by hand in the folder stays."""
    sync(target.api, target.alerts([RULE_A, RULE_B]), target.settings)
    by_hand = target.alerts([{**RULE_B, "name": "by-hand"}])
    body = dict(sync.__globals__["desired_rules"](by_hand, target.settings)[0])
    body["labels"] = {"team": "sre"}
    body["uid"] = f"hand-{uuid.uuid4().hex[:8]}"
    target.api.alertingprovisioning.create_alertrule(body)
    target.writes.clear()
    result = sync(target.api, target.alerts([RULE_A]), target.settings)
    assert [(c.action, c.title) for c in result.writes] == [("delete", f"{target.prefix}dead-letters")]
    assert target.writes == ["delete_alertrule"]
    assert set(target.rules()) == {"tool-errors", "by-hand"}


def test_dry_run_shows_the_diff_and_writes_nothing(target: Target) -> None:
    """--dry-run lists creations, updates and deletions; Grafana is untouched."""
    sync(target.api, target.alerts([RULE_A, RULE_B]), target.settings)
    target.writes.clear()
    if target.fake is not None:
        target.fake.clear()
    desired = target.alerts([{**RULE_A, "above": 0.02}, {**RULE_B, "name": "dead-letters-v2"}])
    result = sync(target.api, desired, target.settings, dry_run=True)
    text = result.describe()
    assert f"~ update rule {target.prefix}tool-errors" in text
    assert "evaluator.params[0]: 0.01 → 0.02" in text
    assert f"+ create rule {target.prefix}dead-letters-v2" in text
    assert f"- delete rule {target.prefix}dead-letters" in text
    assert "1 to create, 1 to update, 1 to delete" in text
    assert target.writes == []
    if target.fake is not None:
        assert target.fake.writes == []
    assert set(target.rules()) == {"tool-errors", "dead-letters"}


def test_contact_points_and_policy_are_created_once(fake_target: Target) -> None:
    """Declared contact points and the policy are written before the rules that use them; a re-sync writes
    nothing, even though Grafana redacts secret settings. (Fake only: replacing the policy tree of a real
    Grafana would disturb it.)"""
    target = fake_target
    assert target.fake is not None
    points = [{"name": "oncall", "type": "webhook", "settings": {"url": "http://hook", "password": "s3cret"}}]
    policy = {"receiver": "oncall", "routes": [{"receiver": "oncall", "matchers": {"severity": "critical"}}]}
    alerts = target.alerts([{**RULE_A, "contact_point": "oncall"}], contact_points=points, notification_policy=policy)
    first = sync(target.api, alerts, target.settings)
    assert [(c.action, c.kind) for c in first.writes] == [("create", "folder"), ("create", "contact point"),
                                                          ("update", "policy"), ("create", "rule")]  # fmt: skip
    assert target.fake.policy["routes"][0]["object_matchers"] == [["severity", "=", "critical"]]
    target.writes.clear()
    assert sync(target.api, alerts, target.settings).writes == [] and target.writes == []


def test_cli_sync_dry_run_prints_the_plan(fake_target: Target, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """`glassbox alerts sync --dry-run` prints the changes and says nothing was written, then a real sync
    leaves nothing to do."""
    target = fake_target
    assert target.fake is not None
    path = tmp_path / "alerts.yaml"
    path.write_text("rules:\n  - {name: dl, summary: dead letters, metric: dead_letters, above: 0}\n")
    for key, value in {"URL": target.settings.url, "TOKEN": target.fake.token,
                       "FOLDER_UID": target.settings.folder_uid, "FOLDER": target.settings.folder}.items():  # fmt: skip
        monkeypatch.setenv(f"GLASSBOX_GRAFANA_{key}", value)
    _register()
    result = CliRunner().invoke(app, ["alerts", "sync", "--config", str(path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "+ create rule dl" in result.output and "dry run: nothing written" in result.output
    assert target.fake.writes == []
    applied = CliRunner().invoke(app, ["alerts", "sync", "--config", str(path)])
    assert applied.exit_code == 0 and "synced 2 change(s)" in applied.output
    assert plan(target.api, parse_alerts({"rules": [{"name": "dl", "summary": "dead letters", "metric": "dead_letters",
                                                      "above": 0}]}), target.settings).writes == []  # fmt: skip

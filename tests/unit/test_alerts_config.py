"""The alerts file: validation with field paths, one query per rule, Grafana rule bodies, the provisioning file."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from glassbox.alerts.compile import expanded_sql, rule_sql
from glassbox.alerts.config import DEFAULT_PATH, AlertsConfigError, load_alerts, parse_alerts
from glassbox.alerts.grafana_rules import alert_rule, rule_uid, stable_uid
from glassbox.alerts.provisioning import default_path, render
from glassbox.alerts.sync import diff
from glassbox.common.settings import GrafanaSettings

ROOT = Path(__file__).resolve().parents[2]


def _rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "summary": "s", "metric": "tool_error_rate", "above": 0.01, **fields}


def test_deploy_rules_and_the_packaged_default_are_the_same_file() -> None:
    """deploy/alerts.yaml is what the package ships as its default rules."""
    assert (ROOT / "deploy" / "alerts.yaml").read_text() == DEFAULT_PATH.read_text()


def test_default_rules_cover_the_issue() -> None:
    """Tool error rate > 1% over 5 min, faithfulness < 0.8, p95 latency, cost per hour per cohort, dead letters,
    judge error rate."""
    rules = {r.name: r for r in load_alerts().rules}
    assert (rules["tool-error-rate"].metric, rules["tool-error-rate"].above, rules["tool-error-rate"].window) == (
        "tool_error_rate",
        0.01,
        "5m",
    )
    assert (rules["faithfulness-low"].evaluator, rules["faithfulness-low"].below) == ("faithfulness", 0.8)
    assert rules["trace-latency-p95"].quantile == 0.95
    assert rules["cost-per-hour-by-cohort"].group_by == ["cohort"]
    assert rules["dead-letters"].above == 0
    assert rules["judge-error-rate"].metric == "judge_error_rate"  # fmt: skip


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"rules": [_rule(group_by=["evaluator"])]},
         "rules[0].group_by[0] (rule 'r'): 'evaluator' is not a dimension of tool_error_rate"),
        ({"rules": [_rule(metric="latency")]}, "rules[0].metric (rule 'r'): unknown metric 'latency'"),
        ({"rules": [_rule(metric="mean_score", above=None, below=0.8)]},
         "rules[0].evaluator (rule 'r'): mean_score needs the evaluator"),
        ({"rules": [_rule(window="5 minutes")]}, "rules[0].window (rule 'r'): '5 minutes' is not a duration"),
        ({"rules": [_rule(below=0.2)]}, "rules[0] (rule 'r'): give exactly one of above or below"),
        ({"rules": [_rule(filters={"stage": "sink"})]},
         "rules[0].filters.stage (rule 'r'): 'stage' is not a dimension"),
        ({"rules": [_rule(), _rule()]}, "rules[1].name (rule 'r'): duplicate rule name 'r'"),
        ({"rules": [_rule(severity="page")]}, "rules[0].severity (rule 'r'): Input should be 'info', 'warning'"),
        ({"rules": [_rule(colour="red")]}, "rules[0].colour (rule 'r'): Extra inputs are not permitted"),
        ({"contact_points": [{"name": "a", "type": "email"}], "rules": [_rule(contact_point="b")]},
         "rules[0].contact_point (rule 'r'): contact point 'b' is not declared"),
        ({"defaults": {"for": "soon"}}, "defaults.for: 'soon' is not a duration"),
    ],
)  # fmt: skip
def test_a_bad_file_fails_naming_the_field(doc: dict[str, Any], message: str) -> None:
    """Every error names its path in the file (and the rule), so the author can find it."""
    with pytest.raises(AlertsConfigError) as info:
        parse_alerts(doc, "alerts.yaml")
    assert message in str(info.value)
    assert str(info.value).startswith("alerts.yaml: invalid alerts configuration:")


def test_unreadable_and_non_yaml_files_are_config_errors(tmp_path: Path) -> None:
    """A missing file or broken YAML is reported with the file name, not a traceback."""
    with pytest.raises(AlertsConfigError, match="cannot read"):
        load_alerts(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [\n")
    with pytest.raises(AlertsConfigError, match="not valid YAML"):
        load_alerts(bad)


def test_thresholds_fire_above_or_below_and_never_without_a_value() -> None:
    """above fires on a larger value, below on a smaller one; None and NaN never fire."""
    above = parse_alerts({"rules": [_rule()]}).rules[0]
    below = parse_alerts({"rules": [_rule(metric="mean_score", evaluator="f", above=None, below=0.8)]}).rules[0]
    assert above.fires(0.02) and not above.fires(0.01) and not above.fires(None) and not above.fires(float("nan"))
    assert below.fires(0.5) and not below.fires(0.8)


def test_a_rule_compiles_to_one_grouped_query_with_its_filters() -> None:
    """Group columns as strings, the value as Float64, filters quoted, min_count in HAVING."""
    rule = parse_alerts({"rules": [_rule(group_by=["service"], filters={"environment": ["prod", "it's"]},
                                         min_count=20)]}).rules[0]  # fmt: skip
    assert rule_sql(rule) == (
        "SELECT toString(ServiceName) AS service, toFloat64(sum(Errors) / nullIf(sum(Spans), 0)) AS value\n"
        "FROM spans_1m\nWHERE $__timeFilter(Minute)\n  AND Kind = 'tool'\n"
        "  AND Environment IN ('prod', 'it\\'s')\nGROUP BY service\nHAVING sum(Spans) >= 20\nORDER BY service"
    )


def test_totals_have_no_minimum_and_per_hour_metrics_scale_by_the_window() -> None:
    """dead_letters counts from 0; cost per hour multiplies by 3600 / window seconds."""
    alerts = parse_alerts({"rules": [_rule(name="d", metric="dead_letters", above=0),
                                     _rule(name="c", metric="cost_usd_per_hour", above=5, window="30m")]})  # fmt: skip
    assert "HAVING" not in rule_sql(alerts.rules[0])
    assert "sum(CostUsd) * 3600 / 1800" in rule_sql(alerts.rules[1])


def test_the_check_runs_the_same_query_over_the_window_ending_now() -> None:
    """expanded_sql is rule_sql with the time filter over [now - window, now]."""
    from datetime import UTC, datetime

    rule = parse_alerts({"rules": [_rule(window="10m")]}).rules[0]
    sql = expanded_sql(rule, datetime(2026, 1, 1, 12, 0, tzinfo=UTC))
    assert "Minute >= toDateTime(1767268200) AND Minute <= toDateTime(1767268800)" in sql


def test_uids_are_stable_grafana_uids() -> None:
    """At most 40 characters of [A-Za-z0-9-_], the same for the same name, different for different names."""
    long = "a-very-long-rule-name-that-goes-on-and-on-and-on"
    for name in ("tool-error-rate", long):
        uid = stable_uid("gbx-", name)
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", uid) and uid == stable_uid("gbx-", name)
    assert stable_uid("gbx-", long) != stable_uid("gbx-", long + "x")


def test_a_rule_becomes_a_grafana_rule_with_a_threshold_on_the_query() -> None:
    """A = the rule's SQL over its window on the data source, B = threshold (condition), labels mark it managed."""
    alerts = parse_alerts({"contact_points": [{"name": "oncall", "type": "email", "settings": {"addresses": "a@b"}}],
                           "rules": [_rule(severity="critical", labels={"team": "ml"}, contact_point="oncall",
                                           window="5m", **{"for": "2m"})]})  # fmt: skip
    body = alert_rule(alerts, alerts.rules[0], folder_uid="f", datasource_uid="ds")
    query, threshold = body["data"]
    assert query["datasourceUid"] == "ds" and query["relativeTimeRange"] == {"from": 300, "to": 0}
    assert query["model"]["rawSql"] == rule_sql(alerts.rules[0]) and query["model"]["format"] == 1
    assert threshold["model"]["conditions"][0]["evaluator"] == {"type": "gt", "params": [0.01]}
    assert (body["condition"], body["for"], body["uid"]) == ("B", "2m", rule_uid(alerts.rules[0]))
    assert body["labels"] == {"severity": "critical", "team": "ml", "managed_by": "glassbox", "glassbox_rule": "r"}
    assert body["notification_settings"] == {"receiver": "oncall"}


def test_provisioning_file_is_up_to_date() -> None:
    """deploy/grafana/provisioning/alerting/glassbox-alerts.yaml is `glassbox alerts export` of deploy/alerts.yaml."""
    assert default_path().read_text() == render(load_alerts(ROOT / "deploy" / "alerts.yaml"), GrafanaSettings())
    doc = yaml.safe_load(default_path().read_text())
    (group,) = doc["groups"]
    assert group["folder"] == GrafanaSettings().folder
    assert [r["title"] for r in group["rules"]] == [r.name for r in load_alerts().rules]


def test_diff_compares_what_glassbox_sets_and_ignores_grafana_defaults() -> None:
    """Extra keys Grafana adds are ignored; exact paths (labels) catch removed keys; numbers compare by value."""
    want = {"a": 1, "m": {"x": 1.0}, "labels": {"k": "v"}}
    have = {"a": 1.0, "m": {"x": 1, "intervalMs": 1000}, "labels": {"k": "v", "old": "1"}, "id": 7}
    assert list(diff(want, have, exact=frozenset({"labels"}))) == ["labels.old: '1' → None"]
    assert list(diff({"p": [0.01]}, {"p": [0.02]})) == ["p[0]: 0.02 → 0.01"]

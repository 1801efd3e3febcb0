"""`glassbox alerts sync`: make Grafana's alerting match the alerts file, idempotently.

:func:`plan` reads what Grafana has (folder, contact points, notification policy, alert rules)
through its HTTP API (grafana-client) and lists the changes: create what is missing, update what
differs (with the differing fields), delete the rules (and ``gbx-cp-`` contact points) Glassbox
made that the file no longer lists. Only rules labelled ``managed_by=glassbox`` are ever deleted;
rules that Grafana loaded from provisioning files are reported and left alone. A second sync of
the same file changes nothing. :func:`apply` performs a plan in dependency order: folder, contact
points, policy, rules, then deletions.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from glassbox.alerts.config import AlertsFile
from glassbox.alerts.grafana_rules import (
    MANAGED_LABEL,
    MANAGED_VALUE,
    alert_rule,
    contact_point,
    policy_tree,
)
from glassbox.common.settings import GrafanaSettings

CP_PREFIX = "gbx-cp-"
REDACTED = "[REDACTED]"


@dataclass
class Change:
    action: str
    """create, update, delete or skip."""
    kind: str
    """folder, contact point, policy or rule."""
    uid: str
    title: str
    details: list[str] = field(default_factory=list)
    body: dict[str, Any] | None = None

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-", "skip": "!"}[self.action]
        head = f"{sign} {self.action} {self.kind} {self.title} ({self.uid})"
        return "\n".join([head, *(f"    {line}" for line in self.details)])


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0

    @property
    def writes(self) -> list[Change]:
        return [c for c in self.changes if c.action != "skip"]

    def describe(self) -> str:
        lines = [c.describe() for c in self.changes]
        counts = {a: sum(1 for c in self.changes if c.action == a) for a in ("create", "update", "delete", "skip")}
        summary = ", ".join(f"{n} to {a}" for a, n in counts.items() if n) or "nothing to change"
        lines.append(f"{summary}; {self.unchanged} unchanged")
        return "\n".join(lines)


def connect(settings: GrafanaSettings) -> Any:
    """A grafana-client API object for the configured Grafana (token, or user and password)."""
    from grafana_client import GrafanaApi

    url = urlparse(settings.url)
    auth: Any = settings.token or ((settings.user, settings.password or "") if settings.user else None)
    prefix = url.path.strip("/")
    return GrafanaApi(
        auth=auth,
        host=url.hostname or "localhost",
        port=url.port,
        protocol=url.scheme,
        url_path_prefix=f"{prefix}/" if prefix else "",
        verify=settings.verify_tls,
        timeout=settings.timeout_s,
        organization_id=settings.org_id,
    )


# ---------------------------------------------------------------- comparing


def _go_duration_s(text: Any) -> float | None:
    """Seconds in '5m', '1h30m', '5m0s', '0s' (Go and Prometheus spellings); None when unreadable."""
    if not isinstance(text, str):
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return sum(float(n) * units[u] for n, u in parts)


def diff(want: Any, have: Any, path: str = "", *, exact: frozenset[str] = frozenset()) -> Iterator[str]:
    """Differences of ``have`` from ``want``, as 'path: have → want' lines.

    Mappings are compared on ``want``'s keys (Grafana adds defaults of its own), except those
    whose path is in ``exact``, which must match key for key. Numbers compare by value.
    """
    if isinstance(want, dict) and isinstance(have, dict):
        keys = set(want) | (set(have) if path in exact else set())
        for key in sorted(keys, key=str):
            yield from diff(want.get(key), have.get(key), f"{path}.{key}" if path else str(key), exact=exact)
        return
    if isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            yield from diff(w, h, f"{path}[{i}]", exact=exact)
        return
    if _same(want, have):
        return
    yield f"{path}: {_show(have)} → {_show(want)}"


def _same(want: Any, have: Any) -> bool:
    if isinstance(want, bool) or isinstance(have, bool):
        return bool(want is have or want == have) and type(want) is type(have)
    if isinstance(want, int | float) and isinstance(have, int | float):
        return float(want) == float(have)
    return bool(want == have)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _rule_view(rule: dict[str, Any]) -> dict[str, Any]:
    """The fields of a rule a sync owns, with the pending period in seconds."""
    view = {k: rule.get(k) for k in ("title", "folderUID", "ruleGroup", "condition", "data", "noDataState",
                                      "execErrState", "labels", "annotations", "isPaused")}  # fmt: skip
    view["for_s"] = _go_duration_s(rule.get("for"))
    settings = rule.get("notification_settings") or {}
    view["receiver"] = settings.get("receiver") if isinstance(settings, dict) else None
    return view


_RULE_EXACT = frozenset({"labels", "annotations"})


def _cp_view(point: dict[str, Any], hidden: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """A contact point without the settings Grafana shows redacted (secrets cannot be compared)."""
    settings = {k: v for k, v in (point.get("settings") or {}).items() if v != REDACTED and k not in hidden}
    return {"name": point.get("name"), "type": point.get("type"), "settings": settings,
            "disableResolveMessage": bool(point.get("disableResolveMessage", False))}  # fmt: skip


def _cp_diff(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    hidden = {k for k, v in (have.get("settings") or {}).items() if v == REDACTED}
    return list(diff(_cp_view(want, hidden), _cp_view(have)))


def _policy_view(tree: dict[str, Any]) -> dict[str, Any]:
    def node(route: dict[str, Any]) -> dict[str, Any]:
        return {
            "receiver": route.get("receiver"),
            "continue": bool(route.get("continue", False)),
            "object_matchers": [list(m) for m in route.get("object_matchers") or []],
            "group_by": list(route.get("group_by") or []),
        }

    view = node(tree)
    view.pop("continue")
    for key in ("group_wait", "group_interval", "repeat_interval"):
        view[key] = _go_duration_s(tree.get(key))
    view["routes"] = [node(r) for r in tree.get("routes") or []]
    return view


# ---------------------------------------------------------------- planning


def desired_rules(alerts: AlertsFile, settings: GrafanaSettings) -> list[dict[str, Any]]:
    return [alert_rule(alerts, r, folder_uid=settings.folder_uid, datasource_uid=settings.datasource_uid,
                       org_id=settings.org_id) for r in alerts.rules]  # fmt: skip


def plan(api: Any, alerts: AlertsFile, settings: GrafanaSettings) -> Plan:
    """What a sync would change (reads Grafana, writes nothing)."""
    out = Plan()
    _plan_folder(api, settings, out)
    wanted_points = [contact_point(p) for p in alerts.contact_points]
    existing_points = {p.get("uid"): p for p in api.alertingprovisioning.get_contactpoints() or []}
    for body in wanted_points:
        have = existing_points.get(body["uid"])
        _create_or_update(out, "contact point", body["uid"], body["name"], body, have, _cp_diff)
    if alerts.notification_policy is not None:
        tree = policy_tree(alerts.notification_policy)
        have_tree = api.alertingprovisioning.get_notification_policy_tree() or {}
        changes = list(diff(_policy_view(tree), _policy_view(have_tree), exact=frozenset({""})))
        if changes:
            out.changes.append(Change("update", "policy", "root", "notification policy", changes, tree))
        else:
            out.unchanged += 1
    existing_rules = {r.get("uid"): r for r in api.alertingprovisioning.get_alertrules_all() or []}
    wanted = desired_rules(alerts, settings)
    for body in wanted:
        have = existing_rules.get(body["uid"])
        if have is not None and have.get("provenance") == "file":
            out.changes.append(
                Change(
                    "skip",
                    "rule",
                    body["uid"],
                    body["title"],
                    ["provisioned from a file in Grafana: change the provisioning file instead"],
                )
            )
            continue
        _create_or_update(out, "rule", body["uid"], body["title"], body, have,
                          lambda w, h: list(diff(_rule_view(w), _rule_view(h), exact=_RULE_EXACT)))  # fmt: skip
    wanted_uids = {b["uid"] for b in wanted}
    for uid, have in sorted(existing_rules.items(), key=lambda kv: str(kv[0])):
        labels = have.get("labels") or {}
        if uid not in wanted_uids and labels.get(MANAGED_LABEL) == MANAGED_VALUE and have.get("provenance") != "file":
            out.changes.append(Change("delete", "rule", str(uid), str(have.get("title")), ["not in the alerts file"]))
    wanted_cp = {b["uid"] for b in wanted_points}
    for uid, have in sorted(existing_points.items(), key=lambda kv: str(kv[0])):
        if str(uid).startswith(CP_PREFIX) and uid not in wanted_cp:
            out.changes.append(Change("delete", "contact point", str(uid), str(have.get("name")),
                                      ["not in the alerts file"]))  # fmt: skip
    return out


def _plan_folder(api: Any, settings: GrafanaSettings, out: Plan) -> None:
    from grafana_client.client import GrafanaClientError

    try:
        folder = api.folder.get_folder(settings.folder_uid)
    except GrafanaClientError as exc:
        if exc.status_code != 404:
            raise
        out.changes.append(Change("create", "folder", settings.folder_uid, settings.folder,
                                  body={"uid": settings.folder_uid, "title": settings.folder}))  # fmt: skip
        return
    if folder.get("title") != settings.folder:
        out.changes.append(Change("update", "folder", settings.folder_uid, settings.folder,
                                  [f"title: {folder.get('title')!r} → {settings.folder!r}"],
                                  {"uid": settings.folder_uid, "title": settings.folder,
                                   "version": folder.get("version")}))  # fmt: skip
    else:
        out.unchanged += 1


def _create_or_update(out: Plan, kind: str, uid: str, title: str, body: dict[str, Any],
                      have: dict[str, Any] | None, compare: Any) -> None:  # fmt: skip
    if have is None:
        out.changes.append(Change("create", kind, uid, title, body=body))
        return
    changes = compare(body, have)
    if changes:
        out.changes.append(Change("update", kind, uid, title, changes, body))
    else:
        out.unchanged += 1


# ---------------------------------------------------------------- applying

_ORDER = {("folder", "create"): 0, ("folder", "update"): 0, ("contact point", "create"): 1,
          ("contact point", "update"): 1, ("policy", "update"): 2, ("rule", "create"): 3, ("rule", "update"): 3,
          ("rule", "delete"): 4, ("contact point", "delete"): 5}  # fmt: skip


def apply(api: Any, changes: Plan) -> int:
    """Perform the plan's writes in dependency order; returns how many were made."""
    prov = api.alertingprovisioning
    done = 0
    for change in sorted(changes.writes, key=lambda c: _ORDER[(c.kind, c.action)]):
        body = change.body or {}
        if change.kind == "folder" and change.action == "create":
            api.folder.create_folder(body["title"], uid=body["uid"])
        elif change.kind == "folder":
            api.folder.update_folder(body["uid"], title=body["title"], version=body.get("version"), overwrite=True)
        elif change.kind == "contact point" and change.action == "create":
            prov.create_contactpoint(body)
        elif change.kind == "contact point" and change.action == "update":
            prov.update_contactpoint(change.uid, body)
        elif change.kind == "contact point":
            prov.delete_contactpoint(change.uid)
        elif change.kind == "policy":
            prov.set_notification_policy_tree(body)
        elif change.action == "create":
            prov.create_alertrule(body)
        elif change.action == "update":
            prov.update_alertrule(change.uid, body)
        else:
            prov.delete_alertrule(change.uid)
        done += 1
    return done


def sync(api: Any, alerts: AlertsFile, settings: GrafanaSettings, *, dry_run: bool = False) -> Plan:
    """Plan, and unless ``dry_run``, apply."""
    changes = plan(api, alerts, settings)
    if not dry_run:
        apply(api, changes)
    return changes

"""Alert rules, contact points and the notification policy as Grafana's provisioning API models.

Pure functions. A rule becomes a Grafana-managed rule with two steps: ``A`` runs the rule's SQL
on the ClickHouse data source over the rule's window (table format: the group columns become
labels, ``value`` the number), ``B`` is a threshold expression on ``A`` (the condition). Uids are
stable (``gbx-<name>-<hash>``), and every rule carries the label ``managed_by=glassbox`` so a sync
only ever deletes rules Glassbox made.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from glassbox.alerts.compile import rule_sql
from glassbox.alerts.config import AlertsFile, ContactPoint, NotificationPolicy, Rule, duration_s
from glassbox.alerts.metrics import METRICS
from glassbox.dashboards.traceview import DATASOURCE_TYPE

MANAGED_LABEL = "managed_by"
MANAGED_VALUE = "glassbox"
RULE_LABEL = "glassbox_rule"
EXPR_UID = "__expr__"


def stable_uid(prefix: str, name: str) -> str:
    """A Grafana uid (at most 40 characters of [A-Za-z0-9-_]) that depends on the name only."""
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[: 40 - len(prefix) - 10]
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{prefix}{slug}-{digest}"


def rule_uid(rule: Rule) -> str:
    return stable_uid("gbx-", rule.name)


def contact_point_uid(point: ContactPoint) -> str:
    return stable_uid("gbx-cp-", point.name)


def duration_text(text: str) -> str:
    """A duration as Grafana writes it back ('5m', '1h', '0s'), so comparisons are stable."""
    seconds = duration_s(text)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def alert_rule(
    alerts: AlertsFile, rule: Rule, *, folder_uid: str, datasource_uid: str, org_id: int = 1
) -> dict[str, Any]:
    """The ProvisionedAlertRule of ``rule`` (POST/PUT /api/v1/provisioning/alert-rules)."""
    metric = METRICS[rule.metric]
    query = {
        "refId": "A",
        "datasource": {"type": DATASOURCE_TYPE, "uid": datasource_uid},
        "editorType": "sql",
        "format": 1,
        "queryType": "table",
        "rawSql": rule_sql(rule),
    }
    threshold = {
        "refId": "B",
        "datasource": {"type": EXPR_UID, "uid": EXPR_UID},
        "type": "threshold",
        "expression": "A",
        "conditions": [{"evaluator": {"type": "gt" if rule.above is not None else "lt", "params": [rule.threshold]}}],
    }
    labels = {"severity": alerts.severity(rule).value, **rule.labels, MANAGED_LABEL: MANAGED_VALUE,
              RULE_LABEL: rule.name}  # fmt: skip
    scope = f" of {rule.evaluator}" if rule.evaluator else ""
    group = f", per {', '.join(rule.group_by)}" if rule.group_by else ""
    annotations = {
        "summary": rule.summary,
        "description": f"{metric.name}{scope} ({metric.description}) {rule.op} {rule.threshold:g} "
        f"over {rule.window}{group}. Value: {{{{ $values.A.Value }}}}.",
    }
    if rule.runbook_url:
        annotations["runbook_url"] = rule.runbook_url
    body: dict[str, Any] = {
        "uid": rule_uid(rule),
        "title": rule.name,
        "orgID": org_id,
        "folderUID": folder_uid,
        "ruleGroup": alerts.rule_group,
        "condition": "B",
        "data": [
            {"refId": "A", "relativeTimeRange": {"from": duration_s(rule.window), "to": 0},
             "datasourceUid": datasource_uid, "model": query},
            {"refId": "B", "relativeTimeRange": {"from": 0, "to": 0}, "datasourceUid": EXPR_UID, "model": threshold},
        ],
        "noDataState": alerts.no_data(rule).value,
        "execErrState": "Error",
        "for": duration_text(alerts.pending(rule)),
        "labels": labels,
        "annotations": annotations,
        "isPaused": False,
    }  # fmt: skip
    point = alerts.contact_point(rule)
    if point:
        body["notification_settings"] = {"receiver": point}
    return body


def contact_point(point: ContactPoint) -> dict[str, Any]:
    """The EmbeddedContactPoint of ``point`` (POST/PUT /api/v1/provisioning/contact-points)."""
    return {
        "uid": contact_point_uid(point),
        "name": point.name,
        "type": point.type,
        "settings": dict(point.settings),
        "disableResolveMessage": point.disable_resolve_message,
    }


def policy_tree(policy: NotificationPolicy) -> dict[str, Any]:
    """The notification policy Route tree (PUT /api/v1/provisioning/policies)."""
    tree: dict[str, Any] = {
        "receiver": policy.receiver,
        "group_by": list(policy.group_by),
        "group_wait": policy.group_wait,
        "group_interval": policy.group_interval,
        "repeat_interval": policy.repeat_interval,
        "routes": [],
    }
    for route in policy.routes:
        node: dict[str, Any] = {
            "receiver": route.receiver,
            "object_matchers": [[k, "=", v] for k, v in sorted(route.matchers.items())],
            "continue": route.continue_matching,
        }
        if route.group_by is not None:
            node["group_by"] = list(route.group_by)
        tree["routes"].append(node)
    return tree

"""The alerts file as a Grafana alerting provisioning file (deploy/grafana/provisioning/alerting/).

The compose stack's Grafana loads it at start-up: the same rules (same uids, same SQL) that
`glassbox alerts sync` writes through the API to a Grafana that is not provisioned from files.
``glassbox alerts export`` writes it; a test fails when the checked-in file is out of date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from glassbox.alerts.config import AlertsFile
from glassbox.alerts.grafana_rules import alert_rule, contact_point, policy_tree
from glassbox.common.settings import GrafanaSettings

FILE_NAME = "glassbox-alerts.yaml"
HEADER = "# Generated from deploy/alerts.yaml by `glassbox alerts export`; do not edit.\n"
_RULE_KEYS = ("uid", "title", "condition", "data", "noDataState", "execErrState", "for", "annotations", "labels",
              "isPaused", "notification_settings")  # fmt: skip


def provisioning_document(alerts: AlertsFile, settings: GrafanaSettings) -> dict[str, Any]:
    """apiVersion 1 document with the rule group, and contact points and policy when configured."""
    rules = []
    for rule in alerts.rules:
        body = alert_rule(alerts, rule, folder_uid=settings.folder_uid, datasource_uid=settings.datasource_uid,
                          org_id=settings.org_id)  # fmt: skip
        rules.append({k: body[k] for k in _RULE_KEYS if k in body})
    doc: dict[str, Any] = {
        "apiVersion": 1,
        "groups": [
            {
                "orgId": settings.org_id,
                "name": alerts.rule_group,
                "folder": settings.folder,
                "interval": alerts.evaluation_interval,
                "rules": rules,
            }
        ],
    }
    if alerts.contact_points:
        doc["contactPoints"] = [
            {"orgId": settings.org_id, "name": p.name,
             "receivers": [{k: v for k, v in contact_point(p).items() if k != "name"}]}
            for p in alerts.contact_points
        ]  # fmt: skip
    if alerts.notification_policy is not None:
        doc["policies"] = [{"orgId": settings.org_id, **policy_tree(alerts.notification_policy)}]
    return doc


def render(alerts: AlertsFile, settings: GrafanaSettings) -> str:
    return HEADER + yaml.safe_dump(provisioning_document(alerts, settings), sort_keys=False, width=120)


def default_path() -> Path:
    """deploy/grafana/provisioning/alerting/glassbox-alerts.yaml of the source checkout."""
    return Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "provisioning" / "alerting" / FILE_NAME

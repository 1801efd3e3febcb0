"""`glassbox alerts check`: evaluate the rules directly against ClickHouse, as a deploy gate.

Each rule's query (:func:`glassbox.alerts.compile.rule_sql`) runs over the window ending now; each
returned row is one group's value, compared with the rule's threshold. The pending duration is
Grafana's business: a check judges the current window only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from glassbox.alerts.compile import expanded_sql
from glassbox.alerts.config import AlertsFile, Rule
from glassbox.alerts.metrics import METRICS


@dataclass(frozen=True, slots=True)
class Outcome:
    """One group of one rule: its value and whether it fires."""

    rule: Rule
    group: dict[str, str]
    value: float | None
    firing: bool

    def describe(self) -> str:
        """e.g. ``FIRING tool-error-rate [service=order-agent]: tool_error_rate 0.0526 > 0.01 over 5m``."""
        group = ", ".join(f"{k}={v}" for k, v in self.group.items())
        where = f" [{group}]" if group else ""
        shown = "no data" if self.value is None else f"{self.value:.6g}"
        state = "FIRING" if self.firing else "ok"
        metric = METRICS[self.rule.metric].name
        scope = f" ({self.rule.evaluator})" if self.rule.evaluator else ""
        return (f"{state:6} {self.rule.name}{where}: {metric}{scope} {shown} {self.rule.op} "
                f"{self.rule.threshold:g} over {self.rule.window} — {self.rule.summary}")  # fmt: skip


def evaluate_rule(client: Any, rule: Rule, now: datetime | None = None) -> list[Outcome]:
    """The rule's outcome per group (one outcome with no value when the query returned nothing)."""
    result = client.query(expanded_sql(rule, now))
    names = list(result.column_names)
    outcomes = []
    for row in result.result_rows:
        record = dict(zip(names, row, strict=True))
        raw = record.pop("value")
        value = None if raw is None or raw != raw else float(raw)
        group = {k: str(v) for k, v in record.items()}
        outcomes.append(Outcome(rule, group, value, rule.fires(value)))
    return outcomes or [Outcome(rule, {}, None, False)]


def evaluate(
    client: Any, alerts: AlertsFile, now: datetime | None = None, only: set[str] | None = None
) -> list[Outcome]:
    """Every rule (or those named in ``only``), in file order."""
    out: list[Outcome] = []
    for rule in alerts.rules:
        if only is None or rule.name in only:
            out.extend(evaluate_rule(client, rule, now))
    return out

"""An alert rule → ONE ClickHouse query, shared by Grafana's rule and `glassbox alerts check`.

The query uses the ClickHouse data source's time macros (``$__timeFilter``); Grafana runs it over
the rule's relative time range (its window), the CLI expands the macros with the same semantics
(:mod:`glassbox.dashboards.macros`) over ``[now - window, now]``. It returns one row per group
(the group_by dimensions as string columns, then ``value``), or one ``value`` row when ungrouped;
groups with fewer than ``min_count`` observations are left out (Grafana: no data for them).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from glassbox.alerts.config import Rule, duration_s
from glassbox.alerts.metrics import METRICS
from glassbox.dashboards.macros import QueryContext, expand


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def rule_sql(rule: Rule) -> str:
    """The rule's query, with data source macros (not yet expanded)."""
    metric = METRICS[rule.metric]
    window_s = duration_s(rule.window)
    value = metric.value.format(q=rule.quantile if rule.quantile is not None else 0.95, window_s=window_s)
    conditions = [f"$__timeFilter({metric.time_column})", *metric.conditions]
    if rule.evaluator:
        conditions.append(f"Evaluator = {_quote(rule.evaluator)}")
    for dim, wanted in sorted(rule.filters.items()):
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        conditions.append(f"{metric.dimensions[dim]} IN ({', '.join(_quote(v) for v in values)})")
    select = [f"toString({metric.dimensions[d]}) AS {d}" for d in rule.group_by] + [f"toFloat64({value}) AS value"]
    sql = f"SELECT {', '.join(select)}\nFROM {metric.table}\nWHERE " + "\n  AND ".join(conditions)
    if rule.group_by:
        sql += f"\nGROUP BY {', '.join(rule.group_by)}"
    min_count = metric.default_min_count if rule.min_count is None else rule.min_count
    if min_count > 0:
        sql += f"\nHAVING {metric.count} >= {min_count}"
    if rule.group_by:
        sql += f"\nORDER BY {', '.join(rule.group_by)}"
    return sql


def expanded_sql(rule: Rule, now: datetime | None = None) -> str:
    """The rule's query as it runs over the window ending at ``now`` (default: the current time)."""
    end = (now or datetime.now(UTC)).astimezone(UTC)
    start = end - timedelta(seconds=duration_s(rule.window))
    return expand(rule_sql(rule), QueryContext(start, end, interval_s=60))

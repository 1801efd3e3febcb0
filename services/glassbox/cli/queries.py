"""SQL behind `glassbox traces` and `glassbox trace`. Pure: filters in, (sql, parameters) out."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
SORTS = {
    "time": "t.Start DESC",
    "latency": "t.DurationNs DESC",
    "cost": "t.CostUsd DESC",
    "tokens": "(t.InputTokens + t.OutputTokens) DESC",
    "errors": "t.ErrorCount DESC, t.Start DESC",
}
CATEGORIES = (
    "hallucination",
    "retrieval_failure",
    "instruction_drift",
    "tool_error",
    "reasoning_loop",
    "latency_spike",
    "cost_spike",
)


def parse_since(text: str | None) -> int | None:
    """Seconds in '30m', '24h', '7d', '90s', '2w'; None for 'all' or nothing."""
    if not text or text.lower() == "all":
        return None
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--since must look like 30m, 24h, 7d or 'all' (got {text!r})")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class TraceFilter:
    since_s: int | None = 24 * 3600
    service: str | None = None
    status: str | None = None
    category: str | None = None
    failing: bool = False
    user: str | None = None
    session: str | None = None
    model: str | None = None
    name: str | None = None
    sort: str = "time"
    limit: int = 20


FAILURES_SUBQUERY = (
    "SELECT TraceId, groupUniqArray(FailureCategory) AS Categories, count() AS Failures "
    "FROM {db}.evaluations FINAL WHERE Status = 'failed' AND FailureCategory != '' GROUP BY TraceId"
)


def traces_sql(db: str, f: TraceFilter) -> tuple[str, dict[str, object]]:
    if f.sort not in SORTS:
        raise ValueError(f"--sort must be one of {', '.join(SORTS)}")
    where: list[str] = []
    params: dict[str, object] = {}
    if f.since_s is not None:
        where.append("t.Start >= now64(9) - toIntervalSecond({since:UInt64})")
        params["since"] = f.since_s
    for column, key, value in (
        ("t.ServiceName", "service", f.service),
        ("t.UserId", "user", f.user),
        ("t.SessionId", "session", f.session),
        ("t.Name", "name", f.name),
    ):
        if value:
            where.append(f"{column} = {{{key}:String}}")
            params[key] = value
    if f.model:
        where.append("has(t.Models, {model:String})")
        params["model"] = f.model
    if f.status:
        status = f.status.lower()
        if status in ("error", "errors"):
            where.append("t.HasError")
        elif status == "ok":
            where.append("NOT t.HasError")
        elif status in ("complete", "incomplete"):
            where.append("t.Status = {status:String}")
            params["status"] = status
        else:
            raise ValueError("--status must be ok, error, complete or incomplete")
    if f.category:
        if f.category not in CATEGORIES:
            raise ValueError(f"--category must be one of {', '.join(CATEGORIES)}")
        where.append("has(f.Categories, {category:String})")
        params["category"] = f.category
    if f.failing:
        where.append("(length(f.Categories) > 0 OR t.HasError)")
    sql = (
        "SELECT t.TraceId AS trace_id, t.Start AS start, t.Name AS name, t.ServiceName AS service, "
        "t.Status AS status, t.DurationNs / 1e6 AS duration_ms, t.SpanCount AS spans, t.LlmCalls AS llm_calls, "
        "t.InputTokens + t.OutputTokens AS tokens, t.CostUsd AS cost_usd, t.ErrorCount AS errors, "
        "t.UserId AS user_id, t.SessionId AS session_id, t.Models AS models, t.Version AS version, "
        "f.Categories AS categories "
        f"FROM {db}.traces AS t FINAL "
        f"LEFT JOIN ({FAILURES_SUBQUERY.format(db=db)}) AS f ON f.TraceId = t.TraceId "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + f"ORDER BY {SORTS[f.sort]} LIMIT {int(f.limit)}"
    )
    return sql, params


def trace_sql(db: str) -> str:
    return f"SELECT * FROM {db}.traces FINAL WHERE TraceId = {{trace_id:String}} ORDER BY Version DESC LIMIT 1"


def spans_sql(db: str) -> str:
    return (
        "SELECT SpanId, ParentSpanId, SpanName, Kind, Timestamp, Duration, StatusCode, StatusMessage, "
        "Model, InputTokens, OutputTokens, CachedTokens, CostUsd, TtftMs, ToolName, Input, Output, Payload, "
        "PromptName, PromptVersion, Events.Name AS EventNames, Events.Attributes AS EventAttributes "
        f"FROM {db}.spans FINAL WHERE TraceId = {{trace_id:String}} ORDER BY Timestamp, SpanId"
    )


def evaluations_sql(db: str) -> str:
    return (
        "SELECT Evaluator, EvaluatorType, Status, Score, Label, Reason, FailureCategory, SpanId, Evidence, "
        "JudgeModel, JudgeCostUsd, LatencyMs "
        f"FROM {db}.evaluations FINAL WHERE TraceId = {{trace_id:String}} "
        "ORDER BY Status = 'failed' DESC, Evaluator"
    )


def resolve_trace_id_sql(db: str) -> str:
    """Full trace ids starting with a prefix (so `glassbox trace 4bf92f` works)."""
    return f"SELECT DISTINCT TraceId FROM {db}.traces WHERE startsWith(TraceId, {{prefix:String}}) LIMIT 5"

"""A stored trace, read back from ClickHouse as an AssembledTrace (for `glassbox evaluate TRACE_ID`).

Spans come from the ``spans`` table (payload, input, output and metadata are stored as JSON
text) and are assembled again with the assembler's own function, so metrics are computed the
same way; the version is the stored trace's. Free-form span attributes are not restored. The
route baseline is computed in SQL from the traces of the same route in the window before it.
"""

from __future__ import annotations

import json
from typing import Any

from glassbox.assembler.metrics import assemble
from glassbox.models.evaluation import RouteBaseline
from glassbox.models.trace import AssembledTrace

SPANS_SQL = (
    "SELECT SpanId, ParentSpanId, SpanName, Kind, toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, "
    "StatusCode, StatusMessage, ServiceName, Environment, Release, SessionId, UserId, Cohort, Tags, Metadata, "
    "Input, Output, Payload, Events.Name AS EventNames, "
    "arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS EventTimes, Events.Attributes AS EventAttributes "
    "FROM {db}.spans FINAL WHERE TraceId = {{trace_id:String}} ORDER BY Timestamp, SpanId"
)
TRACE_SQL = (
    "SELECT Version, Status, AssembledAt FROM {db}.traces FINAL WHERE TraceId = {{trace_id:String}} "
    "ORDER BY Version DESC LIMIT 1"
)
BASELINE_SQL = (
    "SELECT count() AS n, quantileExact(0.99)(DurationNs) / 1e6, quantileExact(0.99)(InputTokens + OutputTokens), "
    "quantileExact(0.99)(CostUsd) FROM {db}.traces FINAL "
    "WHERE ServiceName = {{service:String}} AND Name = {{name:String}} AND TraceId != {{trace_id:String}} "
    "AND Start < fromUnixTimestamp64Nano({{start:Int64}}) "
    "AND Start >= fromUnixTimestamp64Nano({{start:Int64}}) - toIntervalSecond({{window:UInt32}})"
)


def _json(text: str) -> Any:
    return json.loads(text) if text else None


def span_from_row(trace_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """The wire-form span event of one ``spans`` row (also used by datasets and replays). Pure."""
    start = int(row["StartNs"])
    span: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": trace_id,
        "span_id": row["SpanId"],
        "parent_span_id": row["ParentSpanId"] or None,
        "name": row["SpanName"] or "span",
        "kind": row["Kind"] or "span",
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + int(row["Duration"]),
        "status": {"code": str(row["StatusCode"]).lower() or "unset", "message": row["StatusMessage"] or None},
        "resource": {
            "service.name": row["ServiceName"] or "unknown_service",
            "deployment.environment.name": row["Environment"] or None,
            "service.version": row["Release"] or None,
        },
        "session_id": row["SessionId"] or None,
        "user_id": row["UserId"] or None,
        "cohort": row["Cohort"] or None,
        "tags": list(row["Tags"]),
        "metadata": _json(row["Metadata"]) or {},
        "input": _json(row["Input"]),
        "output": _json(row["Output"]),
        "events": [
            {"name": name, "time_unix_nano": int(at), "attributes": dict(attrs)}
            for name, at, attrs in zip(row["EventNames"], row["EventTimes"], row["EventAttributes"], strict=False)
        ],
    }
    if span["kind"] != "span":
        span["payload"] = _json(row["Payload"]) or {}
    return span


def load_trace(client: Any, database: str, trace_id: str) -> AssembledTrace | None:
    """The latest stored version of a trace, or None when it is not stored."""
    params = {"trace_id": trace_id}
    result = client.query(SPANS_SQL.format(db=database), parameters=params)
    rows = [dict(zip(result.column_names, r, strict=True)) for r in result.result_rows]
    if not rows:
        return None
    meta = client.query(TRACE_SQL.format(db=database), parameters=params).result_rows
    version, status = (int(meta[0][0]), str(meta[0][1])) if meta else (1, "complete")
    spans = [span_from_row(trace_id, row) for row in rows]
    end = max(s["end_time_unix_nano"] for s in spans)
    return AssembledTrace.model_validate(
        assemble(spans, version=version, complete=status == "complete", assembled_at_ns=end)
    )


def load_baseline(client: Any, database: str, trace: AssembledTrace, window_s: float) -> RouteBaseline:
    """The route's p99 latency, tokens and cost over the stored traces in the window before ``trace``."""
    row = client.query(
        BASELINE_SQL.format(db=database),
        parameters={
            "service": trace.service_name,
            "name": trace.name,
            "trace_id": trace.trace_id,
            "start": trace.start_time_unix_nano,
            "window": int(window_s),
        },
    ).result_rows[0]
    count = int(row[0])
    return RouteBaseline(
        route=f"{trace.service_name}/{trace.name}",
        samples=count,
        window_s=window_s,
        latency_p99_ms=float(row[1]) if count else None,
        tokens_p99=float(row[2]) if count else None,
        cost_p99_usd=float(row[3]) if count else None,
    )

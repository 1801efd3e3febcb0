"""A stored trace read back from ClickHouse as an AssembledTrace (for dataset items and replays).

The spans come from the ``spans`` table (payload, input, output and metadata are stored there
as JSON text) and are assembled again with the assembler's own function, so the metrics are the
ones the pipeline computed; the version is the stored trace's. Free-form span attributes are not
restored.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from glassbox.models.span import parse_span, span_to_dict
from glassbox.models.trace import AssembledTrace

SPANS_SQL = (
    "SELECT SpanId, ParentSpanId, SpanName, Kind, toUnixTimestamp64Nano(Timestamp) AS StartNs, Duration, "
    "StatusCode, StatusMessage, ServiceName, Environment, Release, SessionId, UserId, Cohort, Tags, Metadata, "
    "Input, Output, Payload, Events.Name AS EventNames, "
    "arrayMap(t -> toUnixTimestamp64Nano(t), Events.Timestamp) AS EventTimes, Events.Attributes AS EventAttributes "
    "FROM {db}.spans FINAL WHERE TraceId = {trace_id:String} ORDER BY Timestamp, SpanId"
)
TRACE_SQL = (
    "SELECT max(Version) AS Version, any(Status) AS Status FROM {db}.traces FINAL WHERE TraceId = {trace_id:String}"
)


def _json(text: str) -> Any:
    return json.loads(text) if text else None


def span_from_row(trace_id: str, row: dict[str, Any]) -> dict[str, Any]:
    """The wire-form span event of one ``spans`` row. Pure."""
    start = int(row["StartNs"])
    span: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": trace_id,
        "span_id": row["SpanId"],
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
    if row["ParentSpanId"]:
        span["parent_span_id"] = row["ParentSpanId"]
    if span["kind"] != "span":
        span["payload"] = _json(row["Payload"]) or {}
    return span


def load_trace(backend: Any, trace_id: str) -> AssembledTrace | None:
    """The latest stored version of a trace (None when no span of it is stored); unreadable spans are left out."""
    from glassbox.assembler.metrics import assemble

    rows = backend.rows(SPANS_SQL, {"trace_id": trace_id})
    spans = []
    for row in rows:
        try:
            spans.append(span_to_dict(parse_span(span_from_row(trace_id, row))))
        except ValidationError:
            continue
    if not spans:
        return None
    meta = backend.rows(TRACE_SQL, {"trace_id": trace_id})
    version = int(meta[0]["Version"] or 1) if meta else 1
    status = str(meta[0]["Status"] or "complete") if meta else "complete"
    end = max(s["end_time_unix_nano"] for s in spans)
    return AssembledTrace.model_validate(
        assemble(spans, version=max(version, 1), complete=status != "incomplete", assembled_at_ns=end)
    )

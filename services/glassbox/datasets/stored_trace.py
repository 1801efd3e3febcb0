"""A stored trace read back from ClickHouse as an AssembledTrace (for dataset items and replays).

The spans come from the ``spans`` table (payload, input, output and metadata are stored there
as JSON text) and are assembled again with the assembler's own function, so the metrics are the
ones the pipeline computed; the version is the stored trace's. Free-form span attributes are not
restored.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from glassbox.evaluators.stored import SPANS_SQL as STORED_SPANS_SQL
from glassbox.evaluators.stored import span_from_row
from glassbox.models.span import parse_span, span_to_dict
from glassbox.models.trace import AssembledTrace

SPANS_SQL = STORED_SPANS_SQL.format(db="{db}")
"""The trace's spans, with ``{db}`` left for :meth:`Backend.rows` to fill."""
TRACE_SQL = (
    "SELECT max(Version) AS Version, any(Status) AS Status FROM {db}.traces FINAL WHERE TraceId = {trace_id:String}"
)


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

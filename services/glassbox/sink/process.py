"""One Kafka message → the rows it adds to each table (pure; never raises on bad input).

* spans topic: decoded with :func:`decode_span_message`; valid spans become ``spans``
  rows, their scores ``evaluations`` rows. Rejected elements are skipped and counted:
  the assembler dead-letters them, so the sink does not do it twice.
* traces, evaluation-results, dead-letters and pipeline-metrics topics: validated with their
  pydantic model; an invalid message becomes a ``dead_letters`` row (stage ``sink``). A metrics
  report becomes one ``pipeline_metrics`` row per point.

Every row keeps the element it came from (:class:`PendingRow`), so a row ClickHouse
later refuses can be dead-lettered with its own bytes (:func:`storage_failure_row`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pydantic_core
from pydantic import BaseModel, ValidationError

from glassbox.models.deadletter import DeadLetter, dead_letter_id, dead_letter_of
from glassbox.models.evaluation import EvaluationResult
from glassbox.models.messages import Rejected, RejectReason, decode_span_message, summarize_validation_error
from glassbox.models.metrics import PipelineMetrics
from glassbox.models.trace import TraceForStorage
from glassbox.sink.rows import dead_letter_row, evaluation_row, metrics_rows, trace_row
from glassbox.sink.span_rows import score_rows, span_row
from glassbox.sink.tables import DEAD_LETTERS, EVALUATIONS, PIPELINE_METRICS, SPANS, TRACES, Source

SINK_STAGE = "sink"


class TopicRole(StrEnum):
    """What a subscribed topic carries, which decides how its messages are decoded."""

    SPANS = "spans"
    TRACES = "traces"
    RESULTS = "evaluation_results"
    DEAD_LETTERS = "dead_letters"
    METRICS = "pipeline_metrics"


@dataclass(slots=True)
class PendingRow:
    """A row waiting for its insert, with the message element it came from."""

    row: list[Any]
    source: Source
    index: int
    """Element index inside the message (-1: the whole message)."""
    value: bytes
    """The message value (shared by its rows, nothing else kept alive): dead-lettered if ClickHouse refuses the row."""


@dataclass(slots=True)
class MessageRows:
    rows: dict[str, list[PendingRow]] = field(default_factory=dict)
    """Table name → rows, in message order."""
    rejected_elements: int = 0
    """Span elements the decoder rejected (skipped here; the assembler dead-letters them)."""
    invalid: bool = False
    """The whole message was invalid and became a dead letter."""

    def add(self, table: str, row: PendingRow) -> None:
        self.rows.setdefault(table, []).append(row)


_MODELS: dict[TopicRole, tuple[type[BaseModel], str, Any]] = {
    TopicRole.TRACES: (TraceForStorage, TRACES.name, lambda m, src: [trace_row(m, src)]),
    TopicRole.RESULTS: (EvaluationResult, EVALUATIONS.name, lambda m, src: [evaluation_row(m, src)]),
    TopicRole.DEAD_LETTERS: (DeadLetter, DEAD_LETTERS.name, lambda m, src: [dead_letter_row(m, src)]),
    TopicRole.METRICS: (PipelineMetrics, PIPELINE_METRICS.name, metrics_rows),
}
"""Role → (model, table, function from the validated model to its rows)."""


INTERNAL_MAX_BYTES = 16 * 1024 * 1024
"""Size limit of messages on Glassbox's own topics (traces, results, dead letters): ``max_bytes`` guards the
spans topic, which applications write to; records on the other topics are capped where they are made."""


def process_message(role: TopicRole, value: bytes | None, source: Source, *, max_bytes: int) -> MessageRows:
    """The rows one message adds, per table."""
    out = MessageRows()
    if role is TopicRole.SPANS:
        decoded = decode_span_message(value, source.key, max_bytes=max_bytes, elements=False)
        out.rejected_elements = len(decoded.rejected)
        raw = value or b""
        for span, index in zip(decoded.spans, decoded.indexes, strict=True):
            out.add(SPANS.name, PendingRow(span_row(span, source), source, index, raw))
            for row in score_rows(span, source):
                out.add(EVALUATIONS.name, PendingRow(row, source, index, raw))
        return out
    model, table, to_rows = _MODELS[role]
    parsed = _validate(model, value, max(max_bytes, INTERNAL_MAX_BYTES))
    if isinstance(parsed, Rejected):
        out.invalid = True
        out.add(DEAD_LETTERS.name, invalid_message_row(parsed, source))
    else:
        for row in to_rows(parsed, source):
            out.add(table, PendingRow(row, source, -1, value or b""))
    return out


def invalid_message_row(rejected: Rejected, source: Source) -> PendingRow:
    """The ``dead_letters`` row of a message (or element) the sink could not read."""
    letter = dead_letter_of(rejected, SINK_STAGE, source)
    return PendingRow(dead_letter_row(letter, source), source, rejected.index, rejected.raw)


def processing_failure(value: bytes | None, source: Source, exc: BaseException) -> MessageRows:
    """The rows of a message whose processing raised (a bug): one dead letter, error type 'processing'."""
    out = MessageRows(invalid=True)
    reason = f"the sink could not process the message: {exc!r}"
    out.add(DEAD_LETTERS.name, invalid_message_row(Rejected(-1, RejectReason.PROCESSING, reason, value or b""), source))
    return out


def storage_failure_row(table: str, pending: PendingRow, error: str) -> PendingRow:
    """The ``dead_letters`` row of a row ClickHouse refused (error type 'storage').

    Its id is deterministic per (source message, element, table), so refusing the same
    row again after a restart collapses into the same dead letter.
    """
    src = pending.source
    reason = f"ClickHouse refused the {table} row: {error}"
    rejected = Rejected(pending.index, RejectReason.STORAGE, reason, element_bytes(pending.value, pending.index))
    letter = dead_letter_of(rejected, SINK_STAGE, src)
    letter = letter.model_copy(
        update={"id": dead_letter_id(src.topic, src.partition, src.offset, pending.index, f"{SINK_STAGE}.{table}")}
    )
    return PendingRow(dead_letter_row(letter, src), src, pending.index, rejected.raw)


def element_bytes(value: bytes, index: int) -> bytes:
    """The bytes of element ``index`` of a message (the whole message for -1 or a single object)."""
    if index < 0:
        return value
    try:
        doc = pydantic_core.from_json(value)
    except ValueError:
        return value
    if not isinstance(doc, list) or index >= len(doc):
        return value
    return pydantic_core.to_json(doc[index])


def _validate(model: type[BaseModel], value: bytes | None, max_bytes: int) -> Any:
    if not value:
        return Rejected(-1, RejectReason.EMPTY, "message has no value", b"")
    if len(value) > max_bytes:
        reason = f"message of {len(value)} bytes exceeds the limit of {max_bytes} bytes"
        return Rejected(-1, RejectReason.OVERSIZED, reason, value)
    try:
        return model.model_validate_json(value)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        if any(e["type"] == "json_invalid" for e in errors):
            kind = RejectReason.MALFORMED_JSON
        elif any(tuple(e["loc"]) == ("schema_version",) for e in errors):
            kind = RejectReason.UNKNOWN_VERSION
        else:
            kind = RejectReason.INVALID
        return Rejected(-1, kind, f"invalid {model.__name__}: {summarize_validation_error(exc)}", value)
    except (ValueError, RecursionError) as exc:
        return Rejected(-1, RejectReason.INVALID, f"cannot validate {model.__name__}: {exc}", value)

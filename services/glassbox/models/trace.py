"""The assembled trace: what the assembler emits once a trace is complete."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import ConfigDict, Field, JsonValue

from glassbox.models.ids import SpanId, TraceId
from glassbox.models.span import SpanEvent, _Model


class TraceStatus(StrEnum):
    COMPLETE = "complete"
    """The root span ended and the grace period passed without new spans."""
    INCOMPLETE = "incomplete"
    """Emitted after the inactivity timeout without an ended root span."""


class TraceMetrics(_Model):
    """Trace-level figures computed from the spans."""

    duration_ns: int = Field(0, ge=0)
    """Wall time from the earliest span start to the latest span end."""
    span_count: int = Field(0, ge=0)
    depth: int = Field(0, ge=0)
    """Longest parent chain (a lone root has depth 1)."""
    llm_calls: int = Field(0, ge=0)
    input_tokens: int = Field(0, ge=0)
    output_tokens: int = Field(0, ge=0)
    cached_input_tokens: int = Field(0, ge=0)
    reasoning_tokens: int = Field(0, ge=0)
    cost_usd: float = Field(0.0, ge=0)
    first_ttft_ms: float | None = None
    """Time to first token of the first streamed generation."""
    llm_time_ns: int = Field(0, ge=0)
    """Sum of generation span durations."""
    error_count: int = Field(0, ge=0)
    tool_calls: int = Field(0, ge=0)
    tool_errors: int = Field(0, ge=0)
    retrievals: int = Field(0, ge=0)
    empty_retrievals: int = Field(0, ge=0)
    embeddings: int = Field(0, ge=0)
    guardrail_failures: int = Field(0, ge=0)
    agent_steps: int = Field(0, ge=0)
    critical_path: list[str] = Field(default_factory=list)
    """Span ids from the root down the chain of children that finished last."""
    critical_path_names: list[str] = Field(default_factory=list)
    max_repeated_tool_calls: int = Field(0, ge=0)
    """Most calls of one tool with identical arguments (a loop signal when > 1)."""
    repeated_tool: str | None = None
    """The tool behind max_repeated_tool_calls."""
    orphan_spans: int = Field(0, ge=0)
    """Spans whose parent never arrived."""


class TraceSummary(_Model):
    """Every field of an assembled trace but its spans."""

    schema_version: Literal[1] = 1
    trace_id: TraceId
    version: int = Field(ge=1)
    """1 for the first emission; late spans produce higher versions of the same trace."""
    status: TraceStatus
    root_span_id: SpanId | None = None
    name: str = ""
    """Name of the root span (or of the earliest span when there is no root)."""
    service_name: str = "unknown_service"
    environment: str | None = None
    release: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    cohort: str | None = None
    tags: list[str] = Field(default_factory=list)
    models: list[str] = Field(default_factory=list)
    prompt_versions: list[str] = Field(default_factory=list)
    """name@version of every managed prompt used."""
    start_time_unix_nano: int
    end_time_unix_nano: int
    has_error: bool = False
    input: JsonValue = None
    """Input of the root span."""
    output: JsonValue = None
    """Output of the root span."""
    metrics: TraceMetrics = Field(default_factory=TraceMetrics)
    spans_truncated: bool = False
    """True when span payloads were cut to keep the message under the size limit."""
    assembled_at_unix_nano: int = 0


class AssembledTrace(TraceSummary):
    """What the assembler emits: the summary and every span."""

    spans: list[SpanEvent] = Field(default_factory=list)


class TraceForStorage(TraceSummary):
    """An assembled trace as the sink reads it: every summary field checked, the spans skipped unread.

    The sink stores no span from a trace message (the ``spans`` table is filled from the spans topic,
    validated there). Validating the spans again cost as much as the rest of the sink's work, and even
    reading them into Python objects unvalidated took 18 of 33 µs per 5 kB trace: with ``extra="ignore"``
    the JSON parser steps over the ``spans`` array without building it. The traces topic is written by the
    assembler alone, so ignoring other unknown keys hides no producer's mistake."""

    model_config = ConfigDict(extra="ignore")

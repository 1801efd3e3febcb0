"""SpanEvent → a ``spans`` row (OTel exporter columns + typed columns), and span scores → ``evaluations`` rows.

Pure functions: a validated span in, a list of column values out (order of
:data:`glassbox.sink.tables.SPANS` columns). Payload fields go into SpanAttributes
under their OTel GenAI names, values as text (JSON for non-strings), so Grafana's
trace view shows them as span tags.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pydantic_core

from glassbox.models.span import (
    AgentPayload,
    EmbeddingPayload,
    GenerationPayload,
    GuardrailPayload,
    Resource,
    RetrievalPayload,
    SpanBase,
    SpanKind,
    StatusCode,
    ToolPayload,
)
from glassbox.sink.convert import attr_text, json_text, text_map
from glassbox.sink.tables import Source

OTEL_SPAN_KIND: dict[SpanKind, str] = {
    SpanKind.SPAN: "Internal",
    SpanKind.GENERATION: "Client",
    SpanKind.RETRIEVAL: "Client",
    SpanKind.TOOL: "Internal",
    SpanKind.AGENT: "Internal",
    SpanKind.EMBEDDING: "Client",
    SpanKind.GUARDRAIL: "Internal",
}
"""OTel span kind as the collector's exporter spells it: calls leaving the process are 'Client'."""

OTEL_STATUS: dict[StatusCode, str] = {StatusCode.UNSET: "Unset", StatusCode.OK: "Ok", StatusCode.ERROR: "Error"}

NONE: tuple[()] = ()
"""Every empty Array value. Array values are tuples: a row holds tens of thousands of them until its batch is
inserted, and tuples of atomic values are no work for the garbage collector, unlike lists (one shared empty
tuple is no new object at all)."""

SDK_EVALUATOR_VERSION = "1"
SDK_SCORE_STATUS = "passed"
"""Status of an application-attached score: recorded, not judged (filter EvaluatorType = 'sdk')."""


_Typed = tuple[str, str, str, int, int, int, int, float, float | None, str, str, str]
"""Typed LLM columns: operation, model, provider, input/output/cached/reasoning tokens, cost, TTFT (ms),
prompt name, prompt version, tool name."""

_NOT_LLM: dict[type, _Typed] = {
    AgentPayload: ("invoke_agent", "", "", 0, 0, 0, 0, 0.0, None, "", "", ""),
    RetrievalPayload: ("retrieval", "", "", 0, 0, 0, 0, 0.0, None, "", "", ""),
    GuardrailPayload: ("guardrail", "", "", 0, 0, 0, 0, 0.0, None, "", "", ""),
    type(None): ("", "", "", 0, 0, 0, 0, 0.0, None, "", "", ""),
}


def _typed(payload: Any) -> _Typed:
    constant = _NOT_LLM.get(type(payload))
    if constant is not None:
        return constant
    if isinstance(payload, GenerationPayload):
        return (
            payload.operation,
            payload.response_model or payload.request_model or "",
            payload.provider or "",
            payload.input_tokens or 0,
            payload.output_tokens or 0,
            payload.cached_input_tokens or 0,
            payload.reasoning_tokens or 0,
            payload.cost_usd or 0.0,
            payload.time_to_first_token_ms,
            payload.prompt_name or "",
            payload.prompt_version or "",
            "",
        )
    if isinstance(payload, EmbeddingPayload):
        model, provider = payload.request_model or "", payload.provider or ""
        return ("embeddings", model, provider, payload.input_tokens or 0, 0, 0, 0, payload.cost_usd or 0.0,
                None, "", "", "")  # fmt: skip
    if isinstance(payload, ToolPayload):
        return ("execute_tool", "", "", 0, 0, 0, 0, 0.0, None, "", "", payload.name)
    return _NOT_LLM[type(None)]


def _not_empty(value: Any) -> bool:
    """Payload fields worth an attribute: set, and not an empty object or list."""
    return value is not None and not (type(value) in (dict, list) and not value)


def span_attributes(span: SpanBase, payload_doc: dict[str, Any]) -> dict[str, str]:
    """The SpanAttributes map: the span's own attributes, then payload fields and Glassbox envelope fields."""
    attrs = text_map(span.attributes) if span.attributes else {}
    for key, value in payload_doc.items():
        if _not_empty(value):
            attrs[key] = value if type(value) is str else attr_text(value)
    attrs["glassbox.span.kind"] = str(getattr(span, "kind", SpanKind.SPAN))
    if span.session_id:
        attrs["gen_ai.conversation.id"] = span.session_id
    if span.user_id:
        attrs["user.id"] = span.user_id
    if span.cohort:
        attrs["glassbox.cohort"] = span.cohort
    if span.tags:
        attrs["glassbox.tags"] = json_text(span.tags)
    if span.metadata:
        attrs["glassbox.metadata"] = json_text(span.metadata)
    if span.input is not None:
        attrs["glassbox.input"] = attr_text(span.input)
    if span.output is not None:
        attrs["glassbox.output"] = attr_text(span.output)
    if span.dropped_attributes_count:
        attrs["glassbox.dropped_attributes_count"] = str(span.dropped_attributes_count)
    if span.truncations:
        attrs["glassbox.truncations"] = json_text([t.model_dump(mode="json") for t in span.truncations])
    return attrs


def resource_attributes(resource: Resource) -> dict[str, str]:
    """The ResourceAttributes map, under the OTel names (what ``resource.model_dump(by_alias=True)`` gives)."""
    attrs = {"service.name": resource.service_name}
    if resource.environment is not None:
        attrs["deployment.environment.name"] = resource.environment
    if resource.release is not None:
        attrs["service.version"] = resource.release
    if resource.sdk_name is not None:
        attrs["telemetry.sdk.name"] = resource.sdk_name
    if resource.sdk_version is not None:
        attrs["telemetry.sdk.version"] = resource.sdk_version
    return attrs


def span_row(span: SpanBase, source: Source) -> list[Any]:
    """One ``spans`` row. Timestamps are integer nanoseconds (DateTime64(9) keeps them exactly)."""
    kind: SpanKind = getattr(span, "kind", SpanKind.SPAN)
    payload = getattr(span, "payload", None)
    payload_json, payload_doc = "{}", {}
    if payload is not None:
        # The Payload column's JSON straight from the model, then parsed for the attributes: 1.5 µs a span less
        # than model_dump(mode="json") and to_json of that (the same JSON and the same document either way).
        payload_json = payload.model_dump_json(by_alias=True, exclude_none=True)
        payload_doc = pydantic_core.from_json(payload_json)
    (operation, model, provider, input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_usd, ttft_ms,
     prompt_name, prompt_version, tool_name) = _typed(payload)  # fmt: skip
    resource = span.resource
    events = span.events
    return [
        span.start_time_unix_nano,
        span.trace_id,
        span.span_id,
        span.parent_span_id or "",
        "",
        span.name,
        OTEL_SPAN_KIND[kind],
        resource.service_name,
        resource_attributes(resource),
        resource.sdk_name or "glassbox",
        resource.sdk_version or "",
        span_attributes(span, payload_doc),
        span.duration_ns,
        OTEL_STATUS[span.status.code],
        span.status.message or "",
        tuple(e.time_unix_nano for e in events) if events else NONE,
        tuple(e.name for e in events) if events else NONE,
        tuple(text_map(e.attributes) for e in events) if events else NONE,
        NONE,
        NONE,
        NONE,
        NONE,
        kind.value,
        operation,
        model,
        provider,
        input_tokens,
        output_tokens,
        cached_tokens,
        reasoning_tokens,
        cost_usd,
        ttft_ms,
        prompt_name,
        prompt_version,
        span.user_id or "",
        span.session_id or "",
        span.cohort or "",
        resource.environment or "",
        resource.release or "",
        tuple(span.tags) if span.tags else NONE,
        tool_name,
        span.is_error,
        json_text(span.input),
        json_text(span.output),
        payload_json,
        json_text(span.metadata) if span.metadata else "",
        bool(span.truncations),
        span.dropped_attributes_count,
        *source.metadata(),
    ]


def sdk_evaluation_id(trace_id: str, span_id: str, name: str) -> str:
    """Deterministic id of a span score, so a replayed span maps to the same evaluation row."""
    return hashlib.sha256(f"sdk:{trace_id}:{span_id}:{name}".encode()).hexdigest()[:32]


def score_rows(span: SpanBase, source: Source) -> list[list[Any]]:
    """One ``evaluations`` row per score attached to the span (EvaluatorType 'sdk', evaluator = score name)."""
    if not span.scores:
        return []
    payload = getattr(span, "payload", None)
    prompt_versions = (
        [f"{payload.prompt_name}@{payload.prompt_version}"]
        if isinstance(payload, GenerationPayload) and payload.prompt_name and payload.prompt_version
        else []
    )
    evidence = json_text({"span_name": span.name})
    return [
        [
            sdk_evaluation_id(span.trace_id, span.span_id, score.name),
            span.trace_id,
            0,
            span.span_id,
            score.name,
            SDK_EVALUATOR_VERSION,
            "sdk",
            SDK_SCORE_STATUS,
            score.value,
            "",
            score.comment or "",
            "",
            evidence,
            span.resource.service_name,
            span.resource.environment or "",
            prompt_versions,
            "",
            0,
            0,
            0.0,
            0.0,
            span.end_time_unix_nano,
            *source.metadata(),
        ]
        for score in span.scores
    ]

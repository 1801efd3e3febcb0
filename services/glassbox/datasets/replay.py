"""Replaying a stored generation: the exact messages and parameters again, with overrides, traced as a new run.

The generation span (``--span ID``, else the trace's last generation) holds what the model was
sent: the messages, the model and its provider, and the request parameters (temperature, top_p,
max_tokens, stop, seed, penalties, response_format, tools and the rest). The replay sends the same
through litellm, changing only what was overridden: ``model``, ``temperature``, ``api_base``, or a
registered prompt version. For a prompt, the variables of the original call are recovered by
matching the original prompt version's template against the sent messages (or given with
``variables``); the new version is rendered with them. The call is traced as a new trace tagged
``replay_of:<trace id>`` and stored like any trace (see :mod:`glassbox.datasets.trace_writer`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from glassbox.datasets.prompt_template import Prompt
from glassbox.evaluators.view import generation_output
from glassbox.models.span import GenerationSpan
from glassbox.models.trace import AssembledTrace

PARAMETER_FIELDS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_tokens",
    "stop_sequences": "stop",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
    "response_format": "response_format",
    "tool_definitions": "tools",
}
"""Generation payload field → litellm argument."""
OTEL_TO_LITELLM = {"azure.ai.openai": "azure", "azure.ai.inference": "azure_ai", "aws.bedrock": "bedrock",
                   "aws.sagemaker": "sagemaker", "gcp.vertex_ai": "vertex_ai", "gcp.gemini": "gemini",
                   "mistral_ai": "mistral", "x_ai": "xai", "ibm.watsonx.ai": "watsonx"}  # fmt: skip
"""OTel gen_ai.provider.name → litellm provider prefix (others are spelled the same)."""


class ReplayError(ValueError):
    """The trace has no generation to replay, or the override cannot be applied."""


@dataclass
class Call:
    """One side of the comparison: what was sent and what came back."""

    model: str
    messages: list[dict[str, Any]]
    parameters: dict[str, Any]
    prompt: str = ""
    output: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    trace_id: str = ""
    span_id: str = ""
    error: str = ""
    notes: list[str] = field(default_factory=list)


def pick_generation(trace: AssembledTrace, span_ref: str | None = None) -> GenerationSpan:
    """The generation span with id (prefix) ``span_ref``, else the trace's last generation."""
    generations = sorted((s for s in trace.spans if isinstance(s, GenerationSpan)),
                         key=lambda s: (s.end_time_unix_nano, s.span_id))  # fmt: skip
    if not generations:
        raise ReplayError(f"trace {trace.trace_id} has no generation span to replay")
    if span_ref is None:
        return generations[-1]
    matches = [s for s in generations if s.span_id.startswith(span_ref.lower())]
    if len(matches) != 1:
        ids = ", ".join(f"{s.span_id} ({s.name})" for s in generations)
        raise ReplayError(f"{len(matches)} generation spans match {span_ref!r}; the trace has: {ids}")
    return matches[0]


def litellm_model(span: GenerationSpan) -> str:
    """The model name litellm needs: the recorded request model, prefixed with its provider when it has none."""
    payload = span.payload
    model = payload.request_model or payload.response_model or ""
    if not model:
        raise ReplayError(f"generation span {span.span_id} recorded no model; pass --model")
    provider = payload.provider
    if "/" in model or not provider:
        return model
    return f"{OTEL_TO_LITELLM.get(provider, provider)}/{model}"


def original_call(trace: AssembledTrace, span: GenerationSpan) -> Call:
    """What the stored generation sent and got back. Pure."""
    payload = span.payload
    if not payload.input_messages:
        raise ReplayError(f"generation span {span.span_id} has no captured messages (capture_io was off?)")
    parameters: dict[str, Any] = {}
    for name, argument in PARAMETER_FIELDS.items():
        value = getattr(payload, name)
        if value is not None:
            parameters[argument] = value
    for key, value in payload.parameters.items():
        parameters.setdefault(key, value)
    prompt = f"{payload.prompt_name}@{payload.prompt_version}" if payload.prompt_name else ""
    return Call(
        model=litellm_model(span),
        messages=[m.model_dump(mode="json", exclude_none=True) for m in payload.input_messages],
        parameters=parameters,
        prompt=prompt,
        output=generation_output(span),
        input_tokens=payload.input_tokens,
        output_tokens=payload.output_tokens,
        cost_usd=payload.cost_usd,
        latency_ms=span.duration_ns / 1e6,
        trace_id=trace.trace_id,
        span_id=span.span_id,
    )


def with_overrides(
    original: Call,
    *,
    model: str | None = None,
    temperature: float | None = None,
    prompt: Prompt | None = None,
    sources: list[Prompt] | None = None,
    variables: dict[str, str] | None = None,
) -> Call:
    """The call to make: the original with the overrides applied (notes say what changed). Pure.

    With ``prompt``, the variables come from ``variables``, then from the first of ``sources`` (registered
    versions: the original call's own first) whose template renders exactly the sent messages.
    """
    call = Call(model=original.model, messages=[dict(m) for m in original.messages],
                parameters=dict(original.parameters), prompt=original.prompt)  # fmt: skip
    if prompt is not None:
        values = dict(variables or {})
        if not all(v in values for v in prompt.variables):
            for source in sources or []:
                recovered = source.extract(original.messages)
                if recovered is not None:
                    values = {**recovered, **values}
                    call.notes.append(f"variables recovered with {source.ref}")
                    break
        missing = [v for v in prompt.variables if v not in values]
        if missing:
            tried = ", ".join(s.ref for s in sources or []) or "none registered"
            raise ReplayError(
                f"cannot render {prompt.ref}: no value for {', '.join(missing)}; no registered version ({tried}) "
                "renders the sent messages, so pass --var NAME=VALUE"
            )
        rendered = prompt.render(**values)
        call.messages = rendered.messages
        call.parameters.update(rendered.parameters)
        if rendered.model and model is None:
            call.model = rendered.model
        call.prompt = prompt.ref
        call.notes.append(f"prompt {original.prompt or '(unmanaged)'} → {prompt.ref}")
    if model is not None:
        call.notes.append(f"model {original.model} → {model}")
        call.model = model
    if temperature is not None:
        call.notes.append(f"temperature {original.parameters.get('temperature', 'default')} → {temperature}")
        call.parameters["temperature"] = temperature
    return call


def litellm_arguments(call: Call, *, api_base: str | None, api_key: str | None, span_name: str) -> dict[str, Any]:
    """litellm.completion keyword arguments for ``call`` (prompt name/version as tagging metadata)."""
    kwargs: dict[str, Any] = {"model": call.model, "messages": call.messages, **call.parameters}
    metadata: dict[str, Any] = {"generation_name": span_name}
    if call.prompt:
        name, _, version = call.prompt.partition("@")
        metadata.update(prompt_name=name, prompt_version=version)
    kwargs["metadata"] = metadata
    if api_base:
        kwargs["api_base"] = api_base
        kwargs["api_key"] = api_key or "glassbox-replay"
    elif api_key:
        kwargs["api_key"] = api_key
    return kwargs


def outcome(call: Call, trace: AssembledTrace | None, started: float) -> Call:
    """``call`` with what the replayed generation returned (from its captured span)."""
    call.latency_ms = (time.perf_counter() - started) * 1000
    if trace is None:
        return call
    call.trace_id = trace.trace_id
    gens = [s for s in trace.spans if isinstance(s, GenerationSpan)]
    if gens:
        span = gens[-1]
        call.span_id = span.span_id
        call.output = call.output or generation_output(span)
        call.input_tokens = span.payload.input_tokens
        call.output_tokens = span.payload.output_tokens
        call.cost_usd = span.payload.cost_usd
        call.latency_ms = span.duration_ns / 1e6
    return call

"""``glassbox replay`` as a function: load the stored generation, apply the overrides, call, trace, store."""

from __future__ import annotations

import time
from typing import Any

import glassbox
from glassbox.datasets.backend import Backend
from glassbox.datasets.capture import assemble_events, capturing_client, litellm_captured
from glassbox.datasets.from_traces import TraceNotFoundError, resolve_trace_id
from glassbox.datasets.prompt_template import Prompt
from glassbox.datasets.prompts import PromptNotFoundError, PromptRegistry, parse_prompt_ref
from glassbox.datasets.replay import Call, litellm_arguments, original_call, outcome, pick_generation, with_overrides
from glassbox.datasets.trace_writer import TraceWriter


def replay(
    backend: Backend,
    trace_ref: str,
    span_ref: str | None = None,
    *,
    model: str | None = None,
    temperature: float | None = None,
    prompt_ref: str | None = None,
    variables: dict[str, str] | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> tuple[Call, Call]:
    """(the original call, the replayed one). The replay is a new trace tagged ``replay_of:<trace id>``."""
    from glassbox.datasets.stored_trace import load_trace

    trace_id = resolve_trace_id(backend, trace_ref)
    trace = load_trace(backend, trace_id)
    if trace is None:
        raise TraceNotFoundError(f"trace {trace_id} has no stored spans")
    span = pick_generation(trace, span_ref)
    old = original_call(trace, span)
    new_prompt = None
    sources: list[Prompt] = []
    if prompt_ref:
        registry = PromptRegistry(backend)
        name, version, label = parse_prompt_ref(prompt_ref)
        new_prompt = registry.get(name, version, label)
        sources = _sources(registry, span.payload.prompt_name, span.payload.prompt_version, new_prompt.name)
    call = with_overrides(old, model=model, temperature=temperature, prompt=new_prompt, sources=sources,
                          variables=variables)  # fmt: skip
    kwargs = litellm_arguments(call, api_base=api_base, api_key=api_key, span_name=span.name)
    kwargs.update(extra or {})
    return old, _call(backend, call, kwargs, trace_id, span.span_id)


def _sources(registry: PromptRegistry, old_name: str | None, old_version: str | None, new_name: str) -> list[Prompt]:
    """Registered versions that may have rendered the original messages: the recorded one first, then the
    other versions of the original prompt's name and of the new prompt's name, newest first."""
    out: list[Prompt] = []
    if old_name and (old_version or "").isdigit():
        try:
            out.append(registry.get(old_name, int(old_version or 0)))
        except PromptNotFoundError:
            pass
    for name in dict.fromkeys(n for n in (old_name, new_name) if n):
        out.extend(p for p in reversed(registry.versions(name)) if p not in out)
    return out


def _call(backend: Backend, call: Call, kwargs: dict[str, Any], trace_id: str, span_id: str) -> Call:
    import litellm

    litellm.suppress_debug_info = True  # its help banner would go to stdout, between us and our output
    metadata = {"replay_of": trace_id, "replay_of_span": span_id, "model": call.model, "changes": call.notes}
    with capturing_client(backend.kafka) as capture, litellm_captured():
        started = time.perf_counter()
        with glassbox.trace("replay", new_trace=True, tags=[f"replay_of:{trace_id}"], metadata=metadata) as root:
            root.update(input={"model": call.model, "messages": call.messages, "parameters": call.parameters})
            try:
                response = litellm.completion(**kwargs)
                call.output = str(response.choices[0].message.content or "")
                root.update(output=call.output)
            except Exception as exc:
                root.record_exception(exc)
                call.error = f"{type(exc).__name__}: {exc}"[:2000]
        glassbox.flush(10.0)
        trace = assemble_events(capture.take(root.trace_id_hex))
        if trace is not None:
            writer = TraceWriter(backend)
            try:
                writer.store(trace, [])
            finally:
                writer.close()
    return outcome(call, trace, started)

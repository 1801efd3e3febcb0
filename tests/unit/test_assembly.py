"""Pure trace assembly: metrics, completion rules, versions, and the size cap on emitted traces."""

from __future__ import annotations

import json
from typing import Any

from glassbox.assembler.metrics import assemble, compute_metrics
from glassbox.assembler.state import (
    AddResult,
    Decision,
    Timing,
    TraceState,
    decide,
    emit,
    encode_trace,
    next_check,
    read_header,
)
from glassbox.models.trace import AssembledTrace

T0 = 1_790_000_000_000_000_000
MS = 1_000_000
TRACE = "ab" * 16


def span(
    sid: str,
    parent: str | None,
    start_ms: int,
    end_ms: int,
    kind: str = "span",
    *,
    payload: dict[str, Any] | None = None,
    error: bool = False,
    name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": TRACE,
        "span_id": sid * 16 if len(sid) == 1 else sid,
        "name": name or f"{kind}-{sid}",
        "kind": kind,
        "start_time_unix_nano": T0 + start_ms * MS,
        "end_time_unix_nano": T0 + end_ms * MS,
        "status": {"code": "error" if error else "ok"},
        "resource": {"service.name": "svc", "deployment.environment.name": "prod"},
        **extra,
    }
    if parent:
        out["parent_span_id"] = parent * 16 if len(parent) == 1 else parent
    if payload is not None:
        out["payload"] = payload
    return out


def agent_trace() -> list[dict[str, Any]]:
    return [
        span("a", None, 0, 1000, user_id="u1", tags=["x"], input={"q": "hi"}, output="bye"),
        span("b", "a", 10, 100, "retrieval", payload={"glassbox.retrieval.documents": []}),
        span(
            "c",
            "a",
            100,
            600,
            "generation",
            payload={
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 20,
                "gen_ai.usage.cache_read.input_tokens": 50,
                "glassbox.usage.cost_usd": 0.01,
                "glassbox.response.time_to_first_token_ms": 120.0,
                "glassbox.prompt.name": "qa",
                "glassbox.prompt.version": "2",
            },
        ),
        span(
            "d", "a", 600, 700, "tool", payload={"gen_ai.tool.name": "search", "gen_ai.tool.call.arguments": {"q": 1}}
        ),
        span(
            "e",
            "a",
            700,
            800,
            "tool",
            payload={"gen_ai.tool.name": "search", "gen_ai.tool.call.arguments": {"q": 1}},
            error=True,
        ),
        span(
            "f", "a", 800, 990, "tool", payload={"gen_ai.tool.name": "search", "gen_ai.tool.call.arguments": {"q": 1}}
        ),
        span(
            "9", "f", 810, 980, "generation", payload={"gen_ai.usage.input_tokens": 5, "glassbox.usage.cost_usd": 0.002}
        ),
        span("8", "7", 900, 950),  # orphan: its parent never arrived
    ]


def test_metrics_cover_tokens_cost_errors_tools_retrieval_depth_and_loops() -> None:
    """Every trace metric is computed from the spans."""
    m = compute_metrics(agent_trace())
    assert m["duration_ns"] == 1000 * MS
    assert m["span_count"] == 8
    assert m["depth"] == 3
    assert m["orphan_spans"] == 1
    assert (m["llm_calls"], m["input_tokens"], m["output_tokens"], m["cached_input_tokens"]) == (2, 105, 20, 50)
    assert abs(m["cost_usd"] - 0.012) < 1e-9
    assert m["first_ttft_ms"] == 120.0
    assert m["llm_time_ns"] == 500 * MS + 170 * MS
    assert (m["error_count"], m["tool_calls"], m["tool_errors"]) == (1, 3, 1)
    assert (m["retrievals"], m["empty_retrievals"]) == (1, 1)
    assert (m["max_repeated_tool_calls"], m["repeated_tool"]) == (3, "search")
    assert m["critical_path"] == ["a" * 16, "f" * 16, "9" * 16]


def test_assembled_trace_takes_trace_fields_from_the_root_and_validates() -> None:
    """The assembled trace carries the root's name, io, user and the union of tags, models and prompts."""
    trace = assemble(agent_trace(), version=1, complete=True, assembled_at_ns=T0)
    model = AssembledTrace.model_validate(trace)
    assert model.root_span_id == "a" * 16 and model.name == "span-a"
    assert (model.user_id, model.tags, model.input, model.output) == ("u1", ["x"], {"q": "hi"}, "bye")
    assert model.models == ["gpt-4o"] and model.prompt_versions == ["qa@2"]
    assert model.has_error and model.service_name == "svc" and model.environment == "prod"
    assert model.spans[0].span_id == "a" * 16


def test_state_dedups_replays_and_replaces_changed_spans() -> None:
    """A byte-identical replay is ignored; a changed span with the same id replaces the old one."""
    state = TraceState(TRACE)
    first = span("a", None, 0, 10)
    assert state.add(first, T0) is AddResult.NEW
    state.dirty = False
    assert state.add(dict(first), T0 + 1) is AddResult.DUPLICATE
    assert not state.dirty
    changed = dict(first, name="renamed")
    assert state.add(changed, T0 + 2) is AddResult.REPLACED
    assert state.dirty and state.spans["a" * 16]["name"] == "renamed"
    assert TraceState.from_bytes(state.to_bytes()) == state


def test_completion_waits_for_grace_after_root_and_inactivity_without_root() -> None:
    """Root seen: emit after the grace period of quiet; no root: emit incomplete after the inactivity timeout."""
    timing = Timing.from_seconds(grace=2, inactivity=30, late_window=60)
    with_root = TraceState(TRACE)
    with_root.add(span("a", None, 0, 10), T0)
    assert decide(with_root, T0 + 1_000 * MS, timing)[0] is Decision.WAIT
    assert next_check(with_root, timing) == T0 + 2_000 * MS
    assert decide(with_root, T0 + 2_000 * MS, timing)[0] is Decision.EMIT_COMPLETE

    rootless = TraceState(TRACE)
    rootless.add(span("b", "a", 0, 10), T0)
    assert decide(rootless, T0 + 5_000 * MS, timing)[0] is Decision.WAIT
    assert decide(rootless, T0 + 30_000 * MS, timing)[0] is Decision.EMIT_INCOMPLETE


def test_late_span_produces_a_higher_version_then_state_is_evicted() -> None:
    """After emission a late span makes the trace dirty again and the next emission is version 2."""
    timing = Timing.from_seconds(grace=1, inactivity=10, late_window=5)
    state = TraceState(TRACE)
    state.add(span("a", None, 0, 10), T0)
    first = emit(state, T0 + 1_000 * MS, complete=True)
    assert first["version"] == 1 and first["metrics"]["span_count"] == 1
    assert decide(state, T0 + 2_000 * MS, timing)[0] is Decision.WAIT
    state.add(span("b", "a", 2, 5), T0 + 3_000 * MS)
    assert decide(state, T0 + 4_000 * MS, timing)[0] is Decision.EMIT_COMPLETE
    second = emit(state, T0 + 4_000 * MS, complete=True)
    assert second["version"] == 2 and second["metrics"]["span_count"] == 2
    assert decide(state, T0 + 9_000 * MS, timing)[0] is Decision.EVICT


def test_oversized_trace_messages_are_cut_and_flagged() -> None:
    """Traces above the message cap carry cut span values (spans_truncated) and still validate."""
    spans = [span("a", None, 0, 10, input="x" * 50_000)] + [
        span(f"{i:016x}", "a", 1, 2, "generation", payload={"glassbox.completion": "y" * 20_000}) for i in range(1, 30)
    ]
    trace = assemble(spans, version=1, complete=True, assembled_at_ns=T0)
    data, whole = encode_trace(trace, 200_000)
    assert len(data) <= 200_000 and not whole
    doc = json.loads(data)
    assert doc["spans_truncated"] is True
    AssembledTrace.model_validate(doc)
    tiny, whole = encode_trace(trace, 20_000)
    assert json.loads(tiny)["spans"] == [] and json.loads(tiny)["metrics"]["span_count"] == 30 and not whole
    assert encode_trace(trace, 10_000_000)[1]


def test_table_value_of_an_emitted_trace_is_its_message_and_reads_back_the_same_state() -> None:
    """Once a trace went out whole, its table value is the emitted message behind a small header: no span is
    serialised twice, and the state read back (spans, versions, times) equals the one written."""
    state = TraceState(TRACE)
    for s in agent_trace():
        state.add(s, T0)
    trace = emit(state, T0 + 5 * MS, complete=True)
    data, whole = encode_trace(trace, 1_000_000)
    assert whole
    value = state.to_bytes(data)
    assert value.endswith(data)
    assert TraceState.from_bytes(value) == state
    assert TraceState.from_bytes(state.to_bytes()) == state  # not emitted whole: the spans as an array


def test_header_tells_when_to_look_again_without_the_spans() -> None:
    """The timer index is rebuilt from headers alone; they give what the decoded state gives."""
    timing = Timing.from_seconds(grace=2, inactivity=30, late_window=60)
    open_trace = TraceState(TRACE)
    open_trace.add(span("b", "a", 0, 10), T0)
    emitted = TraceState(TRACE)
    emitted.add(span("a", None, 0, 10), T0)
    trace = emit(emitted, T0 + 3_000 * MS, complete=True)
    for state, value in (
        (open_trace, open_trace.to_bytes()),
        (emitted, emitted.to_bytes(encode_trace(trace, 10**6)[0])),
    ):
        assert next_check(read_header(value), timing) == next_check(state, timing)


def test_table_values_of_the_previous_format_still_read() -> None:
    """A changelog written before the header format (one JSON object) recovers into the same state."""
    state = TraceState(TRACE)
    state.add(span("a", None, 0, 10), T0)
    old = json.dumps(
        {
            "trace_id": TRACE, "spans": list(state.spans.values()), "first_seen_ns": T0, "last_seen_ns": T0,
            "emitted_version": 0, "emitted_at_ns": 0, "dirty": True,
        }
    ).encode()  # fmt: skip
    assert TraceState.from_bytes(old) == state
    assert read_header(old) == state.header()

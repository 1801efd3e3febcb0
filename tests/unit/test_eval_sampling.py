"""The sampler: binding filters, deterministic per-binding sampling, errors always evaluated, request encoding,
and the rolling per-route baselines."""

from __future__ import annotations

import json

from glassbox.common.sampling import keep_trace
from glassbox.evaluators.baselines import Baselines, p99
from glassbox.evaluators.config import BaselineConfig, parse_config
from glassbox.evaluators.sampler import Sampler, Selection, encode_request
from glassbox.models.evaluation import EvaluationRequest
from tests.support.corpus import make_trace, span


def sampler_for(*bindings: dict) -> Sampler:
    return Sampler(parse_config({"bindings": list(bindings)}))


def rag(**root: object) -> object:
    top = span("answer", **root)
    return make_trace(
        top,
        span("search", "retrieval", parent=top),
        span(
            "llm",
            "generation",
            parent=top,
            payload={
                "gen_ai.request.model": "gpt-4o-mini",
                "glassbox.prompt.name": "support",
                "glassbox.prompt.version": "3",
            },
        ),
    )


def test_sampling_is_deterministic_per_binding_and_matches_keep_trace() -> None:
    """The same trace id gives the same decision every time, and it is keep_trace salted with the binding name."""
    sampler = sampler_for(
        {"name": "half", "sample_rate": 0.5, "always_on_error": False, "evaluators": ["json_validity"]}
    )
    traces = [make_trace(span("t")) for _ in range(200)]
    first = [bool(sampler.select(t)) for t in traces]
    assert first == [bool(sampler.select(t)) for t in traces]
    assert first == [keep_trace(t.trace_id, 0.5, salt="half") for t in traces]
    assert 60 < sum(first) < 140


def test_bindings_with_different_names_sample_independently() -> None:
    """Two bindings at 50% pick different subsets (the salt decorrelates them)."""
    a = sampler_for({"name": "a", "sample_rate": 0.5, "evaluators": ["json_validity"]})
    b = sampler_for({"name": "b", "sample_rate": 0.5, "evaluators": ["json_validity"]})
    traces = [make_trace(span("t")) for _ in range(200)]
    assert [bool(a.select(t)) for t in traces] != [bool(b.select(t)) for t in traces]


def test_errors_are_always_evaluated_when_the_binding_says_so() -> None:
    """At sample rate 0 an error trace is still selected with always_on_error, and not without it."""
    failing = make_trace(span("t", error="boom"))
    on = sampler_for({"name": "a", "sample_rate": 0.0, "always_on_error": True, "evaluators": ["json_validity"]})
    off = sampler_for({"name": "a", "sample_rate": 0.0, "always_on_error": False, "evaluators": ["json_validity"]})
    assert on.select(failing) and not off.select(failing)


def test_filters_on_service_kinds_model_prompt_tags_and_metadata() -> None:
    """Each filter given must hold: matching traces are selected, a trace missing one is not."""
    binding = {
        "name": "rag",
        "evaluators": ["faithfulness"],
        "match": {
            "service": ["acme-*"],
            "span_kind": ["retrieval"],
            "model": ["gpt-4o*"],
            "prompt_version": ["support@3"],
            "has_retrieval": True,
            "has_tool_calls": False,
            "tags": ["rag"],
            "metadata": {"tier": "gold"},
            "root_name": ["answer"],
            "span_name": ["search"],
            "status": "complete",
            "has_error": False,
        },
    }
    sampler = sampler_for(binding)
    assert sampler.select(rag(tags=["rag"], metadata={"tier": "gold"}))
    assert not sampler.select(rag(tags=["rag"], metadata={"tier": "free"}))
    assert not sampler.select(rag(metadata={"tier": "gold"}))
    assert not sampler.select(make_trace(span("answer", tags=["rag"], metadata={"tier": "gold"})))


def test_evaluators_are_grouped_by_delay() -> None:
    """Two matching bindings with different delays yield two selections; duplicates are merged."""
    sampler = sampler_for(
        {"name": "now", "evaluators": ["json_validity", "empty_retrieval"]},
        {"name": "later", "delay_s": 60, "evaluators": ["faithfulness"]},
        {"name": "also-now", "evaluators": ["empty_retrieval"]},
    )
    selections = sampler.select(make_trace(span("t")))
    assert selections == [
        Selection(("json_validity", "empty_retrieval"), 0.0, ("now", "also-now")),
        Selection(("faithfulness",), 60.0, ("later",)),
    ]


def test_encoded_request_wraps_the_trace_bytes_and_validates() -> None:
    """The request message embeds the trace's JSON as received and is a valid EvaluationRequest."""
    trace = make_trace(span("t"))
    raw = trace.model_dump_json().encode()
    sampler = sampler_for({"name": "a", "delay_s": 2, "evaluators": ["json_validity"]})
    baseline, selections = sampler.process(trace)
    data = encode_request(raw, selections[0], 1_000_000_000, baseline)
    request = EvaluationRequest.model_validate_json(data)
    assert request.trace == trace and request.evaluators == ["json_validity"]
    assert request.not_before_unix_nano == 3_000_000_000 and request.baseline == baseline
    assert json.loads(data)["trace"] == json.loads(raw)


def test_p99_is_the_nearest_rank() -> None:
    """p99 of 1..100 is 99; of 1..10 it is the maximum."""
    assert p99([float(i) for i in range(1, 101)]) == 99.0
    assert p99([float(i) for i in range(1, 11)]) == 10.0


def test_baseline_excludes_the_trace_itself_and_counts_samples() -> None:
    """A route's baseline is computed before the trace joins it."""
    baselines = Baselines(BaselineConfig())
    for i in range(30):
        baselines.observe("svc/answer", 1000.0 + i, 100.0 + i, 10.0, 0.001)
    trace = make_trace(span("answer", ms=5000))
    before = baselines.snapshot("acme-assistant/answer", trace.end_time_unix_nano / 1e9)
    seen = baselines.observe_trace(trace)
    assert before.samples == seen.samples == 0
    assert baselines.snapshot("svc/answer", 1030.0).latency_p99_ms == 129.0


def test_baseline_window_drops_old_samples() -> None:
    """Samples older than window_s leave the baseline."""
    baselines = Baselines(BaselineConfig(window_s=60, max_samples=1000))
    for i in range(10):
        baselines.observe("r", float(i), 5.0, 1.0, 0.0)
    baselines.observe("r", 100.0, 50.0, 1.0, 0.0)
    figures = baselines.snapshot("r", 100.0)
    assert figures.samples == 1 and figures.latency_p99_ms == 50.0


def test_only_first_versions_join_the_baseline() -> None:
    """A late span's re-emission (version 2) is not counted again."""
    baselines = Baselines(BaselineConfig())
    root = span("answer")
    baselines.observe_trace(make_trace(root, version=2))
    assert baselines.snapshot("acme-assistant/answer", 1e12).samples == 0

"""Rule evaluators, one behaviour per test, on hand-built traces."""

from __future__ import annotations

from typing import Any

from glassbox.evaluators.params import Params
from glassbox.evaluators.rules.loops import IterationLimit, IterationParams, LoopDetector, LoopParams
from glassbox.evaluators.rules.retrieval import EmptyRetrieval, RefusalParams, RefusalWithContext
from glassbox.evaluators.rules.spikes import CostSpike, LatencySpike, SpikeParams, TokenSpike
from glassbox.evaluators.rules.structure import (
    JsonValidity,
    JsonValidityParams,
    LengthBounds,
    LengthParams,
    RegexMatch,
    RegexParams,
)
from glassbox.evaluators.rules.tools import ToolArguments, UnhandledToolError
from glassbox.evaluators.types import Evaluator, Outcome
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import EvaluationStatus, RouteBaseline
from glassbox.models.trace import AssembledTrace
from tests.support.corpus import WEATHER_SCHEMA, make_trace, span

PASSED, FAILED, SKIPPED = EvaluationStatus.PASSED, EvaluationStatus.FAILED, EvaluationStatus.SKIPPED


def run(evaluator: Evaluator, trace: AssembledTrace, baseline: RouteBaseline | None = None) -> Outcome:
    return evaluator.check(TraceView(trace, baseline))


def json_trace(output: str, **payload: Any) -> AssembledTrace:
    root = span("extract")
    gen = span("llm", "generation", parent=root, payload={"glassbox.completion": output, **payload})
    return make_trace(root, gen)


def test_json_validity_passes_valid_json_when_json_was_requested() -> None:
    """gen_ai.output.type=json and a JSON completion: passed."""
    outcome = run(
        JsonValidity("j", "1", JsonValidityParams()), json_trace('{"a": 1}', **{"gen_ai.output.type": "json"})
    )
    assert outcome.status is PASSED


def test_json_validity_fails_markdown_fenced_json_and_points_at_the_generation() -> None:
    """A ```json fence where JSON was asked for is not JSON: failed, evidence names the span and the error."""
    trace = json_trace('```json\n{"a": 1}\n```', **{"glassbox.request.response_format": {"type": "json_object"}})
    outcome = run(JsonValidity("j", "1", JsonValidityParams()), trace)
    assert outcome.status is FAILED
    assert outcome.span_id == trace.spans[1].span_id
    assert outcome.evidence["problems"][0]["error"].startswith("not valid JSON")


def test_json_validity_checks_the_schema_of_the_response_format() -> None:
    """JSON missing a required field of the requested json_schema fails with the schema error path."""
    fmt = {"type": "json_schema", "json_schema": {"schema": {"type": "object", "required": ["total"]}}}
    outcome = run(
        JsonValidity("j", "1", JsonValidityParams()),
        json_trace('{"id": "x"}', **{"glassbox.request.response_format": fmt}),
    )
    assert outcome.status is FAILED
    assert outcome.evidence["problems"][0]["schema_errors"][0]["keyword"] == "required"


def test_json_validity_skips_when_nothing_asked_for_json() -> None:
    """Plain text generations are not judged (skipped, saying why)."""
    outcome = run(JsonValidity("j", "1", JsonValidityParams()), json_trace("hello"))
    assert outcome.status is SKIPPED and "structured output" in outcome.reason


def test_regex_reports_missing_and_forbidden_patterns() -> None:
    """A must-match pattern absent and a must-not-match present both fail, each listed."""
    root = span("answer", output="Sorry! Contact support@acme.io")
    params = RegexParams(must_match=[r"^answer:"], must_not_match=[r"[\w.]+@[\w.]+"], ignore_case=True)
    outcome = run(RegexMatch("r", "1", params), make_trace(root))
    assert outcome.status is FAILED
    assert outcome.evidence["forbidden"] == [r"[\w.]+@[\w.]+"] and outcome.evidence["missing"] == [r"^answer:"]


def test_length_bounds_fail_an_answer_over_the_word_limit() -> None:
    """An answer of 6 words against max_words=5 fails and says by how much."""
    outcome = run(
        LengthBounds("l", "1", LengthParams(max_words=5)), make_trace(span("a", output="one two three four five six"))
    )
    assert outcome.status is FAILED and "6 words > 5" in outcome.reason


def tool_trace(*calls: dict[str, Any], root_error: str | None = None, answer: str | None = "done") -> AssembledTrace:
    root = span("agent", error=root_error, output=answer)
    spans = [root]
    for call in calls:
        spans.append(
            span(
                call.pop("name", "get_weather"),
                "tool",
                parent=root,
                error=call.pop("error_status", None),
                payload={"gen_ai.tool.name": "get_weather", "glassbox.tool.json_schema": WEATHER_SCHEMA, **call},
            )
        )
    return make_trace(*spans)


def test_tool_arguments_pass_valid_calls() -> None:
    """Arguments satisfying the tool's JSON Schema pass."""
    trace = tool_trace({"gen_ai.tool.call.arguments": {"city": "Oslo", "units": "metric"}})
    assert run(ToolArguments("t", "1", Params()), trace).status is PASSED


def test_tool_arguments_name_each_schema_violation() -> None:
    """Missing required field, wrong enum, unknown field and wrong type are each reported with their keyword."""
    trace = tool_trace(
        {"gen_ai.tool.call.arguments": {"units": "metric"}},
        {"gen_ai.tool.call.arguments": {"city": "Oslo", "units": "kelvin"}},
        {"gen_ai.tool.call.arguments": {"city": "Oslo", "country": "NO"}},
        {"gen_ai.tool.call.arguments": {"city": 42}},
    )
    outcome = run(ToolArguments("t", "1", Params()), trace)
    assert outcome.status is FAILED and outcome.score == 0.0
    keywords = [call["errors"][0]["keyword"] for call in outcome.evidence["invalid_calls"]]
    assert sorted(keywords) == ["additionalProperties", "enum", "required", "type"]
    assert outcome.span_id == outcome.evidence["invalid_calls"][0]["span_id"]


def test_tool_arguments_read_json_string_arguments() -> None:
    """Arguments sent as a JSON string are decoded; an undecodable string is itself a violation."""
    ok = tool_trace({"gen_ai.tool.call.arguments": '{"city": "Oslo"}'})
    bad = tool_trace({"gen_ai.tool.call.arguments": "{city: Oslo"})
    assert run(ToolArguments("t", "1", Params()), ok).status is PASSED
    assert "not valid JSON" in run(ToolArguments("t", "1", Params()), bad).evidence["invalid_calls"][0]["errors"][0]


def test_unhandled_tool_error_fails_when_the_trace_ends_in_error() -> None:
    """A tool error followed by the root span failing is unhandled."""
    trace = tool_trace(
        {"gen_ai.tool.call.arguments": {"city": "Oslo"}, "glassbox.tool.error": "timeout", "error_status": "timeout"},
        root_error="TimeoutError",
    )
    outcome = run(UnhandledToolError("u", "1", Params()), trace)
    assert outcome.status is FAILED and "timeout" in outcome.reason
    assert outcome.span_id == trace.spans[1].span_id


def test_unhandled_tool_error_passes_when_a_later_call_recovers() -> None:
    """A failed call followed by a successful one, a normal end and an answer counts as handled."""
    trace = tool_trace(
        {"gen_ai.tool.call.arguments": {"city": "Oslo"}, "glassbox.tool.error": "503"},
        {"gen_ai.tool.call.arguments": {"city": "Oslo", "units": "metric"}},
    )
    assert run(UnhandledToolError("u", "1", Params()), trace).status is PASSED


def test_loop_detector_flags_identical_calls_at_the_limit() -> None:
    """Three identical calls with max_identical_calls=3 fail; the evidence counts them."""
    trace = tool_trace(*[{"gen_ai.tool.call.arguments": {"city": "Oslo"}} for _ in range(3)])
    outcome = run(LoopDetector("l", "1", LoopParams(max_identical_calls=3)), trace)
    assert outcome.status is FAILED and outcome.evidence["calls"] == 3


def test_loop_detector_allows_identical_calls_below_the_limit() -> None:
    """Two identical calls with the limit at three pass."""
    trace = tool_trace(*[{"gen_ai.tool.call.arguments": {"city": "Oslo"}} for _ in range(2)])
    assert run(LoopDetector("l", "1", LoopParams(max_identical_calls=3)), trace).status is PASSED


def test_loop_detector_flags_action_error_action_cycles() -> None:
    """A tool failing three times in a row (different arguments) is an action→error→action loop at 2 retries."""
    trace = tool_trace(
        *[{"gen_ai.tool.call.arguments": {"city": c}, "glassbox.tool.error": "503"} for c in ("Oslo", "Lima", "Kyoto")]
    )
    outcome = run(LoopDetector("l", "1", LoopParams(max_error_retries=2)), trace)
    assert outcome.status is FAILED and outcome.evidence["retries"] == 2


def test_iteration_limit_counts_agent_steps() -> None:
    """Twelve agent steps against a limit of ten fail."""
    root = span("agent")
    steps = [span("step", "agent", parent=root, payload={"glassbox.agent.iteration": i}) for i in range(12)]
    outcome = run(IterationLimit("i", "1", IterationParams(max_iterations=10)), make_trace(root, *steps))
    assert outcome.status is FAILED and outcome.evidence["iterations"] == 12


def test_iteration_limit_flags_an_agent_stopped_by_its_own_guard() -> None:
    """An agent whose steps reach its declared max_iterations was cut off: failed, naming the declared limit."""
    root = span("agent")
    steps = [
        span("step", "agent", parent=root, payload={"glassbox.agent.iteration": i, "glassbox.agent.max_iterations": 3})
        for i in range(3)
    ]
    outcome = run(IterationLimit("i", "1", IterationParams(max_iterations=10)), make_trace(root, *steps))
    assert outcome.status is FAILED and outcome.evidence["declared_limit"] == 3


def rag_trace(docs: list[dict[str, Any]], answer: str, question: str = "How do I reset my password?") -> AssembledTrace:
    root = span("rag", input={"question": question}, output={"answer": answer})
    retrieval = span("search", "retrieval", parent=root, payload={"glassbox.retrieval.documents": docs})
    return make_trace(root, retrieval)


PASSWORD_DOC = {"id": "d1", "score": 0.8, "content": "To reset your password, open Settings and choose Security."}


def test_empty_retrieval_fails_and_names_the_query() -> None:
    """A retrieval with no documents fails; the evidence carries the span."""
    trace = rag_trace([], "I could not find it.")
    outcome = run(EmptyRetrieval("e", "1", Params()), trace)
    assert outcome.status is FAILED and outcome.span_id == trace.spans[1].span_id


def test_refusal_with_relevant_documents_is_a_retrieval_failure() -> None:
    """ "I don't know" next to a document covering the question fails and lists that document."""
    outcome = run(RefusalWithContext("r", "1", RefusalParams()), rag_trace([PASSWORD_DOC], "Sorry, I don't know."))
    assert outcome.status is FAILED
    assert outcome.evidence["relevant_documents"][0]["id"] == "d1"


def test_refusal_without_relevant_documents_passes() -> None:
    """Refusing when nothing relevant came back is the right answer."""
    doc = {"id": "d2", "content": "Standard shipping takes 3 to 5 business days."}
    assert run(RefusalWithContext("r", "1", RefusalParams()), rag_trace([doc], "I don't know.")).status is PASSED


def test_a_real_answer_is_not_a_refusal() -> None:
    """An answer that answers passes the refusal rule."""
    outcome = run(
        RefusalWithContext("r", "1", RefusalParams()), rag_trace([PASSWORD_DOC], "Open Settings, then Security.")
    )
    assert outcome.status is PASSED


def spike_trace(ms: float, tokens: int = 100, cost: float = 0.001) -> AssembledTrace:
    root = span("answer", ms=ms)
    gen = span(
        "llm",
        "generation",
        parent=root,
        ms=ms / 2,
        payload={"gen_ai.usage.input_tokens": tokens, "gen_ai.usage.output_tokens": 0, "glassbox.usage.cost_usd": cost},
    )
    return make_trace(root, gen)


BASELINE = RouteBaseline(route="r", samples=100, window_s=3600, latency_p99_ms=1000, tokens_p99=500, cost_p99_usd=0.01)


def test_latency_spike_fails_above_p99_times_k_and_points_at_the_slow_span() -> None:
    """3 s against a p99 of 1 s with k=2 fails; the evidence holds the figures and the slowest child span."""
    trace = spike_trace(3000)
    outcome = run(LatencySpike("l", "1", SpikeParams(k=2)), trace, BASELINE)
    assert outcome.status is FAILED
    assert outcome.evidence["threshold"] == 2000 and outcome.evidence["p99"] == 1000
    assert outcome.span_id == trace.spans[1].span_id


def test_latency_within_the_bar_passes() -> None:
    """1.5 s against p99 × 2 = 2 s passes."""
    assert run(LatencySpike("l", "1", SpikeParams(k=2)), spike_trace(1500), BASELINE).status is PASSED


def test_spikes_skip_while_the_baseline_warms_up() -> None:
    """With fewer samples than min_samples the rule skips, saying the baseline is warming up."""
    young = BASELINE.model_copy(update={"samples": 5})
    outcome = run(CostSpike("c", "1", SpikeParams(min_samples=20)), spike_trace(10, cost=1.0), young)
    assert outcome.status is SKIPPED and outcome.reason.startswith("baseline warming up (5 of 20")


def test_token_and_cost_spikes_fail_expensive_traces() -> None:
    """10× the tokens and 10× the cost of the p99 fail both rules."""
    trace = spike_trace(10, tokens=5000, cost=0.1)
    assert run(TokenSpike("t", "1", SpikeParams()), trace, BASELINE).status is FAILED
    assert run(CostSpike("c", "1", SpikeParams()), trace, BASELINE).status is FAILED

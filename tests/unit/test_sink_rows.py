"""Pure row processors: span, trace, evaluation and dead-letter models → column values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from glassbox.common.paths import contract_dir
from glassbox.models.deadletter import DeadLetter
from glassbox.models.evaluation import EvaluationResult
from glassbox.models.span import parse_span
from glassbox.models.trace import AssembledTrace
from glassbox.sink.rows import dead_letter_row, evaluation_row, trace_row
from glassbox.sink.span_rows import score_rows, sdk_evaluation_id, span_row
from glassbox.sink.tables import DEAD_LETTERS, EVALUATIONS, SPANS, TRACES, Source
from tests.support.clickhouse import KINDS, make_span, new_trace_id

SOURCE = Source("cluster/topic", "glassbox.spans", 3, 1842, b"key")
EXAMPLES = contract_dir() / "examples"


def as_dict(columns: tuple[str, ...], row: list[Any]) -> dict[str, Any]:
    assert len(row) == len(columns)
    return dict(zip(columns, row, strict=True))


@pytest.mark.parametrize("kind", KINDS)
def test_span_row_has_a_value_for_every_column_and_the_envelope(kind: str) -> None:
    """Every kind maps to one value per spans column, with the OTel envelope and the source position."""
    span = make_span(kind, trace_id=new_trace_id(), parent="00f067aa0ba902b7", session_id="s-1", user_id="u-1")
    row = as_dict(SPANS.columns, span_row(span, SOURCE))
    assert row["Timestamp"] == span.start_time_unix_nano
    assert row["Duration"] == span.duration_ns
    assert (row["TraceId"], row["SpanId"], row["ParentSpanId"]) == (span.trace_id, span.span_id, "00f067aa0ba902b7")
    assert row["Kind"] == kind
    assert row["SpanKind"] == ("Client" if kind in {"generation", "retrieval", "embedding"} else "Internal")
    assert row["StatusCode"] == "Unset"
    assert row["ResourceAttributes"]["service.name"] == "support-bot"
    assert row["SpanAttributes"]["glassbox.span.kind"] == kind
    assert row["SpanAttributes"]["gen_ai.conversation.id"] == "s-1"
    assert row["SpanAttributes"]["user.id"] == "u-1"
    assert all(isinstance(v, str) for v in row["SpanAttributes"].values())
    assert (row["_cluster"], row["_topic"], row["_partition"], row["_offset"]) == (
        "cluster/topic",
        "glassbox.spans",
        3,
        1842,
    )


def test_generation_payload_fills_typed_columns_and_gen_ai_attributes() -> None:
    """Model prefers the response model; usage, cost, TTFT, prompt fill typed columns; attributes keep OTel names."""
    row = as_dict(SPANS.columns, span_row(make_span("generation", trace_id=new_trace_id()), SOURCE))
    assert (row["Model"], row["Provider"], row["Operation"]) == ("gpt-4o-mini-2024-07-18", "openai", "chat")
    assert (row["InputTokens"], row["OutputTokens"], row["CachedTokens"], row["ReasoningTokens"]) == (412, 23, 256, 7)
    assert (row["CostUsd"], row["TtftMs"], row["PromptName"], row["PromptVersion"]) == (
        0.0000756,
        420.5,
        "support-answer",
        "3",
    )
    attrs = row["SpanAttributes"]
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.usage.input_tokens"] == "412"
    assert attrs["glassbox.response.streamed"] == "true"
    assert attrs["gen_ai.output.messages"] == '[{"role":"assistant","content":"hello"}]'
    assert "glassbox.request.parameters" not in attrs  # empty containers are left out
    assert row["Payload"].startswith('{"gen_ai.operation.name":"chat"')


def test_error_status_events_input_output_and_truncation_are_kept() -> None:
    """Error status, events (attributes as text), JSON input/output and truncation markers survive the mapping."""
    span = make_span(
        "tool",
        trace_id=new_trace_id(),
        status={"code": "error", "message": "timeout"},
        events=[{"name": "exception", "time_unix_nano": 1_795_000_000_000_000_000, "attributes": {"retry": 2}}],
        input={"q": "hi"},
        output="done",
        metadata={"team": "a"},
        truncations=[{"path": "output", "original_bytes": 99999}],
        dropped_attributes_count=4,
        attributes={"http.status_code": 504},
    )
    row = as_dict(SPANS.columns, span_row(span, SOURCE))
    assert (row["StatusCode"], row["StatusMessage"], row["IsError"]) == ("Error", "timeout", True)
    assert row["Events.Name"] == ("exception",)
    assert row["Events.Timestamp"] == (1_795_000_000_000_000_000,)
    assert row["Events.Attributes"] == ({"retry": "2"},)
    assert (row["Input"], row["Output"], row["Metadata"]) == ('{"q":"hi"}', '"done"', '{"team":"a"}')
    assert (row["Truncated"], row["DroppedAttributes"], row["ToolName"]) == (True, 4, "lookup_order")
    attrs = row["SpanAttributes"]
    assert attrs["http.status_code"] == "504"
    assert attrs["glassbox.input"] == '{"q":"hi"}' and attrs["glassbox.output"] == "done"
    assert attrs["glassbox.truncations"] == '[{"path":"output","original_bytes":99999,"reason":"size"}]'


def test_scores_become_sdk_evaluation_rows_with_deterministic_ids() -> None:
    """Each score on a span is an 'sdk' evaluation row; its id depends only on trace, span and score name."""
    scores = [{"name": "thumbs", "value": 1.0, "comment": "nice"}, {"name": "stars", "value": 4.0}]
    span = make_span("generation", trace_id=new_trace_id(), scores=scores)
    rows = [as_dict(EVALUATIONS.columns, r) for r in score_rows(span, SOURCE)]
    assert [(r["Evaluator"], r["EvaluatorType"], r["Score"], r["Reason"]) for r in rows] == [
        ("thumbs", "sdk", 1.0, "nice"),
        ("stars", "sdk", 4.0, ""),
    ]
    assert rows[0]["EvaluationId"] == sdk_evaluation_id(span.trace_id, span.span_id, "thumbs")
    assert rows[0]["EvaluationId"] != rows[1]["EvaluationId"]
    assert (rows[0]["SpanId"], rows[0]["CreatedAt"], rows[0]["PromptVersions"]) == (
        span.span_id, span.end_time_unix_nano, ["support-answer@3"]
    )  # fmt: skip
    assert score_rows(make_span("span", trace_id=span.trace_id), SOURCE) == []


def test_golden_trace_result_and_dead_letter_examples_map_to_rows() -> None:
    """The contract's example messages for traces, results and dead letters each give one full row."""
    trace = AssembledTrace.model_validate_json((EXAMPLES / "glassbox.traces/complete-rag-trace.json").read_bytes())
    row = as_dict(TRACES.columns, trace_row(trace, SOURCE))
    assert (row["TraceId"], row["Version"], row["Status"], row["SpanCount"]) == (trace.trace_id, 1, "complete", 3)
    assert (row["Models"], row["PromptVersions"], row["FirstTtftMs"]) == (["gpt-4o-mini"], ["support-answer@3"], 420.5)
    assert row["CriticalPathNames"] == ["answer_question", "litellm.completion"]
    assert row["Input"] == '{"question":"How do I reset my password?"}'

    result = EvaluationResult.model_validate_json(
        (EXAMPLES / "glassbox.evaluation-results/faithfulness-failed.json").read_bytes()
    )
    row = as_dict(EVALUATIONS.columns, evaluation_row(result, SOURCE))
    assert (row["Status"], row["FailureCategory"], row["Score"], row["JudgeModel"]) == (
        "failed", "hallucination", 0.5, "openai/gpt-4o"
    )  # fmt: skip
    assert (
        row["Evidence"]
        == '{"unsupported_claims":["choose \'Reset password\'"],"context_span_ids":["53995c3f42cd8ad8"]}'
    )

    letter = DeadLetter.model_validate_json((EXAMPLES / "glassbox.dead-letters/unknown-version.json").read_bytes())
    row = as_dict(DEAD_LETTERS.columns, dead_letter_row(letter, SOURCE))
    assert row["Raw"] == b'{"schema_version": 9, "trace_id": "x"}'
    assert row["Preview"] == '{"schema_version": 9, "trace_id": "x"}'
    assert (row["Stage"], row["ErrorType"], row["SourceOffset"], row["ElementIndex"]) == (
        "assembler",
        "unknown_version",
        1842,
        -1,
    )


def test_golden_span_examples_map_to_rows() -> None:
    """Every example span in the contract maps to a spans row without loss of its ids."""
    for path in sorted((EXAMPLES / "glassbox.spans").glob("*.json")):
        document = json.loads(path.read_text())
        for element in document if isinstance(document, list) else [document]:
            span = parse_span(element)
            row = as_dict(SPANS.columns, span_row(span, SOURCE))
            assert (row["TraceId"], row["SpanId"]) == (span.trace_id, span.span_id), path.name

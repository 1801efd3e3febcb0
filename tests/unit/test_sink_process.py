"""One Kafka message → rows per table: what is stored, skipped, or turned into a dead letter."""

from __future__ import annotations

import json

import pytest

from glassbox.common.paths import contract_dir
from glassbox.models.deadletter import MAX_RAW_BYTES
from glassbox.sink.process import (
    INTERNAL_MAX_BYTES,
    PendingRow,
    TopicRole,
    process_message,
    processing_failure,
    storage_failure_row,
)
from glassbox.sink.tables import DEAD_LETTERS, Source
from tests.support.clickhouse import make_letter, make_result, make_span, make_trace, span_message, trace_of_every_kind

EXAMPLES = contract_dir() / "examples"
MAX = 1_000_000


def source(topic: str = "glassbox.traces", key: bytes | None = b"k") -> Source:
    return Source("c/t", topic, 2, 77, key)


def letter_of(rows: list[PendingRow]) -> dict[str, object]:
    [pending] = rows
    return dict(zip(DEAD_LETTERS.columns, pending.row, strict=True))


def test_a_spans_message_gives_span_rows_and_score_rows() -> None:
    """Every valid span becomes a spans row; each score an evaluations row; both remember the element index."""
    spans = trace_of_every_kind()
    spans[2] = spans[2].model_copy(update={"scores": []})
    scored = make_span("span", trace_id=spans[0].trace_id, scores=[{"name": "thumbs", "value": 1.0}])
    key = spans[0].trace_id.encode()
    out = process_message(TopicRole.SPANS, span_message([*spans, scored]), source("glassbox.spans", key), max_bytes=MAX)
    assert len(out.rows["spans"]) == 8
    assert [p.index for p in out.rows["evaluations"]] == [7]
    assert (out.rejected_elements, out.invalid) == (0, False)


def test_rejected_span_elements_are_skipped_not_dead_lettered() -> None:
    """Invalid elements and wrongly keyed spans are counted and skipped: the assembler dead-letters them."""
    trace = trace_of_every_kind()
    value = json.dumps([json.loads(span_message(trace[:1]))[0], {"schema_version": 1}, "not an object"]).encode()
    out = process_message(TopicRole.SPANS, value, source("glassbox.spans", trace[0].trace_id.encode()), max_bytes=MAX)
    assert len(out.rows["spans"]) == 1 and "dead_letters" not in out.rows
    assert out.rejected_elements == 2
    wrong_key = process_message(TopicRole.SPANS, span_message(trace), source("glassbox.spans", b"other"), max_bytes=MAX)
    assert wrong_key.rows == {} and wrong_key.rejected_elements == len(trace)


@pytest.mark.parametrize(
    ("value", "error_type"),
    [
        (b"", "empty"),
        (b"{not json", "malformed_json"),
        (b'{"schema_version": 2}', "unknown_version"),
        (b'{"schema_version": 1, "trace_id": "nope"}', "invalid"),
        (b"x" * (INTERNAL_MAX_BYTES + 1), "oversized"),
    ],
)
def test_an_invalid_trace_message_becomes_a_sink_dead_letter(value: bytes, error_type: str) -> None:
    """Empty, malformed, unknown-version, invalid or oversized traces messages → one dead letter, stage 'sink'.

    The spans topic's size limit does not apply: Glassbox's own topics have a larger one."""
    out = process_message(TopicRole.TRACES, value, source(), max_bytes=MAX)
    assert out.invalid and set(out.rows) == {"dead_letters"}
    row = letter_of(out.rows["dead_letters"])
    assert (row["Stage"], row["ErrorType"], row["SourceTopic"], row["SourcePartition"], row["SourceOffset"]) == (
        "sink", error_type, "glassbox.traces", 2, 77
    )  # fmt: skip
    assert (row["RawSize"], row["Key"], row["ElementIndex"]) == (len(value), "k", -1)
    assert row["Raw"] == value[:MAX_RAW_BYTES]  # oversized raw bytes are cut, and the reason says so


def test_valid_traces_results_and_dead_letters_map_to_their_tables() -> None:
    """Messages of the other topics validate with their model and give one row in their table."""
    spans = trace_of_every_kind()
    cases = [
        (TopicRole.TRACES, make_trace(spans).model_dump_json(), "traces"),
        (TopicRole.RESULTS, make_result(spans[0].trace_id).model_dump_json(), "evaluations"),
        (TopicRole.DEAD_LETTERS, make_letter().model_dump_json(), "dead_letters"),
    ]
    for role, value, table in cases:
        out = process_message(role, value.encode(), source(), max_bytes=MAX)
        assert list(out.rows) == [table] and not out.invalid, role


def test_every_golden_example_is_accepted_by_its_processor() -> None:
    """The contract's example messages all produce rows in their own table, nothing rejected."""
    roles = {
        "glassbox.spans": (TopicRole.SPANS, "spans"),
        "glassbox.traces": (TopicRole.TRACES, "traces"),
        "glassbox.evaluation-results": (TopicRole.RESULTS, "evaluations"),
        "glassbox.dead-letters": (TopicRole.DEAD_LETTERS, "dead_letters"),
    }
    for topic, (role, table) in roles.items():
        for path in sorted((EXAMPLES / topic).glob("*.json")):
            value = path.read_bytes()
            doc = json.loads(value)
            key = (doc[0] if isinstance(doc, list) else doc).get("trace_id", "k").encode()
            out = process_message(role, value, source(topic, key), max_bytes=MAX)
            assert table in out.rows, path.name
            assert (out.rejected_elements, out.invalid) == (0, False), path.name


def test_a_refused_row_dead_letter_keeps_the_element_and_a_stable_table_specific_id() -> None:
    """A refused row's storage dead letter holds the span JSON; same row, same id; another table, another id."""
    spans = [make_span("span", trace_id="4bf92f3577b34da6a3ce929d0e0e4736") for _ in range(5)]
    span = spans[4]
    src = source("glassbox.spans", span.trace_id.encode())
    pending = PendingRow([], src, 4, span_message(spans))
    first = letter_of([storage_failure_row("spans", pending, "DataError: too big")])
    again = letter_of([storage_failure_row("spans", pending, "DataError: too big")])
    other = letter_of([storage_failure_row("evaluations", pending, "DataError: too big")])
    assert (first["ErrorType"], first["Stage"], first["ElementIndex"]) == ("storage", "sink", 4)
    assert first["Id"] == again["Id"] != other["Id"]
    assert json.loads(first["Raw"])["span_id"] == span.span_id  # type: ignore[arg-type]
    assert "ClickHouse refused the spans row: DataError: too big" in str(first["Reason"])


def test_a_processing_bug_turns_the_message_into_a_dead_letter() -> None:
    """If processing raises, the message is kept as a 'processing' dead letter with the exception in the reason."""
    out = processing_failure(b"payload", source(), RuntimeError("bug"))
    row = letter_of(out.rows["dead_letters"])
    assert (row["ErrorType"], row["Raw"], out.invalid) == ("processing", b"payload", True)
    assert "RuntimeError('bug')" in str(row["Reason"])

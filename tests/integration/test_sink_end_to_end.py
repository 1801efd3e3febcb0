"""The sink against a real broker (Tansu) and a real engine (chDB): messages in, rows out."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from glassbox.common.clickhouse import Client
from glassbox.common.kafka import topic_name
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.models import topics as registry
from glassbox.sink.consumer import Sink
from tests.support.clickhouse import (
    make_letter,
    make_result,
    make_span,
    make_trace,
    new_trace_id,
    produce,
    running,
    scalar,
    span_message,
    trace_of_every_kind,
    wait_for,
)


async def test_every_topic_lands_in_its_table(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """Spans, a trace, an evaluation result and a dead letter produced to Kafka become rows with their values."""
    spans = trace_of_every_kind()
    trace_id = spans[0].trace_id
    scored = make_span("span", trace_id=trace_id, parent=spans[0].span_id, name="feedback",
                       scores=[{"name": "thumbs", "value": 1.0, "comment": "great"}])  # fmt: skip
    trace = make_trace([*spans, scored], llm_calls=1, input_tokens=412, cost_usd=0.5)
    result = make_result(trace_id)
    letter = make_letter(raw_base64=base64.b64encode(b"\xff{bad").decode(), raw_size=5)
    produce(
        topics.bootstrap_servers,
        [
            (topic_name(registry.SPANS, topics), trace_id.encode(), span_message([*spans, scored])),
            (topic_name(registry.TRACES, topics), trace_id.encode(), trace.model_dump_json().encode()),
            (topic_name(registry.EVALUATION_RESULTS, topics), trace_id.encode(), result.model_dump_json().encode()),
            (topic_name(registry.DEAD_LETTERS, topics), b"glassbox.spans", letter.model_dump_json().encode()),
        ],
    )
    sink = Sink(topics, ch_settings, pipeline_settings)
    db = ch_settings.database

    def stored() -> bool:
        counts = [scalar(migrated, f"SELECT count() FROM {db}.{t} FINAL") for t in ("spans", "traces", "dead_letters")]
        return counts == [len(spans) + 1, 1, 1] and scalar(migrated, f"SELECT count() FROM {db}.evaluations") == 2

    async with running(sink):
        assert await wait_for(stored, within=40)

    generation = migrated.query(
        f"SELECT SpanKind, StatusCode, Model, InputTokens, CostUsd, TtftMs, SpanAttributes['gen_ai.request.model'], "
        f"PromptVersion, _topic FROM {db}.spans WHERE Kind = 'generation'"
    ).result_rows
    assert generation == [("Client", "Unset", "gpt-4o-mini-2024-07-18", 412, 0.0000756, 420.5, "gpt-4o-mini", "3",
                           topic_name(registry.SPANS, topics))]  # fmt: skip
    root = migrated.query(
        f"SELECT ParentSpanId, Input, Output, Tags, UserId FROM {db}.spans WHERE SpanName = 'answer_question'"
    )
    assert root.result_rows == [("", '{"q":"hi"}', '"hello"', ["rag", "v2"], "user-1")]
    assert scalar(migrated, f"SELECT ToolName FROM {db}.spans WHERE Kind = 'tool'") == "lookup_order"
    assert scalar(migrated, f"SELECT CostUsd FROM {db}.traces WHERE TraceId = '{trace_id}'") == 0.5
    evaluations = migrated.query(
        f"SELECT Evaluator, EvaluatorType, Score, Reason FROM {db}.evaluations ORDER BY Evaluator"
    ).result_rows
    assert evaluations == [("faithfulness", "llm_judge", 0.25, ""), ("thumbs", "sdk", 1.0, "great")]
    dead = migrated.query(f"SELECT Stage, ErrorType, Raw, Preview FROM {db}.dead_letters",
                          query_formats={"String": "bytes"}).result_rows  # fmt: skip
    assert dead == [(b"assembler", b"malformed_json", b"\xff{bad", "\ufffd{bad".encode())]
    assert sink.stats.rows_inserted == {"spans": 8, "traces": 1, "evaluations": 2, "dead_letters": 1}
    assert sink.stats.commits >= 1


async def test_invalid_messages_become_dead_letters_and_the_sink_keeps_going(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """Malformed or invalid traces/results become stage='sink' dead letters; rejected span elements are skipped."""
    trace_id = new_trace_id()
    good = make_span("span", trace_id=trace_id)
    bad_element = {"schema_version": 1, "trace_id": trace_id, "kind": "span"}  # no span id, name, times
    spans_value = json.dumps([json.loads(span_message([good]))[0], bad_element]).encode()
    produce(
        topics.bootstrap_servers,
        [
            (topic_name(registry.TRACES, topics), b"k", b"{not json"),
            (topic_name(registry.EVALUATION_RESULTS, topics), b"k", b'{"schema_version": 1, "trace_id": "nope"}'),
            (topic_name(registry.SPANS, topics), trace_id.encode(), spans_value),
            (topic_name(registry.TRACES, topics), trace_id.encode(), make_trace([good]).model_dump_json().encode()),
        ],
    )
    sink = Sink(topics, ch_settings, pipeline_settings)
    db = ch_settings.database

    def stored() -> bool:
        return (
            scalar(migrated, f"SELECT count() FROM {db}.dead_letters") == 2
            and scalar(migrated, f"SELECT count() FROM {db}.traces") == 1
            and scalar(migrated, f"SELECT count() FROM {db}.spans") == 1
        )

    async with running(sink):
        assert await wait_for(stored, within=40)

    letters = migrated.query(f"SELECT Stage, SourceTopic, ErrorType, ElementIndex, Raw FROM {db}.dead_letters "
                             "ORDER BY ErrorType").result_rows  # fmt: skip
    assert letters == [
        ("sink", topic_name(registry.EVALUATION_RESULTS, topics), "invalid", -1,
         '{"schema_version": 1, "trace_id": "nope"}'),
        ("sink", topic_name(registry.TRACES, topics), "malformed_json", -1, "{not json"),
    ]  # fmt: skip
    assert sink.stats.invalid_messages == 2
    assert sink.stats.skipped_invalid == 1


async def test_cancelling_the_task_stores_and_commits_what_was_read(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """A sink task cancelled by its host app flushes its buffered rows and commits before the cancellation ends it."""
    slow = pipeline_settings.model_copy(update={"sink_batch_seconds": 60.0})
    spans = trace_of_every_kind()
    produce(
        topics.bootstrap_servers,
        [(topic_name(registry.SPANS, topics), spans[0].trace_id.encode(), span_message(spans))],
    )
    sink = Sink(topics, ch_settings, slow)
    task = asyncio.create_task(sink.run())
    assert await wait_for(lambda: sink.stats.messages == 1, within=40)
    assert scalar(migrated, f"SELECT count() FROM {ch_settings.database}.spans") == 0  # still buffered
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert scalar(migrated, f"SELECT count() FROM {ch_settings.database}.spans") == len(spans)
    assert sink.stats.commits == 1


async def test_drain_stores_everything_the_topics_hold_now(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """drain() returns True once every message already in the topics is stored and committed, long before batches
    would be due; the sink keeps running afterwards."""
    slow = pipeline_settings.model_copy(update={"sink_batch_seconds": 60.0})
    traces = [trace_of_every_kind() for _ in range(4)]
    produce(
        topics.bootstrap_servers,
        [(topic_name(registry.SPANS, topics), t[0].trace_id.encode(), span_message(t)) for t in traces]
        + [(topic_name(registry.TRACES, topics), t[0].trace_id.encode(), make_trace(t).model_dump_json().encode())
           for t in traces],
    )  # fmt: skip
    sink = Sink(topics, ch_settings, slow)
    async with running(sink) as task:
        assert await sink.drain(timeout_s=30)
        assert scalar(migrated, f"SELECT count() FROM {ch_settings.database}.spans") == 28
        assert scalar(migrated, f"SELECT count() FROM {ch_settings.database}.traces") == 4
        assert sink.stats.commits >= 1
        assert not task.done()

"""Exactly once in effect: messages read again after a crash add nothing, rollups included."""

from __future__ import annotations

from typing import Any

from glassbox.common.clickhouse import Client
from glassbox.common.kafka import ensure_topics, topic_name
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.embedded.broker import EmbeddedBroker
from glassbox.models import topics as registry
from glassbox.models.span import Score
from glassbox.sink.consumer import Sink
from glassbox.sink.logs import describe_logs
from glassbox.sink.span_rows import span_row
from glassbox.sink.tables import SPANS, Source
from glassbox.sink.writer import BatchWriter
from tests.support.clickhouse import (
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


class CrashBeforeCommit(Sink):
    """A sink that stores rows but never commits offsets, as one that died right after its inserts."""

    async def _commit(self, **_: Any) -> None:
        return None


def _spans_and_traces(kafka: KafkaSettings, traces: int) -> tuple[list[tuple[str, bytes, bytes]], int]:
    messages: list[tuple[str, bytes, bytes]] = []
    spans = 0
    for _ in range(traces):
        trace = trace_of_every_kind(new_trace_id())
        trace[1] = trace[1].model_copy(update={"scores": [Score(name="thumbs", value=1.0)]})
        spans += len(trace)
        key = trace[0].trace_id.encode()
        messages.append((topic_name(registry.SPANS, kafka), key, span_message(trace)))
        messages.append((topic_name(registry.TRACES, kafka), key, make_trace(trace).model_dump_json().encode()))
    return messages, spans


def _new_group(pipeline: PipelineSettings) -> PipelineSettings:
    return pipeline.model_copy(update={"sink_group": f"{pipeline.sink_group}-restarted"})


def _counts(client: Client, db: str) -> dict[str, Any]:
    return {
        "spans": scalar(client, f"SELECT count() FROM {db}.spans"),
        "traces": scalar(client, f"SELECT count() FROM {db}.traces"),
        "evaluations": scalar(client, f"SELECT count() FROM {db}.evaluations"),
        "spans_1m": scalar(client, f"SELECT sum(Spans) FROM {db}.spans_1m"),
        "traces_1m": scalar(client, f"SELECT sum(Traces) FROM {db}.traces_1m"),
        "evaluations_1m": scalar(client, f"SELECT sum(Evaluations) FROM {db}.evaluations_1m"),
    }


async def test_restart_without_commit_inserts_nothing_twice(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """A sink that stored rows but never committed is replaced; the new one re-reads everything and skips it all."""
    messages, span_count = _spans_and_traces(topics, traces=6)
    produce(topics.bootstrap_servers, messages)
    db = ch_settings.database
    expected = {"spans": span_count, "traces": 6, "evaluations": 6,
                "spans_1m": span_count, "traces_1m": 6, "evaluations_1m": 6}  # fmt: skip

    first = CrashBeforeCommit(topics, ch_settings, pipeline_settings)
    async with running(first):
        assert await wait_for(lambda: _counts(migrated, db) == expected, within=40)
    assert first.stats.commits == 0

    # Nothing was committed, so a fresh group reads from the start exactly as the old group would;
    # a fresh group just spares the broker's wait for the departed member.
    second = Sink(topics, ch_settings, _new_group(pipeline_settings))
    async with running(second):
        assert await wait_for(lambda: second.stats.messages == len(messages), within=40)
    assert _counts(migrated, db) == expected
    assert second.stats.skipped_replayed == span_count + 6 + 6
    assert second.stats.rows_inserted == {}
    assert second.stats.commits >= 1


async def test_a_row_of_another_table_is_still_written_on_replay(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """Offsets count per table: a message whose span row (not score row) was stored before a crash adds its score."""
    trace_id = new_trace_id()
    scored = make_span("span", trace_id=trace_id, scores=[{"name": "thumbs", "value": 0.0}])
    spans_topic = topic_name(registry.SPANS, topics)
    message = (spans_topic, trace_id.encode(), span_message([scored]))
    [(partition, offset)] = produce(topics.bootstrap_servers, [message])
    # The crash: the spans insert of that message went through, the evaluations insert did not.
    source = Source(describe_logs(topics, [spans_topic])[spans_topic], spans_topic, partition, offset)
    BatchWriter(migrated, ch_settings.database).insert("spans", SPANS.columns, [span_row(scored, source)], token=None)

    sink = Sink(topics, ch_settings, pipeline_settings)
    async with running(sink):
        assert await wait_for(lambda: scalar(migrated, f"SELECT count() FROM {ch_settings.database}.evaluations") == 1)
    assert scalar(migrated, f"SELECT count() FROM {ch_settings.database}.spans") == 1
    assert sink.stats.skipped_replayed == 1
    assert sink.stats.rows_inserted == {"evaluations": 1}


async def test_offsets_of_a_lost_broker_log_never_skip_new_messages(
    pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client, unique: str
) -> None:
    """After the in-memory broker restarts (same cluster id, offsets from 0 again) new messages are still stored."""
    db = ch_settings.database
    for round_ in (1, 2):
        with EmbeddedBroker() as broker:
            kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"r{unique}.")
            ensure_topics(kafka, pipeline_settings)
            messages, span_count = _spans_and_traces(kafka, traces=2)
            produce(kafka.bootstrap_servers, messages)
            sink = Sink(kafka, ch_settings, pipeline_settings)
            expected = round_ * span_count
            async with running(sink):
                assert await wait_for(lambda e=expected: scalar(migrated, f"SELECT count() FROM {db}.spans") == e)
            assert sink.stats.skipped_replayed == 0
    assert scalar(migrated, f"SELECT uniqExact(_cluster) FROM {db}.spans") == 2

"""The sink when ClickHouse fails: unavailable for a while (nothing lost), or refusing a row (only it set aside)."""

from __future__ import annotations

import json

from glassbox.common.clickhouse import Client, writer_client
from glassbox.common.kafka import topic_name
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.models import topics as registry
from glassbox.sink.consumer import Sink
from tests.support.clickhouse import (
    FlakyClient,
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


async def test_nothing_is_lost_while_clickhouse_is_unavailable(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """Writes fail for 2 s (OperationalError, as a refused connection); afterwards every row is stored exactly once."""
    db = ch_settings.database
    flaky = FlakyClient(writer_client(ch_settings))
    sink = Sink(topics, ch_settings, pipeline_settings, client_factory=lambda: flaky)  # type: ignore[arg-type,return-value]
    spans_topic = topic_name(registry.SPANS, topics)
    before = trace_of_every_kind()
    during = [trace_of_every_kind() for _ in range(5)]
    async with running(sink):
        produce(topics.bootstrap_servers, [(spans_topic, before[0].trace_id.encode(), span_message(before))])
        assert await wait_for(lambda: scalar(migrated, f"SELECT count() FROM {db}.spans") == len(before))
        flaky.outage(2.0)
        produce(
            topics.bootstrap_servers,
            [(spans_topic, t[0].trace_id.encode(), span_message(t)) for t in during]
            + [(topic_name(registry.TRACES, topics), t[0].trace_id.encode(), make_trace(t).model_dump_json().encode())
               for t in during],
        )  # fmt: skip
        total = len(before) + sum(len(t) for t in during)
        assert await wait_for(lambda: scalar(migrated, f"SELECT count() FROM {db}.spans") == total, within=30)
        assert await wait_for(lambda: scalar(migrated, f"SELECT count() FROM {db}.traces") == len(during))
    assert flaky.failures >= 2
    assert sink.stats.outages >= 1
    assert sink.stats.retries >= 2
    assert scalar(migrated, f"SELECT count() FROM {db}.spans") == total
    assert scalar(migrated, f"SELECT sum(Spans) FROM {db}.spans_1m") == total
    assert scalar(migrated, f"SELECT uniqExact(TraceId, SpanId) FROM {db}.spans") == total


async def test_a_refused_row_goes_to_dead_letters_and_the_rest_are_stored(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """A span whose token count does not fit UInt64 is dead-lettered (storage, stage sink); its neighbours stored."""
    db = ch_settings.database
    trace_id = new_trace_id()
    good = [make_span("span", trace_id=trace_id, name=f"ok-{i}") for i in range(3)]
    too_big = make_span("generation", trace_id=trace_id, name="huge",
                        payload={"gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 2**70})  # fmt: skip
    spans_topic = topic_name(registry.SPANS, topics)
    [(partition, offset)] = produce(
        topics.bootstrap_servers, [(spans_topic, trace_id.encode(), span_message([good[0], too_big, *good[1:]]))]
    )
    sink = Sink(topics, ch_settings, pipeline_settings)
    async with running(sink):
        assert await wait_for(lambda: scalar(migrated, f"SELECT count() FROM {db}.dead_letters") == 1)
        assert await wait_for(lambda: scalar(migrated, f"SELECT count() FROM {db}.spans") == 3)
    names = migrated.query(f"SELECT SpanName FROM {db}.spans ORDER BY SpanName").result_rows
    assert names == [("ok-0",), ("ok-1",), ("ok-2",)]
    [letter] = migrated.query(
        f"SELECT Stage, ErrorType, SourceTopic, SourcePartition, SourceOffset, ElementIndex, Key, Reason, Raw "
        f"FROM {db}.dead_letters"
    ).result_rows
    stage, error_type, topic, dl_partition, dl_offset, index, key, reason, raw = letter
    assert (stage, error_type, topic, dl_partition, dl_offset, index, key) == (
        "sink", "storage", spans_topic, partition, offset, 1, trace_id
    )  # fmt: skip
    assert "spans" in reason and "InputTokens" in reason
    assert json.loads(raw)["payload"]["gen_ai.usage.input_tokens"] == 2**70
    assert sink.stats.refused_rows == 1
    assert sink.stats.rows_inserted == {"spans": 3, "dead_letters": 1}

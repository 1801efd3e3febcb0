"""Sink throughput on this machine: spans already in Kafka → rows in chDB (not a test; run it by hand).

    python tests/perf/bench_sink_raw.py [spans] [spans_per_message]

Starts its own Tansu broker and chDB directory, produces the spans first, then times the
sink from start (group join excluded) until every span row is stored.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path

import structlog

from glassbox.common.clickhouse import writer_client
from glassbox.common.kafka import ensure_topics, topic_name
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.embedded.broker import EmbeddedBroker
from glassbox.models import topics as registry
from glassbox.sink.consumer import Sink
from glassbox.sink.migrations import migrate
from tests.support.clickhouse import make_span, new_trace_id, produce, scalar, span_message, wait_for


def messages(kafka: KafkaSettings, spans: int, per_message: int) -> list[tuple[str, bytes, bytes]]:
    topic = topic_name(registry.SPANS, kafka)
    kinds = ("span", "generation", "retrieval", "tool")
    out = []
    for _ in range(spans // per_message):
        trace_id = new_trace_id()
        batch = [make_span(kinds[i % len(kinds)], trace_id=trace_id) for i in range(per_message)]
        out.append((topic, trace_id.encode(), span_message(batch)))
    return out


async def bench(spans: int, per_message: int, data_dir: Path) -> None:
    with EmbeddedBroker() as broker:
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
        pipeline = PipelineSettings(spans_partitions=2)
        clickhouse = ClickHouseSettings(url=f"chdb://{data_dir}", database="bench")
        ensure_topics(kafka, pipeline)
        client = writer_client(clickhouse)
        migrate(client, clickhouse)
        started = time.perf_counter()
        produce(kafka.bootstrap_servers, messages(kafka, spans, per_message))
        print(f"produced {spans} spans in {time.perf_counter() - started:.1f}s")
        sink = Sink(kafka, clickhouse, pipeline)
        task = asyncio.create_task(sink.run())
        await sink.started.wait()
        gc.freeze()  # as run_sink (the `glassbox sink` process) does once started
        started = time.perf_counter()
        await wait_for(lambda: sink.stats.rows_inserted.get("spans", 0) >= spans, within=3600, interval=0.05)
        elapsed = time.perf_counter() - started
        await sink.stop()
        await task
        assert scalar(client, "SELECT count() FROM bench.spans") == spans
        print(f"stored {spans} spans in {elapsed:.2f}s: {spans / elapsed:,.0f} spans/s "
              f"({sink.stats.batches} batches, {sink.stats.insert_seconds:.2f}s in inserts)")  # fmt: skip


if __name__ == "__main__":
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    size = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(bench(count, size, Path(tmp)))

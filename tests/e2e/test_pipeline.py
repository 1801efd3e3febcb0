"""The whole pipeline on real engines: SDK → Kafka (Tansu) → assembler → sink → ClickHouse (chDB)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

import glassbox
from glassbox.embedded.broker import EmbeddedBroker
from tests.support.pipeline import PipelineWorker

T0 = time.time_ns() - 60_000_000_000
MS = 1_000_000


def span(
    trace: str, sid: str, parent: str | None, start_ms: int, end_ms: int, kind: str = "span", **extra: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": trace,
        "span_id": sid,
        "name": extra.pop("name", f"{kind}-{sid[:4]}"),
        "kind": kind,
        "start_time_unix_nano": T0 + start_ms * MS,
        "end_time_unix_nano": T0 + end_ms * MS,
        "resource": {"service.name": "e2e"},
        **extra,
    }
    if parent:
        out["parent_span_id"] = parent
    return out


def send(producer: KafkaProducer, topic: str, trace: str, spans: list[dict[str, Any]]) -> None:
    producer.send(topic, key=trace.encode(), value=json.dumps(spans).encode())


@pytest.fixture
def worker(broker: EmbeddedBroker, tmp_path: Path, unique: str) -> Iterator[PipelineWorker]:
    w = PipelineWorker(broker.bootstrap_servers, f"e{unique}.", tmp_path / "w", unique)
    w.create_topics()
    w.start()
    yield w
    w.stop()
    glassbox.shutdown(2)


def test_sdk_spans_become_traces_with_correct_metrics(worker: PipelineWorker) -> None:
    """Nested, concurrent, out-of-order and late spans: one trace row each, metrics right, late span → version 2."""
    glassbox.init(kafka_bootstrap_servers=worker.bootstrap, kafka_topic_prefix=worker.prefix, service_name="e2e-sdk")

    @glassbox.generation(name="llm", model="m-1")
    async def llm(i: int) -> str:
        glassbox.update_current_span(input_tokens=10 * (i + 1), output_tokens=5, cost_usd=0.001)
        await asyncio.sleep(0.01)
        return f"answer {i}"

    @glassbox.tool(name="lookup")
    def lookup(key: str) -> str:
        return key

    @glassbox.trace(name="nested")
    def nested() -> None:
        with glassbox.span("level-1"), glassbox.span("level-2"):
            lookup("a")
            lookup("a")

    @glassbox.trace(name="concurrent")
    async def concurrent() -> list[str]:
        return await asyncio.gather(*(llm(i) for i in range(3)))

    nested()
    asyncio.run(concurrent())
    assert glassbox.flush(15)

    producer = KafkaProducer(bootstrap_servers=worker.bootstrap, acks="all")
    ooo = "0123456789abcdef" * 2
    children = [span(ooo, "2" * 16, "1" * 16, 10, 20, "retrieval", payload={"glassbox.retrieval.documents": []})]
    send(producer, worker.topic, ooo, children)  # the child first, in its own message
    producer.flush()
    time.sleep(0.5)
    send(producer, worker.topic, ooo, [span(ooo, "1" * 16, None, 0, 100, name="out-of-order-root")])
    producer.flush()

    worker.wait_until(lambda: worker.scalar("SELECT count() FROM traces FINAL") == 3, what="three traces")
    rows = {r[0]: r for r in worker.client.query(
        "SELECT Name, SpanCount, Depth, LlmCalls, InputTokens, OutputTokens, CostUsd, ToolCalls, MaxRepeatedToolCalls, "
        "Retrievals, EmptyRetrievals, Version, Status FROM traces FINAL"
    ).result_rows}  # fmt: skip
    assert rows["nested"][1:3] == (5, 4)
    assert rows["nested"][7:9] == (2, 2)
    assert rows["concurrent"][1] == 4 and rows["concurrent"][3:6] == (3, 60, 15)
    assert abs(rows["concurrent"][6] - 0.003) < 1e-9
    assert rows["out-of-order-root"][1:3] == (2, 2) and rows["out-of-order-root"][9:11] == (1, 1)
    assert all(r[11] == 1 and r[12] == "complete" for r in rows.values())

    # A late span for the out-of-order trace: the same trace, version 2, with the span counted.
    send(
        producer,
        worker.topic,
        ooo,
        [span(ooo, "3" * 16, "1" * 16, 30, 60, "tool", payload={"gen_ai.tool.name": "late"})],
    )
    producer.flush()
    worker.wait_until(
        lambda: worker.scalar("SELECT Version FROM traces FINAL WHERE TraceId = {t:String}", t=ooo) == 2,
        what="version 2 of the late trace",
    )
    assert worker.scalar("SELECT count() FROM traces FINAL WHERE TraceId = {t:String}", t=ooo) == 1
    assert worker.scalar("SELECT SpanCount FROM traces FINAL WHERE TraceId = {t:String}", t=ooo) == 3
    assert worker.scalar("SELECT count() FROM spans FINAL") == 5 + 4 + 3


def test_trace_without_root_is_emitted_incomplete_then_completed(
    broker: EmbeddedBroker, tmp_path: Path, unique: str
) -> None:
    """No root after the inactivity timeout: an incomplete trace; the root arriving later makes version 2 complete."""
    w = PipelineWorker(
        broker.bootstrap_servers,
        f"i{unique}.",
        tmp_path / "w",
        unique,
        GLASSBOX_PIPELINE_TRACE_INACTIVITY_TIMEOUT_S="2",
    )
    w.create_topics()
    w.start()
    try:
        producer = KafkaProducer(bootstrap_servers=w.bootstrap, acks="all")
        trace = "fedcba9876543210" * 2
        send(producer, w.topic, trace, [span(trace, "a" * 16, "b" * 16, 5, 10)])
        producer.flush()
        w.wait_until(lambda: w.scalar("SELECT count() FROM traces FINAL") == 1, what="incomplete trace")
        assert w.scalar("SELECT Status FROM traces FINAL") == "incomplete"
        assert w.scalar("SELECT OrphanSpans FROM traces FINAL") == 1
        send(producer, w.topic, trace, [span(trace, "b" * 16, None, 0, 20, name="late-root")])
        producer.flush()
        w.wait_until(lambda: w.scalar("SELECT Version FROM traces FINAL") == 2, what="version 2")
        assert w.scalar("SELECT Status FROM traces FINAL") == "complete"
        assert w.scalar("SELECT Name FROM traces FINAL") == "late-root"
        assert w.scalar("SELECT OrphanSpans FROM traces FINAL") == 0
    finally:
        w.stop()


def test_kill_9_in_the_middle_of_50k_spans_loses_and_duplicates_nothing(
    broker: EmbeddedBroker, tmp_path: Path, unique: str
) -> None:
    """SIGKILL the worker while 50,000 spans stream in, restart it: every span stored once, every trace once
    at its latest version — counted both with FINAL and without it (the sink skips replayed offsets)."""
    w = PipelineWorker(broker.bootstrap_servers, f"k{unique}.", tmp_path / "w", unique)
    w.create_topics()
    traces, per_trace = 5000, 10
    total = traces * per_trace

    def produce() -> None:
        producer = KafkaProducer(bootstrap_servers=w.bootstrap, acks="all", linger_ms=20, compression_type="gzip")
        for t in range(traces):
            trace = f"{t + 1:032x}"
            root = f"{t + 1:08x}00000001"
            spans = [span(trace, root, None, 0, 100, name="job")]
            spans += [span(trace, f"{t + 1:08x}{i + 2:08x}", root, i, i + 5, "tool",
                           payload={"gen_ai.tool.name": f"t{i}"}) for i in range(per_trace - 1)]  # fmt: skip
            send(producer, w.topic, trace, spans)
            if t % 250 == 249:  # about 20 s of steady traffic
                producer.flush()
                time.sleep(1.0)
        producer.flush()
        producer.close()

    sender = threading.Thread(target=produce, daemon=True)
    w.start()
    sender.start()
    w.wait_until(lambda: worker_spans(w) >= total // 5, timeout=120, what="a fifth of the spans")
    at_kill = worker_spans(w)
    w.kill()
    assert at_kill < total, "the worker finished before it could be killed; the test proves nothing"
    w.start()
    sender.join(120)
    w.wait_until(lambda: w.scalar("SELECT count() FROM traces FINAL") == traces, timeout=180, what="every trace")
    w.wait_until(lambda: worker_spans(w) == total, timeout=60, what="every span")
    assert w.scalar("SELECT count() FROM spans FINAL") == total
    assert w.scalar("SELECT uniqExact(TraceId, SpanId) FROM spans") == total
    assert w.scalar("SELECT count() FROM spans") == total, "a replay inserted rows twice"
    assert w.scalar("SELECT count() FROM traces FINAL") == traces
    assert w.scalar("SELECT countIf(SpanCount != {n:UInt32}) FROM traces FINAL", n=per_trace) == 0
    assert w.scalar("SELECT uniqExact(TraceId) FROM traces") == traces
    w.stop()


@pytest.mark.parametrize("checkpoint_s", ["1", "300"], ids=["checkpointed", "in-memory-only"])
def test_kill_9_while_a_trace_is_open_keeps_every_span_of_it(
    broker: EmbeddedBroker, tmp_path: Path, unique: str, checkpoint_s: str
) -> None:
    """A trace's first spans arrive, the worker has them (and has committed offsets since), then SIGKILL; its
    root comes after the restart. The trace is emitted once, complete, with every span — whether its open state
    had been checkpointed to the changelog or lived in memory only (its offsets then stayed uncommitted)."""
    w = PipelineWorker(
        broker.bootstrap_servers, f"o{unique}.", tmp_path / "w", unique,
        GLASSBOX_PIPELINE_ASSEMBLER_CHECKPOINT_S=checkpoint_s,
    )  # fmt: skip
    w.create_topics()
    producer = KafkaProducer(bootstrap_servers=w.bootstrap, acks="all")
    trace, root = "0a1b2c3d4e5f6a7b" * 2, "f" * 16
    early = [span(trace, f"{i + 1:016x}", root, i, i + 5, "tool", payload={"gen_ai.tool.name": "t"}) for i in range(4)]
    other = "1a2b3c4d5e6f7a8b" * 2  # a complete trace after it in the same partitions: emitted, its offsets acked
    w.start()
    try:
        send(producer, w.topic, trace, early[:2])
        send(producer, w.topic, trace, early[2:])
        send(producer, w.topic, other, [span(other, "e" * 16, None, 0, 10, name="other")])
        producer.flush()
        w.wait_until(lambda: worker_spans(w) == 5, what="the early spans stored")
        w.wait_until(lambda: w.scalar("SELECT count() FROM traces") == 1, what="the other trace")
        time.sleep(4)  # past faust's commit interval (2.8 s) and the 1 s checkpoint
        w.kill()
        w.start()
        send(producer, w.topic, trace, [span(trace, root, None, 0, 50, name="late-root")])
        producer.flush()
        w.wait_until(lambda: w.scalar("SELECT count() FROM traces FINAL") == 2, timeout=90, what="the open trace")
        time.sleep(1.5)  # room for a wrong second version to show up
        row = w.client.query(
            "SELECT Name, SpanCount, Status, Version FROM traces FINAL WHERE TraceId = {t:String}",
            parameters={"t": trace},
        ).result_rows
        assert row == [("late-root", 5, "complete", 1)]
        assert w.scalar("SELECT uniqExact(TraceId, Version) FROM traces") == 2, "a trace was emitted twice"
    finally:
        w.stop()


def worker_spans(w: PipelineWorker) -> int:
    return int(w.scalar("SELECT count() FROM spans FINAL"))


def test_bad_input_corpus_is_dead_lettered_next_to_good_messages(
    broker: EmbeddedBroker, tmp_path: Path, unique: str
) -> None:
    """About 1,600 generated messages — malformed JSON, wrong types, unknown versions, oversized values, invalid
    ids, absurd timestamps, duplicate span ids, misrouted keys — interleaved with good ones: every bad element
    dead-lettered with a reason and its source offset, every good span stored, the worker alive throughout."""
    from tests.support.bad_input import MAX_MESSAGE_BYTES, corpus

    w = PipelineWorker(
        broker.bootstrap_servers, f"b{unique}.", tmp_path / "w", unique,
        GLASSBOX_PIPELINE_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES),
    )  # fmt: skip
    w.create_topics()
    messages = corpus()
    producer = KafkaProducer(bootstrap_servers=w.bootstrap, acks="all", linger_ms=10, max_request_size=4_000_000)
    for message in messages:
        producer.send(w.topic, key=message.key, value=message.value)
    producer.flush()
    good_spans = sum(m.good_spans for m in messages)
    dead = sum(m.dead_letters for m in messages)
    w.start()
    try:
        w.wait_until(lambda: worker_spans(w) == good_spans, timeout=180, what=f"{good_spans} good spans")
        w.wait_until(
            lambda: w.scalar("SELECT count() FROM dead_letters FINAL") >= dead, timeout=60, what="dead letters"
        )
        time.sleep(1.0)
        assert w.proc is not None and w.proc.poll() is None, "the worker crashed"
        assert worker_spans(w) == good_spans
        assert w.scalar("SELECT count() FROM dead_letters FINAL") == dead
        assert (
            w.scalar("SELECT countIf(Reason = '' OR SourceOffset < 0 OR Stage != 'assembler') FROM dead_letters FINAL")
            == 0
        )
        kinds = dict(w.client.query("SELECT ErrorType, count() FROM dead_letters FINAL GROUP BY ErrorType").result_rows)
        assert {"malformed_json", "invalid", "unknown_version", "oversized", "wrong_type", "duplicate", "empty"} <= set(
            kinds
        )
    finally:
        w.stop()

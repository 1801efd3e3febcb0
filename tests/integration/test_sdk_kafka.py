"""The SDK against a real Kafka-protocol broker (Tansu): delivery, outages, accounting, redaction."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import glassbox
from glassbox.common.kafka import ensure_topics
from glassbox.common.paths import contract_dir
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.embedded.broker import EmbeddedBroker, free_port
from glassbox.models.messages import decode_span_message


def read_messages(servers: str, topic: str, expect: int, timeout: float = 20.0) -> list[tuple[bytes, bytes]]:
    """Every (key, value) on ``topic`` from the beginning, until ``expect`` span events were seen or timeout."""

    async def run() -> list[tuple[bytes, bytes]]:
        from aiokafka import AIOKafkaConsumer, TopicPartition

        consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
        await consumer.start()
        try:
            deadline = time.monotonic() + timeout
            partitions: set[int] | None = None
            while not partitions and time.monotonic() < deadline:
                partitions = consumer.partitions_for_topic(topic)
                if not partitions:
                    await consumer._client.force_metadata_update()
                    await asyncio.sleep(0.1)
            tps = [TopicPartition(topic, p) for p in sorted(partitions or ())]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            out: list[tuple[bytes, bytes]] = []
            seen = 0
            while time.monotonic() < deadline and seen < expect:
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    for record in records:
                        out.append((record.key, record.value))
                        seen += len(json.loads(record.value)) if record.value.startswith(b"[") else 1
            await asyncio.sleep(0.3)  # anything beyond what we expected would show up now
            for records in (await consumer.getmany(timeout_ms=300)).values():
                out.extend((r.key, r.value) for r in records)
            return out
        finally:
            await consumer.stop()

    return asyncio.run(run())


def span_events(messages: list[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for key, value in messages:
        decoded = decode_span_message(value, key)
        assert decoded.rejected == [], decoded.rejected
        doc = json.loads(value)
        events.extend(doc if isinstance(doc, list) else [doc])
    return events


@pytest.fixture
def topic_prefix(broker: EmbeddedBroker, unique: str) -> Iterator[str]:
    prefix = f"t{unique}."
    ensure_topics(KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix), PipelineSettings())
    yield prefix
    glassbox.shutdown(2)


def test_spans_from_every_kind_of_code_arrive_valid_and_linked(broker: EmbeddedBroker, topic_prefix: str) -> None:
    """Nested sync, async, threaded and generator spans reach Kafka keyed by trace id, valid per the JSON Schema."""
    glassbox.init(kafka_bootstrap_servers=broker.bootstrap_servers, kafka_topic_prefix=topic_prefix, service_name="it")

    @glassbox.retrieval(name="search")
    def search(query: str) -> list[str]:
        return ["doc a", "doc b"]

    @glassbox.generation(name="stream", model="m")
    def stream() -> Iterator[str]:
        yield from ("a", "b")

    @glassbox.tool(name="atool")
    async def atool(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    @glassbox.span(name="threaded")
    def threaded(x: int) -> int:
        return x

    @glassbox.trace(name="root")
    def root() -> None:
        search("q")
        "".join(stream())
        asyncio.run(atool(1))
        with glassbox.ContextThreadPoolExecutor(2) as pool:
            list(pool.map(threaded, [1, 2]))

    root()
    assert glassbox.flush(15)
    assert glassbox.stats()["delivered"] == 6
    messages = read_messages(broker.bootstrap_servers, f"{topic_prefix}glassbox.spans", expect=6)
    events = span_events(messages)
    assert len(events) == 6
    schema = json.loads((contract_dir() / "events" / "span-event.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for event in events:
        validator.validate(event)
    root_ev = next(e for e in events if e["name"] == "root")
    assert all(e["trace_id"] == root_ev["trace_id"] for e in events)
    assert all(e.get("parent_span_id") == root_ev["span_id"] for e in events if e["name"] != "root")
    assert {key for key, _ in messages} == {root_ev["trace_id"].encode()}
    assert len(messages) < len(events)  # spans of one trace travel batched


def test_broker_outages_never_block_and_every_span_is_accounted_for(unique: str, tmp_path: Path) -> None:
    """Broker down at start, killed mid-run, then back: calls stay fast, spans after recovery arrive,
    and delivered + dropped equals every span recorded."""
    port = free_port()
    prefix = f"o{unique}."
    topic = f"{prefix}glassbox.spans"
    servers = f"127.0.0.1:{port}"
    glassbox.init(
        kafka_bootstrap_servers=servers,
        kafka_topic_prefix=prefix,
        service_name="outage",
        max_block_ms=300,
        delivery_timeout_ms=3000,
    )

    @glassbox.span(name="leaf")
    def leaf(i: int) -> int:
        return i

    @glassbox.trace(name="req")
    def request(phase: str, i: int) -> None:
        leaf(i)
        leaf(i + 1)

    def run_phase(phase: str, n: int) -> float:
        worst = 0.0
        for i in range(n):
            started = time.perf_counter()
            request(phase, i)
            worst = max(worst, time.perf_counter() - started)
        return worst

    recorded = 0
    # Phase 1: no broker at all.
    worst = run_phase("down", 50)
    recorded += 150
    assert worst < 0.05, f"an instrumented call took {worst:.3f}s with the broker down"
    assert glassbox.stats()["delivered"] == 0

    broker_a = EmbeddedBroker(port=port, log_path=tmp_path / "a.log").start()
    try:
        ensure_topics(KafkaSettings(bootstrap_servers=servers, topic_prefix=prefix), PipelineSettings())
        assert glassbox.flush(20), glassbox.stats()
        consumed_a = span_events(read_messages(servers, topic, expect=150))
        assert len({e["span_id"] for e in consumed_a}) == 150  # the buffer carried them through the outage
        # Phase 2: broker dies mid-run.
        run_phase("before-kill", 20)
        recorded += 60
        assert glassbox.flush(20)
        consumed_a = span_events(read_messages(servers, topic, expect=210))
    finally:
        broker_a.kill()
    worst = run_phase("killed", 50)
    recorded += 150
    assert worst < 0.05, f"an instrumented call took {worst:.3f}s with the broker killed"

    broker_b = EmbeddedBroker(port=port, log_path=tmp_path / "b.log").start()
    try:
        ensure_topics(KafkaSettings(bootstrap_servers=servers, topic_prefix=prefix), PipelineSettings())
        time.sleep(1.0)
        # Phase 3: after recovery.
        run_phase("recovered", 30)
        recorded += 90
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            glassbox.flush(5)
            stats = glassbox.stats()
            if stats["delivered"] + stats["dropped"] == recorded and stats["queued"] == 0:
                break
            time.sleep(0.5)
        stats = glassbox.stats()
        consumed_b = span_events(read_messages(servers, topic, expect=90))
    finally:
        broker_b.stop()

    delivered_ids = {e["span_id"] for e in consumed_a} | {e["span_id"] for e in consumed_b}
    recovered = [e for e in consumed_b if e["name"] == "req" and e["input"]["phase"] == "recovered"]
    assert len(recovered) == 30, "every trace recorded after recovery arrives"
    assert stats["delivered"] + stats["dropped"] == recorded, stats
    assert stats["delivered"] == len(delivered_ids), (stats, len(delivered_ids))
    assert stats["dropped"] == recorded - len(delivered_ids)


def test_redacted_values_never_reach_the_broker(broker: EmbeddedBroker, topic_prefix: str) -> None:
    """The raw bytes on the spans topic contain no email, card number or API key from the app."""
    glassbox.init(kafka_bootstrap_servers=broker.bootstrap_servers, kafka_topic_prefix=topic_prefix)

    @glassbox.generation(name="llm")
    def llm(prompt: str) -> str:
        return "Your card 5500 0000 0000 0004 is on file; key sk-live0123456789abcdefghij"

    @glassbox.trace(name="root")
    def root() -> str:
        return llm("I'm alice@corp.example, phone +44 20 7946 0958")

    root()
    assert glassbox.flush(15)
    raw = b"".join(v for _, v in read_messages(broker.bootstrap_servers, f"{topic_prefix}glassbox.spans", expect=2))
    for needle in (b"alice@corp.example", b"5500 0000 0000 0004", b"sk-live0123456789", b"7946 0958"):
        assert needle not in raw
    assert b"[REDACTED:email]" in raw and b"[REDACTED:card]" in raw and b"[REDACTED:secret]" in raw

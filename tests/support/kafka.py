"""Reading what the SDK wrote: consume span events from a topic with aiokafka (no consumer group).

kafka-python's group consumer is slow to join on Tansu, so these helpers assign every partition
of the topic by hand and read from the beginning. Messages on the spans topic are a JSON array of
span events (or a single event object); the helpers return the flat list of events.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glassbox.models.span import SpanEvent, parse_span
from glassbox.models.topics import SPANS

SPAN_EVENT_SCHEMA = Path(__file__).resolve().parents[2] / "schemas" / "events" / "span-event.schema.json"

Events = list[dict[str, Any]]


def spans_topic(prefix: str) -> str:
    """Full name of the spans topic under ``prefix``."""
    return SPANS.full_name(prefix)


def decode_span_message(value: bytes) -> Events:
    """A spans-topic message value → its span events (an array, or one object)."""
    data = json.loads(value)
    return data if isinstance(data, list) else [data]


async def consume_span_events(
    bootstrap_servers: str,
    topic: str,
    *,
    expected: int | None = None,
    until: Callable[[Events], bool] | None = None,
    wait_s: float = 20.0,
    settle: float = 0.0,
) -> Events:
    """Span events of ``topic`` from the beginning, once ``expected`` arrived (or ``until(events)`` holds).

    Stops after ``wait_s`` seconds whatever arrived (the caller asserts on what it got). ``settle``
    keeps reading that long after the goal is met, so a test can assert that nothing more came.
    """
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    events: Events = []
    try:
        deadline = time.monotonic() + wait_s
        partitions: set[int] | None = None
        while not partitions:
            await consumer.topics()  # refreshes metadata
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"topic {topic} does not exist")
                await asyncio.sleep(0.2)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)

        def done() -> bool:
            if until is not None:
                return until(events)
            return expected is not None and len(events) >= expected

        settle_until: float | None = None
        while True:
            now = time.monotonic()
            if settle_until is None and done():
                settle_until = now + settle
            if (settle_until is not None and now >= settle_until) or now >= deadline:
                break
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            for records in batches.values():
                for record in records:
                    if record.value is not None:
                        events.extend(decode_span_message(record.value))
    finally:
        await consumer.stop()
    return events


def consume_span_events_sync(bootstrap_servers: str, topic: str, **options: Any) -> Events:
    """:func:`consume_span_events` for synchronous tests (runs its own event loop)."""
    return asyncio.run(consume_span_events(bootstrap_servers, topic, **options))


@functools.cache
def _span_validator() -> Any:
    import jsonschema

    schema = json.loads(SPAN_EVENT_SCHEMA.read_text())
    return jsonschema.Draft202012Validator(schema)


def validate_span_event(event: dict[str, Any]) -> SpanEvent:
    """Check one wire event against the checked-in JSON Schema and the pydantic model; return the model.

    Raises ``jsonschema.ValidationError`` or ``pydantic.ValidationError`` naming what is wrong.
    """
    _span_validator().validate(event)
    return parse_span(event)

"""faust's topic sends do not give up the event loop once its producer is running.

Every ``Topic.send`` (and every table write faust's producer buffer hands over) first awaits
``App.maybe_start_producer``, whose stampede guard yields to the loop three times. On a busy loop each yield
waits a whole turn, and faust's buffer of table writes drained at about a dozen records a second.
:func:`glassbox.common.faust_app.create_app` installs a lookup that returns the running producer at once; this
counts the loop turns 300 sends take on a real producer against Tansu, and reads the records back.
"""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer, TopicPartition

from glassbox.common.faust_app import create_app
from glassbox.common.kafka import ensure_topics
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.embedded.broker import EmbeddedBroker

SENDS = 300


async def sends_and_turns(kafka: KafkaSettings, topic_name: str) -> int:
    app = create_app("turns-test", kafka, PipelineSettings(spans_partitions=1))
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw", partitions=1)
    loop = asyncio.get_running_loop()
    turns = 0

    def tick() -> None:
        nonlocal turns
        turns += 1
        loop.call_soon(tick)

    await app.producer.start()
    try:
        await topic.send(key=b"warm-up", value=b"warm-up")  # the first send may start things and wait for metadata
        loop.call_soon(tick)
        await asyncio.sleep(0)
        start = turns
        futures = [await topic.send(key=b"k", value=str(i).encode()) for i in range(SENDS)]
        used = turns - start
        await asyncio.gather(*futures)
        return used
    finally:
        await app.producer.stop()


async def read_values(servers: str, topic: str, expected: int) -> list[bytes]:
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, group_id=None, fetch_max_wait_ms=50)
    await consumer.start()
    values: list[bytes] = []
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        for _ in range(100):
            for records in (await consumer.getmany(timeout_ms=100)).values():
                values += [r.value for r in records if r.value is not None]
            if len(values) >= expected:
                break
    finally:
        await consumer.stop()
    return values


def test_300_topic_sends_take_a_few_loop_turns_not_three_each(broker: EmbeddedBroker, unique: str) -> None:
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"t{unique}.")
    ensure_topics(kafka, PipelineSettings(spans_partitions=1))
    topic = f"t{unique}.glassbox.pipeline-metrics"  # created above, with one partition
    turns = asyncio.run(sends_and_turns(kafka, topic))
    assert turns < SENDS // 10, f"{SENDS} sends took {turns} loop turns (faust's stampede guard: about {3 * SENDS})"
    values = asyncio.run(read_values(broker.bootstrap_servers, topic, SENDS + 1))
    assert values == [b"warm-up", *(str(i).encode() for i in range(SENDS))]

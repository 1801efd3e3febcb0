"""The sink's aiokafka group consumer: manual commits, earliest start, rebalance callbacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener

from glassbox.common.kafka import aiokafka_consumer_options
from glassbox.common.settings import KafkaSettings, PipelineSettings

PartitionsCallback = Callable[[set[TopicPartition]], Awaitable[None]]


def group_consumer(
    kafka: KafkaSettings,
    pipeline: PipelineSettings,
    topics: list[str],
    *,
    on_assigned: PartitionsCallback,
    on_revoked: PartitionsCallback,
) -> AIOKafkaConsumer:
    """A consumer in ``pipeline.sink_group`` subscribed to ``topics`` (not started).

    Offsets are committed by the caller only; a new group starts at the earliest offset.
    """
    consumer = AIOKafkaConsumer(
        group_id=pipeline.sink_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(pipeline.session_timeout_s * 1000),
        heartbeat_interval_ms=max(100, int(pipeline.session_timeout_s * 1000 / 3)),
        **aiokafka_consumer_options(kafka),
    )
    consumer.subscribe(topics, listener=_Listener(on_assigned, on_revoked))
    return consumer


class _Listener(ConsumerRebalanceListener):
    def __init__(self, on_assigned: PartitionsCallback, on_revoked: PartitionsCallback) -> None:
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._on_revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._on_assigned(set(assigned))

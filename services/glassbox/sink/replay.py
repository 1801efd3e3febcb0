"""What ClickHouse already holds, per assigned partition: the basis of exactly-once in effect.

Each data row carries (log id, topic, partition, offset); materialized views keep the
highest offset per (log, topic, partition, table) in ``sink_offsets``. When a partition
is assigned, its stored maxima are loaded, and rows of a message at or below the maximum
of their table are skipped: a message inserted before a crash (but not committed) is
read again and adds nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import TopicPartition

from glassbox.common.logging import get_logger
from glassbox.common.settings import KafkaSettings
from glassbox.sink.logs import describe_logs
from glassbox.sink.writer import BatchWriter

log = get_logger(__name__)


class StoredOffsets:
    def __init__(self, kafka: KafkaSettings) -> None:
        self._kafka = kafka
        self.awaiting: set[TopicPartition] = set()
        """Assigned partitions whose stored offsets are not loaded yet (kept paused)."""
        self._stored: dict[TopicPartition, dict[str, int]] = {}
        self._unverified: set[TopicPartition] = set()
        self._log_ids: dict[str, str] = {}

    def log_id(self, topic: str) -> str:
        return self._log_ids.get(topic, "")

    def stored(self, tp: TopicPartition) -> dict[str, int]:
        """Table → highest offset of ``tp`` already in that table."""
        return self._stored.get(tp, {})

    def assigned(self, tps: set[TopicPartition]) -> None:
        self.awaiting |= tps

    def revoked(self, tps: set[TopicPartition]) -> None:
        self.awaiting -= tps
        self._unverified -= tps
        for tp in tps:
            self._stored.pop(tp, None)

    async def load(
        self,
        writer: BatchWriter,
        call: Callable[..., Awaitable[Any]],
    ) -> set[TopicPartition]:
        """Load the awaiting partitions; returns those now ready. Raises when Kafka or ClickHouse fails."""
        tps = set(self.awaiting)
        if not tps:
            return set()
        topics = {tp.topic for tp in tps}
        loop = asyncio.get_running_loop()
        self._log_ids.update(await loop.run_in_executor(None, describe_logs, self._kafka, topics))
        keys = {tp: (self.log_id(tp.topic), tp.topic, tp.partition) for tp in tps}
        stored = await call(writer.stored_offsets, list(keys.values()))
        ready = tps & self.awaiting
        for tp in ready:
            self._stored[tp] = stored.get(keys[tp], {})
            self._unverified.add(tp)
        self.awaiting -= ready
        return ready

    def verify(self, tp: TopicPartition, highwater: int | None) -> None:
        """On the first fetch of a partition: drop stored offsets that lie at or beyond its log end.

        Such offsets cannot belong to this log (a broker that lost its data, a topic re-created
        on a broker that reports no topic ids); applying them would skip new messages. The log
        end comes from the fetch response (the high watermark).
        """
        if tp not in self._unverified or highwater is None:
            return
        self._unverified.discard(tp)
        offsets = self._stored.get(tp)
        if offsets and max(offsets.values()) >= highwater:
            log.warning("sink.stored_offsets_ignored", topic=tp.topic, partition=tp.partition,
                        stored=max(offsets.values()), log_end=highwater)  # fmt: skip
            self._stored[tp] = {}

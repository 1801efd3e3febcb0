"""The dataset-records service: inside the process that owns ClickHouse, store the rows other processes send.

Runs in the embedded stack beside the sink (register :func:`dataset_services` as an extra
service). It reads ``glassbox.dataset-records`` (one partition, assigned directly: no group
rebalance to wait for), stores each record's rows in message order (consecutive records of one
table in one insert), then commits the offset: at least once, made exactly once in effect by the
tables' ReplacingMergeTree keys. A record that is not valid goes to the dead-letters topic
(stage ``dataset-records``) with its bytes and reason; an insert that fails for a reason the
engine calls retryable is retried with backoff, never dropped; one refused for its values is
dead-lettered.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from glassbox.common.clickhouse import is_retryable, writer_client
from glassbox.common.logging import get_logger
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.datasets.backend import DirectWriter
from glassbox.datasets.records import DATASET_RECORDS, Record, RecordError, decode
from glassbox.models.deadletter import dead_letter_of
from glassbox.models.messages import Rejected, RejectReason
from glassbox.models.topics import DEAD_LETTERS

log = get_logger("glassbox.datasets.service")
STAGE = "dataset-records"
GROUP = "glassbox-dataset-records"


class DatasetRecordsService:
    """Consumes dataset records and writes them to ClickHouse; start/drain/stop like the stack's other extras."""

    def __init__(self, kafka: KafkaSettings, clickhouse: ClickHouseSettings, pipeline: PipelineSettings) -> None:
        self.kafka, self.clickhouse, self.pipeline = kafka, clickhouse, pipeline
        self.topic = DATASET_RECORDS.full_name(kafka.topic_prefix)
        self.stored_rows = 0
        self.dead_letters = 0
        self._consumer: Any = None
        self._producer: Any = None
        self._writer: DirectWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        from glassbox.common.kafka import aiokafka_consumer_options, aiokafka_options, ensure_topics

        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: ensure_topics(self.kafka, self.pipeline, specs=(DATASET_RECORDS,)))
        client = await loop.run_in_executor(None, writer_client, self.clickhouse)
        self._writer = DirectWriter(client, self.clickhouse.database)
        options = aiokafka_options(self.kafka)
        self._consumer = AIOKafkaConsumer(
            group_id=GROUP,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **aiokafka_consumer_options(self.kafka),
        )
        await self._consumer.start()
        self._consumer.assign([TopicPartition(self.topic, 0)])
        self._producer = AIOKafkaProducer(acks="all", **options)
        await self._producer.start()
        self._task = asyncio.ensure_future(self._run())
        log.info("dataset_records.started", topic=self.topic)

    async def _run(self) -> None:
        from aiokafka.errors import KafkaError

        assert self._consumer is not None
        while not self._stopping.is_set():
            messages: list[Any] = []
            try:
                batches = await self._consumer.getmany(timeout_ms=200, max_records=2000)
                messages = sorted((m for batch in batches.values() for m in batch), key=lambda m: m.offset)
                if not messages:
                    self._idle.set()
                    continue
                self._idle.clear()
                await self._store(messages)
                await self._consumer.commit()
            except Exception as exc:  # never die, never skip: read the batch again (its rows replace themselves)
                event = "dataset_records.kafka_error" if isinstance(exc, KafkaError) else "dataset_records.failed"
                log.warning(event, error=repr(exc))
                if messages:
                    self._rewind(messages[0])
                await asyncio.sleep(1.0)

    def _rewind(self, first: Any) -> None:
        from aiokafka import TopicPartition

        with contextlib.suppress(Exception):
            self._consumer.seek(TopicPartition(first.topic, first.partition), first.offset)

    async def _store(self, messages: list[Any]) -> None:
        pending: list[tuple[Any, Record]] = []
        for message in messages:
            try:
                record = decode(message.value)
            except RecordError as exc:
                await self._dead_letter(message, RejectReason.INVALID, str(exc))
                continue
            if pending and pending[-1][1].table != record.table:
                await self._insert(pending)
                pending = []
            pending.append((message, record))
        if pending:
            await self._insert(pending)

    async def _insert(self, pending: list[tuple[Any, Record]]) -> None:
        table = pending[0][1].table
        rows = [row for _, record in pending for row in record.rows]
        try:
            await self._with_retries(table, rows)
        except Exception as exc:
            if is_retryable(exc):  # stopping while ClickHouse is away: stays uncommitted, stored next time
                raise
            # refused for its values: store the others, dead-letter the culprits
            if len(pending) == 1:
                await self._dead_letter(pending[0][0], RejectReason.STORAGE, f"{type(exc).__name__}: {exc}"[:2000])
                return
            for item in pending:
                await self._insert([item])
            return
        self.stored_rows += len(rows)

    async def _with_retries(self, table: str, rows: list[Any]) -> None:
        assert self._writer is not None
        delay = 0.2
        loop = asyncio.get_running_loop()
        while True:
            try:
                await loop.run_in_executor(None, self._writer.write, table, rows)
                return
            except Exception as exc:
                if not is_retryable(exc) or self._stopping.is_set():
                    raise
                log.warning("dataset_records.retrying", table=table, error=repr(exc), delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.pipeline.sink_max_backoff_s)

    async def _dead_letter(self, message: Any, reason: RejectReason, text: str) -> None:
        letter = dead_letter_of(Rejected(-1, reason, text, message.value or b""), STAGE, message)
        await self._producer.send_and_wait(
            DEAD_LETTERS.full_name(self.kafka.topic_prefix),
            letter.model_dump_json().encode(),
            key=message.topic.encode(),
        )
        self.dead_letters += 1
        log.warning("dataset_records.dead_letter", reason=text[:300], offset=message.offset)

    async def drain(self, grace_s: float = 10.0) -> None:
        """Wait (up to ``grace_s``) until every record sent so far is stored."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace_s)

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 10)
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.client.close()


def dataset_services(
    app: Any, kafka: KafkaSettings, clickhouse: ClickHouseSettings, pipeline: PipelineSettings
) -> list[Any]:
    """The extra services the embedded stack runs for datasets (``app`` is not needed: plain aiokafka)."""
    return [DatasetRecordsService(kafka, clickhouse, pipeline)]

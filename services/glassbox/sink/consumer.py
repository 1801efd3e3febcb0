"""The sink: Kafka (spans, traces, evaluation results, dead letters) → ClickHouse.

Loop: getmany → rows per table (:mod:`.process`) → flush a table at ``sink_batch_rows`` rows
or when its oldest row is ``sink_batch_seconds`` old (less the time its recent writes took, see
:class:`~glassbox.sink.flusher.Flusher`) → one insert per table in a worker
thread (the event loop and heartbeats stay alive) → commit offsets only below the first row
not stored yet. Replays insert nothing twice (:mod:`.replay`); while ClickHouse is down the
batch is kept, partitions are paused and the write retried forever (:mod:`.outage`); rows
ClickHouse refuses go to ``dead_letters`` (:mod:`.writer`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError

from glassbox.common.clickhouse import ClickHouseUnavailableError, Client, writer_client
from glassbox.common.kafka import topic_name
from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.common.runtime import CollectBetweenBatches
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.models.topics import DEAD_LETTERS, EVALUATION_RESULTS, PIPELINE_METRICS, SPANS, TRACES
from glassbox.sink.batch import Progress
from glassbox.sink.flusher import Flusher
from glassbox.sink.group import group_consumer
from glassbox.sink.metrics import SELF_TP, SinkMetrics
from glassbox.sink.migrations import MigrationError, migrate
from glassbox.sink.outage import Outage, retrying, short_error, sleep_unless
from glassbox.sink.process import MessageRows, TopicRole, process_message, processing_failure
from glassbox.sink.replay import StoredOffsets
from glassbox.sink.stats import SinkStats
from glassbox.sink.tables import PIPELINE_METRICS as METRICS_TABLE
from glassbox.sink.tables import Source
from glassbox.sink.writer import BatchWriter

log = get_logger(__name__)
T = TypeVar("T")
MAX_POLL_S = 0.5
COMMIT_INTERVAL_S = 1.0


class Sink:
    """The Kafka → ClickHouse writer. ``await run()`` until ``await stop()`` (or task cancellation).

    ``client_factory`` returns the ClickHouse client to write with (default: a writer
    client from the settings); ``migrate`` applies pending migrations once connected;
    ``stop_timeout_s`` bounds how long stopping keeps retrying to store pending rows (rows
    not stored are not committed, so they are read again later). ``max_records`` bounds the messages taken
    per poll (a spans message carries a trace's spans: 2,000 messages are a batch's worth of rows, and the
    sink writes between polls). ``collect_between_batches``
    moves the process's garbage collection to the points right after a batch was written
    (:class:`~glassbox.common.runtime.CollectBetweenBatches`): for the sink's own process and the worker.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        clickhouse: ClickHouseSettings,
        pipeline: PipelineSettings,
        *,
        client_factory: Callable[[], Client] | None = None,
        stop_timeout_s: float = 30.0,
        max_records: int = 2_000,
        migrate: bool = False,
        collect_between_batches: bool = False,
    ) -> None:
        self.kafka, self.clickhouse, self.pipeline = kafka, clickhouse, pipeline
        self.stats = SinkStats()
        self.started = asyncio.Event()
        """Set once the consumer has started (partitions may still be loading)."""
        self._client_factory = client_factory or (lambda: writer_client(clickhouse))
        self._stop_timeout_s = stop_timeout_s
        self._max_records = max_records
        self._migrate = migrate
        self._roles = {
            topic_name(SPANS, kafka): TopicRole.SPANS,
            topic_name(TRACES, kafka): TopicRole.TRACES,
            topic_name(EVALUATION_RESULTS, kafka): TopicRole.RESULTS,
            topic_name(DEAD_LETTERS, kafka): TopicRole.DEAD_LETTERS,
            topic_name(PIPELINE_METRICS, kafka): TopicRole.METRICS,
        }
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="glassbox-sink-clickhouse")
        self._outage = Outage(self.stats, pipeline.sink_max_backoff_s, self._pause_all, self._resume_ready)
        self.metrics = SinkMetrics(pipeline.metrics_interval_s)
        self._flusher = Flusher(pipeline, self.stats, self._outage, self._call, on_batch=self.metrics.observe_batch)
        self._progress = Progress()
        self._offsets = StoredOffsets(kafka)
        self._consumer: AIOKafkaConsumer | None = None
        self._last_commit = 0.0
        self._running = False
        self._stopping = asyncio.Event()
        self._done = asyncio.Event()
        self._warn = RateLimitedLog(log, 10.0)
        self._gc = CollectBetweenBatches() if collect_between_batches else None

    @property
    def topics(self) -> list[str]:
        return list(self._roles)

    async def run(self) -> None:
        """Consume and write until stopped; on the way out flush, commit and leave the group."""
        self._running = True
        try:
            writer = await self._retry("clickhouse", lambda: self._call(self._connect))
            self._flusher.writer = writer
            if writer is None or not await self._retry("kafka", self._start_consumer):
                return
            self.started.set()
            log.info("sink.started", topics=self.topics, group=self.pipeline.sink_group)
            if self._gc is not None:
                self._gc.start(time.monotonic())
            while not self._stopping.is_set():
                await self._step()
        finally:
            if self._gc is not None:
                self._gc.stop()
            await self._shutdown()
            self._done.set()

    async def stop(self) -> None:
        """Ask run() to finish (flush, commit, leave the group) and wait until it has."""
        self._stopping.set()
        if self._running:
            await self._done.wait()

    async def drain(self, timeout_s: float = 60.0) -> bool:
        """Store what the topics hold now: True once every assigned partition is read up to its high
        watermark and every row is stored and committed; False after ``timeout_s``. run() goes on."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and not self._stopping.is_set():
            if await self._caught_up() and await self._flusher.flush(force=True):
                await self._commit(force=True)
                if not self._flusher.pending_rows():
                    return True
            await asyncio.sleep(0.1)
        return False

    async def _caught_up(self) -> bool:
        consumer = self._consumer
        if consumer is None or self._offsets.awaiting or self._outage.active or not consumer.assignment():
            return False
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None or await consumer.position(tp) < highwater:
                return False
        return True

    # ------------------------------------------------------------------ start and stop

    def _connect(self) -> BatchWriter:
        client = self._client_factory()
        if self._migrate:
            migrate(client, self.clickhouse)
        return BatchWriter(client, self.clickhouse.database)

    async def _start_consumer(self) -> bool:
        consumer = group_consumer(
            self.kafka, self.pipeline, self.topics, on_assigned=self._on_assigned, on_revoked=self._on_revoked
        )
        self._consumer = consumer  # before start(): the rebalance listener pauses new partitions on it
        try:
            await consumer.start()
        except BaseException:
            self._consumer = None
            await consumer.stop()
            raise
        return True

    async def _retry(self, what: str, attempt: Callable[[], Awaitable[T]]) -> T | None:
        """Retry until it works or the sink stops; a locked chDB or a migration error is final."""
        final = (ClickHouseUnavailableError, MigrationError)
        return await retrying(what, attempt, stopping=self._stopping, max_backoff_s=self.pipeline.sink_max_backoff_s,
                              final=final, warn=self._warn)  # fmt: skip

    async def _shutdown(self) -> None:
        consumer, flusher = self._consumer, self._flusher
        if consumer is not None:
            deadline = time.monotonic() + self._stop_timeout_s
            while flusher.pending_rows() and time.monotonic() < deadline:
                if not await flusher.flush(force=True):
                    await asyncio.sleep(max(0.0, min(self._outage.retry_at, deadline) - time.monotonic()))
            await self._commit(force=True)
            if flusher.pending_rows():
                log.warning("sink.stopped_with_pending_rows", rows=flusher.pending_rows())
            self._consumer = None
            await consumer.stop()
        if flusher.writer is not None:
            await self._call(flusher.writer.close)
        self._executor.shutdown(wait=True)
        log.info("sink.stopped", **self.stats.snapshot())

    # ------------------------------------------------------------------ the loop

    async def _step(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        await self._load_stored_offsets(consumer)
        try:
            timeout_ms = int(self._flusher.wait_s(MAX_POLL_S) * 1000)
            records = await consumer.getmany(timeout_ms=timeout_ms, max_records=self._max_records)
        except KafkaError as exc:
            self._warn.warning("sink.fetch_failed", error=short_error(exc))
            await sleep_unless(self._stopping, 1.0)
            return
        now = time.monotonic()
        for tp, messages in records.items():
            if tp in self._offsets.awaiting:  # fetched before its pause took effect: read again once loaded
                consumer.seek(tp, messages[0].offset)
                continue
            self._offsets.verify(tp, consumer.highwater(tp))
            self._ingest(tp, messages, now)
        if self.metrics.due(now):
            self._flusher.add(METRICS_TABLE.name, SELF_TP, 0, self.metrics.rows(self.stats, self._lags()), now)
        batches = self.stats.batches
        await self._flusher.flush()
        wrote = self.stats.batches > batches
        await self._commit(force=wrote)
        if self._gc is not None:
            self._gc.step(time.monotonic(), wrote)

    def _ingest(self, tp: TopicPartition, messages: list[ConsumerRecord[Any, Any]], now: float) -> None:
        role = self._roles[tp.topic]
        stored = self._offsets.stored(tp)
        log_id = self._offsets.log_id(tp.topic)
        for msg in messages:
            source = Source(log_id, tp.topic, tp.partition, msg.offset, msg.key)
            out = self._process(role, msg.value, source)
            self.stats.messages += 1
            for table, rows in out.rows.items():
                if msg.offset <= stored.get(table, -1):
                    self.stats.skipped_replayed += len(rows)
                else:
                    self.stats.dead_letters += len(rows) if out.invalid else 0
                    self._flusher.add(table, tp, msg.offset, rows, now)
            self._progress.consumed(tp, msg.offset)

    def _process(self, role: TopicRole, value: bytes | None, source: Source) -> MessageRows:
        try:
            out = process_message(role, value, source, max_bytes=self.pipeline.max_message_bytes)
        except Exception as exc:  # a bug must not stop the pipeline: the message becomes a dead letter
            log.exception("sink.process_failed", topic=source.topic, partition=source.partition, offset=source.offset)
            out = processing_failure(value, source, exc)
        self.stats.skipped_invalid += out.rejected_elements
        self.stats.invalid_messages += int(out.invalid)
        return out

    async def _commit(self, *, force: bool = False, only: set[TopicPartition] | None = None) -> None:
        """Commit, per partition, up to the first row not stored yet (at most once a second unless forced)."""
        consumer = self._consumer
        now = time.monotonic()
        if consumer is None or (not force and now - self._last_commit < COMMIT_INTERVAL_S):
            return
        assigned = consumer.assignment()
        offsets = {
            tp: offset
            for tp, offset in self._progress.committable(self._flusher.pending_offsets(), only).items()
            if tp in assigned
        }
        if not offsets:
            return
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            self._warn.warning("sink.commit_failed", error=short_error(exc))
            return
        self._last_commit = now
        self._progress.mark_committed(offsets)
        self.stats.commits += 1

    def _lags(self) -> dict[tuple[str, int], int]:
        """Consumer lag per assigned partition: high watermark − next offset to consume (known ones only)."""
        consumer = self._consumer
        if consumer is None:
            return {}
        lags: dict[tuple[str, int], int] = {}
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            position = self._progress.next_offset.get(tp)
            if highwater is not None and position is not None:
                lags[(tp.topic, tp.partition)] = max(0, highwater - position)
        return lags

    # ------------------------------------------------------------------ partitions

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        """New partitions stay paused until their stored offsets are known."""
        self._offsets.assigned(assigned)
        if self._consumer is not None and assigned:
            self._consumer.pause(*assigned)

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        """One attempt to store and commit what is pending; then forget the partitions (their rows replay)."""
        if self._flusher.writer is not None and not self._outage.active:
            await self._flusher.flush(force=True)
            await self._commit(force=True, only=revoked)
        await self._flusher.drop_partitions(revoked)
        self._progress.forget(revoked)
        self._offsets.revoked(revoked)

    async def _load_stored_offsets(self, consumer: AIOKafkaConsumer) -> None:
        """Load stored offsets of newly assigned partitions (retrying like a write), then resume them."""
        writer = self._flusher.writer
        if not self._offsets.awaiting or writer is None or self._outage.waiting():
            return
        try:
            ready = await self._offsets.load(writer, self._call)
        except Exception as exc:
            self._outage.failed(exc, event="sink.offsets_load_failed", partitions=len(self._offsets.awaiting))
            return
        if self._outage.active and not self._flusher.inflight:
            self._outage.recovered()
        if not self._outage.active:
            consumer.resume(*(ready & consumer.assignment()))

    def _pause_all(self) -> None:
        if self._consumer is not None:
            self._consumer.pause(*self._consumer.assignment())

    def _resume_ready(self) -> None:
        if self._consumer is not None:
            self._consumer.resume(*(self._consumer.assignment() - self._offsets.awaiting))

    # ------------------------------------------------------------------ helpers

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking ClickHouse call in the sink's one ClickHouse thread."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

"""Per-table buffers and their writes: when a table is due, its rows go to ClickHouse in one batch.

A frozen batch stays "in flight" until a write succeeds; retries resend exactly the same
rows with the same deduplication token. Writes run in the sink's ClickHouse thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from glassbox.common.logging import get_logger
from glassbox.common.settings import PipelineSettings
from glassbox.sink.batch import TP, Batch, TableBuffer
from glassbox.sink.outage import Outage
from glassbox.sink.process import PendingRow
from glassbox.sink.stats import SinkStats
from glassbox.sink.tables import DEAD_LETTERS, TABLES
from glassbox.sink.writer import BatchWriter, WriteResult

log = get_logger(__name__)

Call = Callable[..., Awaitable[Any]]


class Flusher:
    def __init__(
        self,
        pipeline: PipelineSettings,
        stats: SinkStats,
        outage: Outage,
        call: Call,
        on_batch: Callable[[str, int, float], None] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.on_batch = on_batch
        """Called after each successful write with (table, rows inserted, seconds)."""
        self.stats = stats
        self.outage = outage
        self.writer: BatchWriter | None = None
        self._call = call
        self.buffers = {t.name: TableBuffer(t.name) for t in TABLES}
        self.inflight: dict[str, Batch] = {}
        self.lock = asyncio.Lock()
        self.lead_s: dict[str, float] = {}
        """Per table, how much earlier than ``sink_batch_seconds`` its buffer falls due: the smoothed time its
        recent writes took (at most half the setting). The sink reads nothing while it writes, so a row that
        arrives as a write starts is read only once it ends, then waits in the next batch and for that batch's
        write: starting early by a write's time keeps the insert cycle near ``sink_batch_seconds`` and that
        row's wait near the setting plus one write, not plus two."""

    def add(self, table: str, tp: TP, offset: int, rows: list[PendingRow], now: float) -> None:
        self.buffers[table].add(tp, offset, rows, now)

    def pending_rows(self) -> int:
        return sum(len(b.rows) for b in self.buffers.values()) + sum(len(b.rows) for b in self.inflight.values())

    def pending_offsets(self) -> list[dict[TP, int]]:
        """First pending offset per partition, for every buffer and batch in flight."""
        return [b.first_offsets for b in self.buffers.values()] + [b.first_offsets for b in self.inflight.values()]

    def wait_s(self, longest: float) -> float:
        """How long the sink may wait for messages before a write is due (the next retry in an outage)."""
        times = [b.since + self.max_age_s(name) for name, b in self.buffers.items() if b.since is not None]
        due = self.outage.retry_at if self.outage.active else min(times, default=None)
        return max(0.005, min(longest, due - time.monotonic())) if due is not None else longest

    def max_age_s(self, table: str) -> float:
        """Age of a table's oldest pending row at which its buffer is due: ``sink_batch_seconds`` less its lead."""
        return self.pipeline.sink_batch_seconds - self.lead_s.get(table, 0.0)

    async def flush(self, force: bool = False) -> bool:
        """Write what is due (everything when forced). False when a write failed; it is retried later."""
        async with self.lock:
            now = time.monotonic()
            for name, buffer in self.buffers.items():
                if name not in self.inflight and (
                    (force and buffer.rows) or buffer.due(now, self.pipeline.sink_batch_rows, self.max_age_s(name))
                ):
                    self.inflight[name] = buffer.freeze()
            if not self.inflight:
                return True
            if self.outage.waiting(now) and not force:
                return False
            for name in list(self.inflight):
                batch = self.inflight[name]
                started = time.perf_counter()
                try:
                    result = await self._call(self._writer().write, batch)
                except Exception as exc:
                    self.outage.failed(exc, table=name, rows=len(batch.rows))
                    return False
                del self.inflight[name]
                seconds = time.perf_counter() - started
                self._record(batch, result, seconds)
                self._learn_lead(name, seconds)
            self.outage.recovered()
            return True

    def _learn_lead(self, table: str, seconds: float) -> None:
        """Fold one write's time into the table's lead: halfway to the new figure, capped at half the batch
        interval (a slow ClickHouse must not turn into ever smaller, ever more frequent inserts)."""
        lead = (self.lead_s.get(table, seconds) + seconds) / 2
        self.lead_s[table] = min(self.pipeline.sink_batch_seconds / 2, lead)

    async def drop_partitions(self, tps: set[TP]) -> None:
        """Forget the rows of partitions this sink no longer owns (they were not committed, so they replay)."""
        async with self.lock:
            for buffer in self.buffers.values():
                buffer.drop_partitions(tps)
            for batch in self.inflight.values():
                batch.drop_partitions(tps)
            self.inflight = {name: b for name, b in self.inflight.items() if b.rows}

    def _writer(self) -> BatchWriter:
        if self.writer is None:
            raise RuntimeError("the sink has no ClickHouse writer yet")
        return self.writer

    def _record(self, batch: Batch, result: WriteResult, seconds: float) -> None:
        """Count a successful write and log its canonical line."""
        stats = self.stats
        stats.batches += 1
        stats.insert_seconds += seconds
        stats.last_insert_ms = seconds * 1000
        stats.count_rows(batch.table, result.inserted)
        if result.dead_letters:
            stats.count_rows(DEAD_LETTERS.name, result.dead_letters)
        stats.refused_rows += result.refused
        stats.dropped += result.dropped
        stats.dead_letters += result.dead_letters
        if self.on_batch is not None:
            self.on_batch(batch.table, result.inserted, seconds)
        log.info(
            "sink.flush",
            table=batch.table,
            rows=result.inserted,
            refused=result.refused,
            dead_letters=result.dead_letters,
            ms=round(seconds * 1000, 1),
            total_rows=stats.rows_inserted.get(batch.table, 0),
            batches=stats.batches,
            retries=stats.retries,
            skipped_replayed=stats.skipped_replayed,
            skipped_invalid=stats.skipped_invalid,
        )

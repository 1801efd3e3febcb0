"""The flusher starts a table's write early by the time its recent writes took (the sink reads nothing while it
writes), within half the batch interval."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from glassbox.common.settings import PipelineSettings
from glassbox.sink.batch import Batch
from glassbox.sink.flusher import Flusher
from glassbox.sink.outage import Outage
from glassbox.sink.process import PendingRow
from glassbox.sink.stats import SinkStats
from glassbox.sink.tables import Source
from glassbox.sink.writer import WriteResult

TP = ("glassbox.spans", 0)


class SlowWriter:
    """Takes ``seconds[table]`` of wall time per write and stores nothing."""

    def __init__(self, seconds: dict[str, float]) -> None:
        self.seconds = seconds
        self.writes: list[tuple[str, int]] = []

    def write(self, batch: Batch) -> WriteResult:
        time.sleep(self.seconds.get(batch.table, 0.0))
        self.writes.append((batch.table, len(batch.rows)))
        return WriteResult(inserted=len(batch.rows))


async def run_inline(fn: Any, *args: Any) -> Any:
    return fn(*args)


def flusher(batch_seconds: float, writer: SlowWriter) -> Flusher:
    pipeline = PipelineSettings(sink_batch_seconds=batch_seconds, sink_batch_rows=1_000_000)
    stats = SinkStats()
    f = Flusher(pipeline, stats, Outage(stats, 1.0, lambda: None, lambda: None), run_inline)
    f.writer = writer  # type: ignore[assignment]
    return f


def add(f: Flusher, table: str, offset: int, added_at: float) -> None:
    source = Source("c/t", TP[0], TP[1], offset)
    f.add(table, TP, offset, [PendingRow([offset], source, -1, b"")], added_at)


def test_a_table_falls_due_earlier_by_the_time_its_writes_take() -> None:
    writer = SlowWriter({"spans": 0.2})
    f = flusher(1.0, writer)
    assert f.max_age_s("spans") == 1.0  # nothing learned yet
    add(f, "spans", 1, time.monotonic() - 1.0)
    assert asyncio.run(f.flush())
    assert writer.writes == [("spans", 1)]
    lead = 1.0 - f.max_age_s("spans")
    assert 0.2 <= lead < 0.35  # the write's own time
    assert f.max_age_s("traces") == 1.0  # learned per table

    add(f, "spans", 2, time.monotonic() - 0.9)  # 0.9 s old: due only because of the lead
    add(f, "traces", 2, time.monotonic() - 0.9)  # no lead: not due yet
    assert asyncio.run(f.flush())
    assert writer.writes[1:] == [("spans", 1)]
    assert asyncio.run(f.flush())  # the spans write took 0.2 s: the traces row is over 1.0 s old now
    assert writer.writes[2:] == [("traces", 1)]

    add(f, "spans", 3, time.monotonic() - 0.5)  # within the interval less the lead: waits for the rest
    lead = 1.0 - f.max_age_s("spans")
    assert f.wait_s(5.0) == pytest.approx(0.5 - lead, abs=0.05)
    assert asyncio.run(f.flush())
    assert writer.writes[3:] == []


def test_the_lead_is_smoothed_and_at_most_half_the_interval() -> None:
    writer = SlowWriter({"spans": 0.3})
    f = flusher(0.4, writer)
    add(f, "spans", 1, time.monotonic() - 1.0)
    assert asyncio.run(f.flush())
    assert f.max_age_s("spans") == pytest.approx(0.2)  # 0.3 s of write capped at 0.4 / 2

    writer.seconds["spans"] = 0.0  # writes got fast again: the lead halves with each one
    add(f, "spans", 2, time.monotonic() - 1.0)
    assert asyncio.run(f.flush())
    assert 0.4 - f.max_age_s("spans") == pytest.approx(0.1, abs=0.02)

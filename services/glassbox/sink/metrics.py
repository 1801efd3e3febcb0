"""The sink's own health figures, as ``pipeline_metrics`` rows (Stage 'sink').

The sink owns ClickHouse, so it writes its figures directly: every flush reports its batch
(table, rows, latency), and once per ``metrics_interval_s`` :meth:`SinkMetrics.rows` turns what
happened since the last report into rows — counters as increases (rows inserted per table,
messages, retries, dead letters ...), each batch latency as a sample, and the consumer lag of
every assigned partition (high watermark − position) as a gauge. The rows go through the
ordinary pipeline_metrics buffer; they belong to no Kafka partition, so they never hold back
an offset commit.
"""

from __future__ import annotations

import os
import socket
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from glassbox.sink.process import PendingRow
from glassbox.sink.stats import SinkStats
from glassbox.sink.tables import Source

STAGE = "sink"
SELF_SOURCE = Source("", "", -1, -1)
"""Where the sink's own rows 'come from': no topic, so replay bookkeeping ignores them."""
SELF_TP = ("", -1)
"""The pseudo partition the own rows are buffered under (never assigned, never committed)."""
MAX_SAMPLES = 5_000
"""Batch latency samples kept between two reports (the oldest go first)."""

COUNTERS: tuple[str, ...] = (
    "messages", "batches", "retries", "outages", "dead_letters", "refused_rows", "invalid_messages",
    "skipped_invalid", "skipped_replayed", "dropped", "commits",
)  # fmt: skip
"""SinkStats fields reported as counters (their increase per interval)."""


def instance_name() -> str:
    """'host-pid': tells the processes of one stage apart."""
    return f"{socket.gethostname()}-{os.getpid()}"


class SinkMetrics:
    """Collects the sink's figures between reports and renders them as rows."""

    def __init__(self, interval_s: float, instance: str | None = None) -> None:
        self.interval_s = interval_s
        self.instance = instance or instance_name()
        self._last = time.monotonic()
        self._last_wall = time.time()
        self._previous: dict[tuple[str, str], float] = {}
        self._samples: deque[tuple[int, str, int, float]] = deque(maxlen=MAX_SAMPLES)

    def observe_batch(self, table: str, rows: int, seconds: float) -> None:
        """Record one successful batch write (called by the flusher)."""
        self._samples.append((time.time_ns() // 1_000_000, table, rows, seconds * 1000))

    def due(self, now: float | None = None) -> bool:
        """True once an interval has passed since the last report."""
        return (time.monotonic() if now is None else now) - self._last >= self.interval_s

    def rows(self, stats: SinkStats, lags: Mapping[tuple[str, int], int]) -> list[PendingRow]:
        """The rows of one report; resets the interval. ``lags`` maps (topic, partition) to its lag."""
        now_ms = time.time_ns() // 1_000_000
        interval = max(time.time() - self._last_wall, 0.001)
        self._last, self._last_wall = time.monotonic(), time.time()
        out: list[list[Any]] = []
        totals: dict[tuple[str, str], tuple[float, dict[str, str]]] = {
            (name, ""): (float(getattr(stats, name)), {}) for name in COUNTERS
        }
        for table, count in stats.rows_inserted.items():
            totals[("rows_inserted", table)] = (float(count), {"table": table})
        for key, (total, labels) in totals.items():
            delta = total - self._previous.get(key, 0.0)
            self._previous[key] = total
            out.append(self._row(now_ms, key[0], "counter", delta, labels, interval))
        while self._samples:
            at_ms, table, rows, ms = self._samples.popleft()
            out.append(
                self._row(at_ms, "batch_latency_ms", "sample", ms, {"table": table, "rows": str(rows)}, interval)
            )
        for (topic, partition), lag in sorted(lags.items()):
            labels = {"topic": topic, "partition": str(partition)}
            out.append(self._row(now_ms, "consumer_lag", "gauge", float(lag), labels, interval))
        return [PendingRow(row, SELF_SOURCE, -1, b"") for row in out]

    def _row(
        self, at_ms: int, name: str, kind: str, value: float, labels: dict[str, str], interval: float
    ) -> list[Any]:
        return [at_ms, STAGE, self.instance, name, kind, value, labels, interval, *SELF_SOURCE.metadata()]

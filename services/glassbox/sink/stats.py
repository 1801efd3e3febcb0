"""The sink's counters, and its exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class SinkStats:
    """Counters since the sink started. Read them any time; they only grow."""

    messages: int = 0
    """Kafka messages processed."""
    rows_inserted: dict[str, int] = field(default_factory=dict)
    """Rows stored, per table."""
    batches: int = 0
    """Successful batch writes."""
    insert_seconds: float = 0.0
    """Time spent in batch writes (successful ones)."""
    last_insert_ms: float = 0.0
    retries: int = 0
    """Failed writes or offset loads that will be (or were) retried."""
    outages: int = 0
    """Times ClickHouse became unavailable."""
    dead_letters: int = 0
    """Dead letters the sink made itself: one per invalid message, one per row ClickHouse refused."""
    refused_rows: int = 0
    """Rows ClickHouse refused for their data (each one is in dead_letters)."""
    invalid_messages: int = 0
    """Traces, results or dead-letter messages that failed validation (each one is in dead_letters)."""
    skipped_invalid: int = 0
    """Span elements the decoder rejected; skipped (the assembler dead-letters them)."""
    skipped_replayed: int = 0
    """Rows not inserted because ClickHouse already had their message (sink_offsets)."""
    dropped: int = 0
    """Dead letters ClickHouse refused as well (logged; should stay 0)."""
    commits: int = 0

    def count_rows(self, table: str, rows: int) -> None:
        self.rows_inserted[table] = self.rows_inserted.get(table, 0) + rows

    def snapshot(self) -> dict[str, Any]:
        """A copy of the counters, for logs and status output."""
        out = asdict(self)
        out["rows_inserted"] = dict(self.rows_inserted)
        return out


class Backoff:
    """Exponential backoff with jitter: attempt n waits between half and all of min(cap, base * 2**n)."""

    def __init__(self, base_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        self.base_s = base_s
        self.cap_s = cap_s
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.attempts, 30)))
        self.attempts += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempts = 0

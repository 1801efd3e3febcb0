"""Per-table row buffers and per-partition commit positions (no I/O).

Rows are appended in consumption order. A buffer remembers, per partition, the offset
of its first pending row; a partition's offsets may be committed up to the smallest of
those (over every buffer and every batch still being written) or, when nothing is
pending, up to the last consumed message. So a commit never covers a row that is not
stored yet.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from glassbox.sink.process import PendingRow

TP = Hashable
"""A topic-partition (aiokafka's TopicPartition)."""


@dataclass(slots=True)
class Batch:
    """Rows frozen for one insert. Retries send the same rows with the same deduplication token."""

    table: str
    rows: list[PendingRow]
    first_offsets: dict[TP, int]
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    def drop_partitions(self, tps: set[TP]) -> int:
        """Remove the rows of ``tps``; the batch gets a new token since its content changed."""
        before = len(self.rows)
        self.rows = [r for r in self.rows if _tp(r) not in tps]
        if len(self.rows) != before:
            self.token = uuid.uuid4().hex
        self.first_offsets = {tp: o for tp, o in self.first_offsets.items() if tp not in tps}
        return before - len(self.rows)


class TableBuffer:
    """Rows pending for one table."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.rows: list[PendingRow] = []
        self.first_offsets: dict[TP, int] = {}
        self.since: float | None = None
        """Monotonic time the oldest pending row was added."""

    def add(self, tp: TP, offset: int, rows: list[PendingRow], now: float | None = None) -> None:
        if not rows:
            return
        if not self.rows:
            self.since = time.monotonic() if now is None else now
        self.rows.extend(rows)
        self.first_offsets.setdefault(tp, offset)

    def due(self, now: float, max_rows: int, max_age_s: float) -> bool:
        """Full, or its oldest row has waited long enough."""
        if not self.rows:
            return False
        return len(self.rows) >= max_rows or (self.since is not None and now - self.since >= max_age_s)

    def freeze(self) -> Batch:
        """Move every pending row into a new batch."""
        batch = Batch(self.table, self.rows, self.first_offsets)
        self.rows, self.first_offsets, self.since = [], {}, None
        return batch

    def drop_partitions(self, tps: set[TP]) -> int:
        before = len(self.rows)
        self.rows = [r for r in self.rows if _tp(r) not in tps]
        self.first_offsets = {tp: o for tp, o in self.first_offsets.items() if tp not in tps}
        if not self.rows:
            self.since = None
        return before - len(self.rows)


class Progress:
    """Per partition: the next offset to consume and the last committed offset."""

    def __init__(self) -> None:
        self.next_offset: dict[TP, int] = {}
        self.committed: dict[TP, int] = {}

    def consumed(self, tp: TP, offset: int) -> None:
        """Record that the message at ``offset`` was processed (its rows are buffered or skipped).

        The first message read from a partition was read from its committed (or reset)
        position, so that offset counts as committed already.
        """
        self.committed.setdefault(tp, offset)
        self.next_offset[tp] = offset + 1

    def committable(self, pending: Iterable[dict[TP, int]], only: set[TP] | None = None) -> dict[TP, int]:
        """Offsets that may be committed now and are ahead of the last commit."""
        safe = dict(self.next_offset)
        for firsts in pending:
            for tp, offset in firsts.items():
                if tp in safe and offset < safe[tp]:
                    safe[tp] = offset
        return {
            tp: offset
            for tp, offset in safe.items()
            if (only is None or tp in only) and offset > self.committed.get(tp, -1)
        }

    def mark_committed(self, offsets: dict[TP, int]) -> None:
        self.committed.update(offsets)

    def forget(self, tps: set[TP]) -> None:
        for tp in tps:
            self.next_offset.pop(tp, None)
            self.committed.pop(tp, None)


def _tp(row: PendingRow) -> tuple[str, int]:
    return (row.source.topic, row.source.partition)

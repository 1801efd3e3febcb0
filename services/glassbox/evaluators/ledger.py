"""State the evaluator worker keeps in changelogged faust tables: finished evaluation ids and judge spend.

- **Done ids**, per trace (the table is keyed by trace id, like the requests topic, so a trace's
  entry lives on the partition that receives its requests): the time of the last change, the
  16-byte evaluation ids whose results were published, and judge results stored but not yet
  confirmed published. A replayed request finds its ids there and neither calls a judge again nor
  publishes a result twice; a stored result is re-published instead of being judged again.
- **Spend**, in a global table every worker reads: one key per (evaluator, budget window, worker
  instance), written only by that instance (so concurrent workers never lose each other's
  updates) and summed over instances. It survives restarts, so a restarted worker keeps the day's
  budget it already spent.
"""

from __future__ import annotations

import json
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_HEADER = struct.Struct(">dI")


@dataclass(frozen=True, slots=True)
class DoneEntry:
    """A trace's entry in the done table."""

    stamp: float = 0.0
    """Time of the last change (seconds); entries older than the TTL are deleted."""
    ids: frozenset[str] = frozenset()
    """Evaluation ids whose results were published."""
    pending: dict[str, list[str]] = field(default_factory=dict)
    """Evaluation id → result messages (JSON) stored before publishing: a crash after the judge answered
    re-publishes these instead of asking the judge again."""


def encode_done(entry: DoneEntry) -> bytes:
    """Bytes of a done-table entry: time, id count, the ids (16 bytes each), then the pending results as JSON."""
    ids = sorted(entry.ids)
    body = _HEADER.pack(entry.stamp, len(ids)) + b"".join(bytes.fromhex(i) for i in ids)
    return body + (json.dumps(entry.pending).encode() if entry.pending else b"")


def decode_done(value: bytes | None) -> DoneEntry:
    """The done-table entry in ``value`` (an empty one for None)."""
    if not value or len(value) < _HEADER.size:
        return DoneEntry()
    stamp, count = _HEADER.unpack_from(value)
    end = _HEADER.size + 16 * count
    ids = frozenset(value[i : i + 16].hex() for i in range(_HEADER.size, end, 16))
    pending = json.loads(value[end:]) if len(value) > end else {}
    return DoneEntry(stamp, ids, pending)


class DoneStore:
    """The done table of a worker: read, change (optionally waiting for the changelog), expire."""

    def __init__(self, table: Any, producer: Callable[[], Any]) -> None:
        self.table = table
        self.producer = producer
        self._expiry: deque[tuple[float, bytes]] = deque()

    def get(self, key: bytes) -> DoneEntry:
        return decode_done(self.table.get(key))

    async def change(self, key: bytes, change: Callable[[DoneEntry], DoneEntry], durable: bool = True) -> None:
        """Apply ``change`` to a trace's entry; when ``durable``, return once the changelog holds it."""
        entry = change(self.get(key))
        self.table[key] = encode_done(entry)
        self._expiry.append((entry.stamp, key))
        if durable:
            await self.producer().flush()

    async def stash(self, key: bytes, evaluation_id: str, results: list[str]) -> None:
        """Store result messages before they are published (durably)."""
        await self.change(key, lambda e: DoneEntry(time.time(), e.ids, {**e.pending, evaluation_id: results}))

    async def mark(self, key: bytes, ids: list[str], durable: bool = True) -> None:
        """Record ids as published (dropping their stored results)."""
        done = set(ids)
        await self.change(
            key,
            lambda e: DoneEntry(time.time(), e.ids | done, {k: v for k, v in e.pending.items() if k not in done}),
            durable,
        )

    def rebuild(self) -> None:
        """Index the entries by time after the table recovered from its changelog."""
        self._expiry = deque(sorted((decode_done(v).stamp, k) for k, v in list(self.table.items())))

    def expire(self, horizon: float) -> int:
        """Delete entries last changed before ``horizon``; returns how many."""
        deleted = 0
        while self._expiry and self._expiry[0][0] < horizon:
            _, key = self._expiry.popleft()
            stamp = self.get(key).stamp
            if stamp and stamp < horizon:
                del self.table[key]
                deleted += 1
        return deleted


class TableLedger:
    """A :class:`~glassbox.evaluators.limits.SpendLedger` over a faust (global) table with raw bytes keys and values."""

    def __init__(self, table: Any, instance: str, clock: Any = time.time) -> None:
        self.table = table
        self.instance = instance
        self.clock = clock
        self._own: dict[tuple[str, str], float] = {}

    @staticmethod
    def key(evaluator: str, window: str, instance: str) -> bytes:
        return f"{evaluator}|{window}|{instance}".encode()

    def spent(self, evaluator: str, window: str) -> float:
        """Dollars spent by every instance in the window (this instance's share from memory: it is the freshest)."""
        prefix = f"{evaluator}|{window}|".encode()
        own_key = self.key(evaluator, window, self.instance)
        total = self._own.get((evaluator, window), 0.0)
        for key, value in list(self.table.items()):
            if key.startswith(prefix) and key != own_key:
                total += _float(value)
        return total

    def add(self, evaluator: str, window: str, usd: float) -> None:
        amount = self._own.get((evaluator, window))
        if amount is None:
            amount = _float(self.table.get(self.key(evaluator, window, self.instance)))
        amount += usd
        self._own[(evaluator, window)] = amount
        self.table[self.key(evaluator, window, self.instance)] = repr(amount).encode()

    def expire(self, keep_days: int = 2) -> int:
        """Delete entries of windows older than ``keep_days`` (any instance's); returns how many."""
        horizon = time.strftime("%Y-%m-%d", time.gmtime(self.clock() - keep_days * 86_400))
        stale = [k for k in list(self.table.keys()) if _window_day(k) < horizon]
        for key in stale:
            del self.table[key]
        self._own = {k: v for k, v in self._own.items() if k[1][2:12] >= horizon}
        return len(stale)


def _window_day(key: bytes) -> str:
    parts = key.decode("utf-8", "replace").split("|")
    return parts[1][2:12] if len(parts) >= 3 else ""


def _float(value: Any) -> float:
    try:
        return float(value) if value else 0.0
    except (TypeError, ValueError):
        return 0.0

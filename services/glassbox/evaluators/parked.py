"""Delayed evaluation requests parked in a changelogged table until they are due. Pure; no Kafka here.

A request whose binding asks for a delay (``delay_s``: wait for user feedback, late spans ...) is not
held in memory with its event unacked — that would hold back the commits of every request behind it
in its partition for the whole delay. It is written to the ``evaluator-parked`` table under its trace
id (so it lives on the partition of the trace's requests and done entry), its event is acked, and a
timer runs it once due; only when it is done is it removed. A restart recovers the table from its
changelog, so a parked request survives any crash; running one twice is harmless (the done table
skips what was already published).

A table value holds every parked request of one trace: ``{request id: [due (ns), request JSON]}``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import pydantic_core

from glassbox.models.evaluation import EvaluationRequest

PARK_AFTER_NS = 1_000_000_000
"""Requests due later than this from now are parked; sooner ones wait in memory."""


def request_id(request: EvaluationRequest) -> str:
    """Names a request among the parked requests of its trace."""
    return f"{request.trace.version}:{request.not_before_unix_nano}:{','.join(request.evaluators)}"


def decode_parked(value: bytes | None) -> dict[str, tuple[int, bytes]]:
    """Request id → (due time, request message) of a table value (empty for None)."""
    if not value:
        return {}
    doc = pydantic_core.from_json(value)
    return {rid: (int(due), body.encode("utf-8")) for rid, (due, body) in doc.items()}


def encode_parked(entries: dict[str, tuple[int, bytes]]) -> bytes:
    return pydantic_core.to_json({rid: [due, body.decode("utf-8")] for rid, (due, body) in entries.items()})


@dataclass
class DueIndex:
    """When each parked request is due, soonest first (rebuilt from the table after a rebalance or recovery)."""

    _heap: list[tuple[int, bytes, str]] = field(default_factory=list)
    _known: set[tuple[bytes, str]] = field(default_factory=set)

    def add(self, due_ns: int, key: bytes, rid: str) -> None:
        if (key, rid) not in self._known:
            self._known.add((key, rid))
            heapq.heappush(self._heap, (due_ns, key, rid))

    def pop_due(self, now_ns: int, limit: int) -> list[tuple[bytes, str]]:
        """Up to ``limit`` requests due at ``now_ns``, soonest first; they leave the index."""
        out: list[tuple[bytes, str]] = []
        while self._heap and self._heap[0][0] <= now_ns and len(out) < limit:
            _, key, rid = heapq.heappop(self._heap)
            self._known.discard((key, rid))
            out.append((key, rid))
        return out

    def clear(self) -> None:
        self._heap.clear()
        self._known.clear()

    def __len__(self) -> int:
        return len(self._heap)

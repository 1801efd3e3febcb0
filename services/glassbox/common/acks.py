"""Acking a faust stream's events in offset order, partition by partition.

faust commits, per partition, the offset after the longest run of acked offsets. Its check for an
unacked offset *before* that run is off by one (``min(acked) - committed > 1``: the offset right at the
committed position is missed) and skipped altogether while nothing was committed yet. So a stream that
acks out of order — an event held while its trace assembles or its judge answers, events after it acked
at once — lets faust commit past the held event, and a crash then loses it. :class:`OrderedAcks` hands
acks to faust only for a prefix of each partition's events, in the order they arrived: faust never sees
a gap, so it never commits past an event that is still in use.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glassbox.common.faust_app import seek_in_consumer_thread
from glassbox.common.logging import get_logger

log = get_logger("glassbox.acks")

STALL_RESEEK_S = 10.0
"""How long a partition may show unread records with none arriving before :meth:`OrderedAcks.reseek_stalled`
fetches them again (a caught-up stream's fetch waits a fraction of that)."""


@dataclass(eq=False, slots=True)
class Ticket:
    """One tracked event; :meth:`OrderedAcks.done` marks it finished."""

    event: Any
    queue: deque[Ticket]
    done: bool = False


@dataclass
class OrderedAcks:
    """Tracks events per partition in arrival order and acks each once it and every event before it are done."""

    stream: Any = None
    """The faust stream the events came from (``await stream.ack(event)``); set when the agent starts."""
    app: Any = None
    """The faust app, whose consumer generation tells events taken before the last rebalance (None: no check)."""
    clock: Callable[[], float] = time.monotonic
    _queues: dict[Any, deque[Ticket]] = field(default_factory=dict)
    _next: dict[Any, int] = field(default_factory=dict)
    """Per partition, the offset after the last event tracked since :meth:`forget`."""
    _progress_at: dict[Any, float] = field(default_factory=dict)
    """Per partition, when an event was last tracked (or the partition was last re-sought)."""
    _since: float = 0.0
    """When tracking started afresh (creation or the last :meth:`forget`)."""
    _checked_at: float = 0.0

    def __post_init__(self) -> None:
        self._since = self._checked_at = self.clock()

    def stale(self, event: Any) -> bool:
        """Not to be processed: taken before the last rebalance (its partition is read again from the committed
        offset; faust drops such events before they reach a stream, but not those already in a take buffer), or
        delivered again after :meth:`reseek_stalled` although it was tracked already."""
        message = event.message
        if self.app is not None and message.generation_id != self.app.consumer_generation_id:
            return True
        return message.offset < self._next.get(message.tp, -1)

    def track(self, event: Any) -> Ticket:
        """Register an event, in the order the stream delivered it."""
        tp = event.message.tp
        queue = self._queues.get(tp)
        if queue is None:
            self._queues[tp] = queue = deque()
        ticket = Ticket(event, queue)
        queue.append(ticket)
        self._next[tp] = event.message.offset + 1
        self._progress_at[tp] = self.clock()
        return ticket

    async def done(self, ticket: Ticket) -> int:
        """Mark an event finished; ack it, and those after it already finished, once all before it are.
        Returns how many events were acked. Tickets from before :meth:`forget` ack nothing."""
        ticket.done = True
        queue = ticket.queue
        if self._queues.get(ticket.event.message.tp) is not queue:
            return 0
        acked = 0
        while queue and queue[0].done:
            await self.stream.ack(queue.popleft().event)
            acked += 1
        return acked

    def waiting(self) -> int:
        """Events tracked and not acked yet (finished or not)."""
        return sum(len(queue) for queue in self._queues.values())

    def forget(self) -> None:
        """Drop every tracked event unacked (after a rebalance their partitions are read again from the committed
        offsets, and stream events delivered before it must not be acked)."""
        self._queues = {}
        self._next = {}
        self._progress_at = {}
        self._since = self.clock()

    async def reseek_stalled(self, topic: str, stall_s: float) -> list[tuple[Any, int]]:
        """Fetch again what the broker has for a partition of ``topic`` but never reached the stream.

        A record faust fetched while a rebalance was finishing can be lost between the fetcher and the stream
        (seen once in CI after a kill -9: the worker restarted, the broker's high watermark was past the
        committed offset, and the event at that offset never arrived, so its trace never completed). When a
        partition's high watermark has stayed beyond the next offset expected for ``stall_s`` with no event
        tracked, this seeks it to that offset: the offset after the last tracked event, or the committed one if
        none was tracked since the last rebalance. Anything delivered twice is :meth:`stale`. Nothing is sought
        while events wait in the stream's channel: the agent is behind (a saturated worker can go 10 s without
        an event of some partition), not stalled. Returns the partitions sought, with their offsets."""
        app = self.app
        if app is None or getattr(app, "rebalancing", False) or not getattr(app.consumer, "flow_active", True):
            return []
        channel = getattr(self.stream, "channel", None)
        if channel is not None and not channel.empty():  # events wait for the agent: it is behind, not stalled
            return []
        consumer = app.consumer
        now = self.clock()
        if now - self._checked_at < 1.0:  # timers call it often; once a second is plenty
            return []
        self._checked_at = now
        committed = getattr(consumer, "_committed_offset", {})
        sought = []
        for tp in consumer.assignment():
            if tp.topic != topic or now - self._progress_at.get(tp, self._since) < stall_s:
                continue
            expected = self._next.get(tp)
            if expected is None:
                expected = committed.get(tp)
            highwater = consumer.highwater(tp)
            if expected is None or highwater is None or highwater <= expected:
                continue
            log.warning("acks.partition_stalled", topic=tp.topic, partition=tp.partition, offset=expected,
                        highwater=highwater, idle_s=round(now - self._progress_at.get(tp, self._since), 1))  # fmt: skip
            await seek_in_consumer_thread(consumer, tp, expected)
            self._progress_at[tp] = now
            sought.append((tp, expected))
        return sought

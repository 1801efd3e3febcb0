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

from collections import deque
from dataclasses import dataclass, field
from typing import Any


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
    _queues: dict[Any, deque[Ticket]] = field(default_factory=dict)

    def stale(self, event: Any) -> bool:
        """Taken before the last rebalance: not to be processed, its partition is read again from the committed
        offset (faust drops such events before they reach a stream, but not those already in a take buffer)."""
        return self.app is not None and event.message.generation_id != self.app.consumer_generation_id

    def track(self, event: Any) -> Ticket:
        """Register an event, in the order the stream delivered it."""
        tp = event.message.tp
        queue = self._queues.get(tp)
        if queue is None:
            self._queues[tp] = queue = deque()
        ticket = Ticket(event, queue)
        queue.append(ticket)
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

"""OrderedAcks: faust sees a partition's acks only as a prefix of the events it delivered, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glassbox.common.acks import OrderedAcks


@dataclass(frozen=True)
class Message:
    tp: tuple[str, int]
    offset: int


@dataclass(frozen=True)
class Event:
    message: Message


@dataclass
class RecordingStream:
    acked: list[tuple[tuple[str, int], int]] = field(default_factory=list)

    async def ack(self, event: Any) -> bool:
        self.acked.append((event.message.tp, event.message.offset))
        return True


def events(partition: int, offsets: range) -> list[Event]:
    return [Event(Message(("spans", partition), o)) for o in offsets]


async def test_an_event_finished_early_waits_for_the_ones_before_it() -> None:
    """Offsets 0..3 finish as 2, 3, 0, 1: nothing is acked until 0 is done, then 0; 1 then releases 1, 2, 3."""
    stream = RecordingStream()
    acks = OrderedAcks(stream)
    tickets = [acks.track(e) for e in events(0, range(4))]
    assert await acks.done(tickets[2]) == 0
    assert await acks.done(tickets[3]) == 0
    assert stream.acked == []
    assert await acks.done(tickets[0]) == 1
    assert await acks.done(tickets[1]) == 3
    assert [offset for _, offset in stream.acked] == [0, 1, 2, 3]
    assert acks.waiting() == 0


async def test_partitions_do_not_wait_for_each_other() -> None:
    """A held event in partition 0 does not hold back partition 1."""
    stream = RecordingStream()
    acks = OrderedAcks(stream)
    held = acks.track(events(0, range(1))[0])
    other = [acks.track(e) for e in events(1, range(5, 7))]
    for ticket in other:
        await acks.done(ticket)
    assert stream.acked == [(("spans", 1), 5), (("spans", 1), 6)]
    assert acks.waiting() == 1
    await acks.done(held)
    assert stream.acked[-1] == (("spans", 0), 0)


async def test_events_from_before_forget_are_never_acked() -> None:
    """After a rebalance the partitions are read again: tickets of the events before it ack nothing, and the
    events delivered again are acked as they finish."""
    stream = RecordingStream()
    acks = OrderedAcks(stream)
    old = [acks.track(e) for e in events(0, range(3))]
    acks.forget()
    again = [acks.track(e) for e in events(0, range(3))]
    for ticket in old:
        assert await acks.done(ticket) == 0
    assert stream.acked == []
    for ticket in again:
        await acks.done(ticket)
    assert [offset for _, offset in stream.acked] == [0, 1, 2]

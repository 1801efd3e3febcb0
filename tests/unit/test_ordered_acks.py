"""OrderedAcks: faust sees a partition's acks only as a prefix of the events it delivered, in order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

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


class TP(NamedTuple):
    topic: str
    partition: int


@dataclass(frozen=True)
class GenMessage:
    tp: TP
    offset: int
    generation_id: int = 1


@dataclass
class FakeConsumer:
    """What :meth:`OrderedAcks.reseek_stalled` reads of a faust consumer, and the seeks it asks for."""

    highwaters: dict[TP, int]
    committed: dict[TP, int] = field(default_factory=dict)
    sought: list[tuple[TP, int]] = field(default_factory=list)
    flow_active: bool = True

    @property
    def _committed_offset(self) -> dict[TP, int]:
        return self.committed

    def assignment(self) -> set[TP]:
        return set(self.highwaters)

    def highwater(self, tp: TP) -> int:
        return self.highwaters[tp]

    async def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))


@dataclass
class FakeApp:
    consumer: FakeConsumer
    consumer_generation_id: int = 1
    rebalancing: bool = False


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_a_partition_with_unread_records_and_no_events_is_fetched_again_from_the_next_offset() -> None:
    """Partition 0 got offsets 0..2 and its high watermark says 5: after the stall time it is sought to 3.
    Partition 1 has nothing tracked since the rebalance: sought to its committed offset. Partition 2 is read
    to its end: left alone. Redelivered offsets are stale; the next new one is not."""
    clock = Clock()
    consumer = FakeConsumer({TP("spans", 0): 5, TP("spans", 1): 9, TP("spans", 2): 4}, committed={TP("spans", 1): 7})
    acks = OrderedAcks(RecordingStream(), FakeApp(consumer), clock=clock)
    acks.forget()
    for offset in range(3):
        acks.track(Event(GenMessage(TP("spans", 0), offset)))  # type: ignore[arg-type]
    for offset in range(4):
        acks.track(Event(GenMessage(TP("spans", 2), offset)))  # type: ignore[arg-type]
    clock.now += 5
    assert await acks.reseek_stalled("spans", 10.0) == []  # not stalled long enough
    clock.now += 6
    assert sorted(await acks.reseek_stalled("spans", 10.0)) == [(TP("spans", 0), 3), (TP("spans", 1), 7)]
    clock.now += 1.5
    assert await acks.reseek_stalled("spans", 10.0) == [], "a partition just sought is given time again"
    assert acks.stale(Event(GenMessage(TP("spans", 0), 2)))  # type: ignore[arg-type]
    assert not acks.stale(Event(GenMessage(TP("spans", 0), 3)))  # type: ignore[arg-type]
    assert acks.stale(Event(GenMessage(TP("spans", 0), 3, generation_id=0)))  # type: ignore[arg-type]


async def test_no_reseek_while_rebalancing_or_for_other_topics() -> None:
    clock = Clock()
    consumer = FakeConsumer({TP("spans", 0): 5, TP("traces", 0): 5}, committed={TP("spans", 0): 1, TP("traces", 0): 1})
    app = FakeApp(consumer, rebalancing=True)
    acks = OrderedAcks(RecordingStream(), app, clock=clock)
    clock.now += 60
    assert await acks.reseek_stalled("spans", 10.0) == []
    app.rebalancing = False
    assert await acks.reseek_stalled("spans", 10.0) == [(TP("spans", 0), 1)]
    assert consumer.sought == [(TP("spans", 0), 1)]


@dataclass
class FakeChannel:
    waiting: int = 0

    def empty(self) -> bool:
        return self.waiting == 0


@dataclass
class ChannelStream(RecordingStream):
    channel: FakeChannel = field(default_factory=FakeChannel)


async def test_no_reseek_while_events_wait_for_the_agent() -> None:
    """A saturated worker can go 10 s without an event of some partition while its stream's channel is full:
    the agent is behind, the partition is not stalled."""
    clock = Clock()
    consumer = FakeConsumer({TP("spans", 0): 50}, committed={TP("spans", 0): 10})
    stream = ChannelStream(channel=FakeChannel(waiting=3))
    acks = OrderedAcks(stream, FakeApp(consumer), clock=clock)
    clock.now += 60
    assert await acks.reseek_stalled("spans", 10.0) == []
    stream.channel.waiting = 0
    clock.now += 2
    assert await acks.reseek_stalled("spans", 10.0) == [(TP("spans", 0), 10)]


class FakeConsumerThread:
    """faust's consumer thread: runs the calls it is given in its own loop (here: records that it did)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, TP, int]] = []

    async def call_thread(self, method: Any, *args: Any) -> Any:
        self.calls.append(("in thread", *args))
        return method(*args)

    def seek(self, tp: TP, offset: int) -> None:
        self.calls.append(("seek", tp, offset))


@dataclass
class ThreadedConsumer(FakeConsumer):
    _thread: FakeConsumerThread = field(default_factory=FakeConsumerThread)
    _read_offset: dict[TP, int | None] = field(default_factory=dict)

    async def seek(self, tp: TP, offset: int) -> None:
        raise AssertionError("faust's Consumer.seek calls the client from the calling thread")


async def test_a_stalled_partition_is_sought_from_the_consumer_thread() -> None:
    """faust's own seek races the fetcher in its thread (KeyError in Fetcher.fetched_records): the seek goes to
    that thread, and faust's read offset follows as with its own seek."""
    clock = Clock()
    consumer = ThreadedConsumer({TP("spans", 0): 9}, committed={TP("spans", 0): 4})
    acks = OrderedAcks(RecordingStream(), FakeApp(consumer), clock=clock)
    clock.now += 60
    assert await acks.reseek_stalled("spans", 10.0) == [(TP("spans", 0), 4)]
    assert consumer._thread.calls == [("in thread", TP("spans", 0), 4), ("seek", TP("spans", 0), 4)]
    assert consumer._read_offset == {TP("spans", 0): 4}

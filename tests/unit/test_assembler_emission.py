"""The assembler's emission when the broker does not take a trace or its state: nothing is marked emitted,
stored or acked.

The faust app is real but not started (no broker is needed to build it); the producer, the table and the
acks are replaced by recorders so that a send can be made to fail at the point a broker error surfaces
(the future the send returned), which a running broker cannot be told to do for one message.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from glassbox.assembler.service import Assembler, _Held
from glassbox.assembler.state import NS, TraceState
from glassbox.common.faust_app import create_app, partition_for
from glassbox.common.settings import KafkaSettings, PipelineSettings
from tests.unit.test_assembly import MS, T0, TRACE, agent_trace, span

KEY = TRACE.encode()


CHANGELOG = "emission-test-trace-state-changelog"


class RecordingProducer:
    """Takes sends as the faust producer does; the next ``failures[topic]`` sends to a topic fail when their
    acknowledgement is awaited, as a broker error does."""

    def __init__(self, traces: str) -> None:
        self.traces = traces
        self.failures: dict[str, int] = {}
        self.sent: dict[str, list[tuple[bytes, bytes | None, int | None]]] = {traces: [], CHANGELOG: []}

    async def send(self, topic: str, key: bytes, value: bytes | None, partition: int | None) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures.get(topic):
            self.failures[topic] -= 1
            future.set_exception(RuntimeError("KafkaTimeoutError: the broker did not answer"))
        else:
            self.sent[topic].append((key, value, partition))
            future.set_result(None)
        return future

    def traces_sent(self) -> list[dict[str, Any]]:
        return [json.loads(value or b"") for _, value, _ in self.sent[self.traces]]


class RecordingTable(dict[bytes, bytes]):
    """The table's store, and the name of its changelog."""

    class changelog_topic:  # stands in for faust's attribute of that name
        @staticmethod
        def get_topic_name() -> str:
            return CHANGELOG

    @property
    def data(self) -> dict[bytes, bytes]:
        return self


class RecordingAcks:
    def __init__(self) -> None:
        self.done_tickets: list[Any] = []

    async def done(self, ticket: Any) -> int:
        self.done_tickets.append(ticket)
        return 0


@pytest.fixture
def assembler() -> Assembler:
    kafka = KafkaSettings(bootstrap_servers="127.0.0.1:9")
    pipeline = PipelineSettings(trace_grace_s=0.5, spans_partitions=3)
    app = create_app("emission-test", kafka, pipeline, stream_wait_empty=False)
    asm = Assembler(app, kafka, pipeline, clock=lambda: T0 + 10_000 * MS)
    asm._send = RecordingProducer(asm.traces_name).send
    asm.table = RecordingTable()
    asm._acks = RecordingAcks()  # type: ignore[assignment]
    return asm


def hold(asm: Assembler, state: TraceState, ticket: Any, now: int) -> None:
    """What the agent does with an event that added spans: the state lives in memory, the event is held."""
    asm._live[KEY] = state
    asm._held.setdefault(KEY, _Held(now)).tickets.append(ticket)


async def scenario(asm: Assembler) -> None:
    producer: RecordingProducer = asm._send.__self__  # type: ignore[attr-defined]
    traces = asm.traces_name
    acks: RecordingAcks = asm._acks  # type: ignore[assignment]
    now = T0 + 10_000 * MS
    state = TraceState(TRACE)
    for s in agent_trace():
        state.add(s, T0)
    hold(asm, state, "event-1", T0)

    producer.failures[traces] = 1
    with pytest.raises(RuntimeError, match="KafkaTimeoutError"):
        await asm._emit([KEY], now)
    assert (state.emitted_version, state.emitted_at_ns, state.dirty) == (0, 0, True)
    assert KEY not in asm.table and acks.done_tickets == [] and asm._live[KEY] is state
    assert producer.sent[CHANGELOG] == [], "no state is written for a trace the broker did not take"
    assert asm._deadline[KEY] == now + NS, "retried in a second"

    # the broker takes the trace but not its state: nothing is stored or acked, and the retry sends it again
    producer.failures[CHANGELOG] = 1
    with pytest.raises(RuntimeError, match="KafkaTimeoutError"):
        await asm._emit([KEY], now + NS // 2)
    assert (state.emitted_version, state.dirty) == (0, True)
    assert KEY not in asm.table and acks.done_tickets == [] and asm._live[KEY] is state

    assert await asm._emit([KEY], now + NS) == 1
    sent = producer.traces_sent()
    assert [t["version"] for t in sent] == [1, 1], "the retry is the same version, not a second one"
    assert len(sent[-1]["spans"]) == len(agent_trace())
    [(key, value, partition)] = producer.sent[CHANGELOG]
    assert (key, value) == (KEY, asm.table[KEY]), "the store holds what the changelog got"
    assert partition == partition_for(KEY, asm.partitions), "the changelog partition of the trace's spans"
    stored = TraceState.from_bytes(asm.table[KEY])
    assert (stored.emitted_version, stored.dirty, len(stored.spans)) == (1, False, len(agent_trace()))
    assert acks.done_tickets == ["event-1"] and KEY not in asm._live and KEY not in asm._held

    # a late span: version 2 from the table's state; a failure leaves version 1 as the last emitted
    late = asm._state(KEY)
    assert late is not None
    late.add(span("7", "a", 995, 999), now + 2 * NS)
    hold(asm, late, "event-2", now + 2 * NS)
    producer.failures[traces] = 1
    with pytest.raises(RuntimeError):
        await asm._emit([KEY], now + 3 * NS)
    assert (late.emitted_version, late.dirty) == (1, True)
    assert TraceState.from_bytes(asm.table[KEY]).emitted_version == 1 and acks.done_tickets == ["event-1"]

    assert await asm._emit([KEY], now + 4 * NS) == 1
    assert [t["version"] for t in producer.traces_sent()] == [1, 1, 2]
    assert len(producer.traces_sent()[-1]["spans"]) == len(agent_trace()) + 1
    assert TraceState.from_bytes(asm.table[KEY]).emitted_version == 2
    assert acks.done_tickets == ["event-1", "event-2"]


def test_a_failed_emission_restores_the_state_and_the_retry_sends_the_same_version(assembler: Assembler) -> None:
    asyncio.run(scenario(assembler))

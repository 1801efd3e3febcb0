"""The assembler's emission when the broker does not take a trace: nothing is marked emitted, written or acked.

The faust app is real but not started (no broker is needed to build it); the traces topic, the table and the
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
from glassbox.common.faust_app import create_app
from glassbox.common.settings import KafkaSettings, PipelineSettings
from tests.unit.test_assembly import MS, T0, TRACE, agent_trace, span

KEY = TRACE.encode()


class RecordingTopic:
    """Takes sends like a faust topic; the next ``failures`` sends fail when awaited, as a broker error does."""

    def __init__(self) -> None:
        self.failures = 0
        self.sent: list[dict[str, Any]] = []

    async def send(self, *, key: bytes, value: bytes, force: bool) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.failures:
            self.failures -= 1
            future.set_exception(RuntimeError("KafkaTimeoutError: the broker did not answer"))
        else:
            self.sent.append(json.loads(value))
            future.set_result(None)
        return future


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
    asm.traces_topic = RecordingTopic()
    asm.table = {}
    asm._acks = RecordingAcks()  # type: ignore[assignment]
    return asm


def hold(asm: Assembler, state: TraceState, ticket: Any, now: int) -> None:
    """What the agent does with an event that added spans: the state lives in memory, the event is held."""
    asm._live[KEY] = state
    asm._held.setdefault(KEY, _Held(now)).tickets.append(ticket)


async def scenario(asm: Assembler) -> None:
    topic: RecordingTopic = asm.traces_topic
    acks: RecordingAcks = asm._acks  # type: ignore[assignment]
    now = T0 + 10_000 * MS
    state = TraceState(TRACE)
    for s in agent_trace():
        state.add(s, T0)
    hold(asm, state, "event-1", T0)

    topic.failures = 1
    with pytest.raises(RuntimeError, match="KafkaTimeoutError"):
        await asm._emit([KEY], now)
    assert (state.emitted_version, state.emitted_at_ns, state.dirty) == (0, 0, True)
    assert KEY not in asm.table and acks.done_tickets == [] and asm._live[KEY] is state
    assert asm._deadline[KEY] == now + NS, "retried in a second"

    assert await asm._emit([KEY], now + NS) == 1
    assert [t["version"] for t in topic.sent] == [1], "the retry is the same version, not a second one"
    assert len(topic.sent[0]["spans"]) == len(agent_trace())
    stored = TraceState.from_bytes(asm.table[KEY])
    assert (stored.emitted_version, stored.dirty, len(stored.spans)) == (1, False, len(agent_trace()))
    assert acks.done_tickets == ["event-1"] and KEY not in asm._live and KEY not in asm._held

    # a late span: version 2 from the table's state; a failure leaves version 1 as the last emitted
    late = asm._state(KEY)
    assert late is not None
    late.add(span("7", "a", 995, 999), now + 2 * NS)
    hold(asm, late, "event-2", now + 2 * NS)
    topic.failures = 1
    with pytest.raises(RuntimeError):
        await asm._emit([KEY], now + 3 * NS)
    assert (late.emitted_version, late.dirty) == (1, True)
    assert TraceState.from_bytes(asm.table[KEY]).emitted_version == 1 and acks.done_tickets == ["event-1"]

    assert await asm._emit([KEY], now + 4 * NS) == 1
    assert [t["version"] for t in topic.sent] == [1, 2]
    assert len(topic.sent[1]["spans"]) == len(agent_trace()) + 1
    assert TraceState.from_bytes(asm.table[KEY]).emitted_version == 2
    assert acks.done_tickets == ["event-1", "event-2"]


def test_a_failed_emission_restores_the_state_and_the_retry_sends_the_same_version(assembler: Assembler) -> None:
    asyncio.run(scenario(assembler))

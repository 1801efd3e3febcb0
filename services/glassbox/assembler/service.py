"""The assembler on faust: spans in, assembled traces out, in-flight state durable through Kafka.

Wiring only; the rules live in :mod:`glassbox.assembler.state` and
:mod:`glassbox.assembler.metrics`.

- The agent subscribes to the spans topic as raw bytes and takes batches of events
  without acking them. Every message is decoded with
  :func:`glassbox.models.messages.decode_span_message`; invalid elements go to the
  dead-letter topic (raw bytes, reason, topic, partition, offset) and misrouted valid
  spans are re-published under their trace id. Good spans next to bad ones go on.
- A trace's new spans live in memory first, and the events that brought them stay
  unacked, so faust commits no offset past them: a worker killed now re-reads them
  (recomputation from Kafka) instead of the changelog having to hold every update.
  An event that adds nothing new (a replay, a duplicate) or only dead letters is
  acked at once.
- A timer emits traces whose grace period (root seen) or inactivity timeout (no root)
  has passed and waits for the broker to acknowledge them; only then is the emitted
  state written to the faust table, and once the broker has that changelog record too
  the trace's events are acked. A crash before that re-reads the spans and re-emits the
  same version, which downstream deduplicates; spans arriving later produce version + 1
  from the table's state. Traces and their states go straight to faust's producer
  (:func:`~glassbox.common.faust_app.direct_sender`), not through faust's topic and
  table machinery, which cost more per message than assembling the trace.
- A trace still being assembled after ``assembler_checkpoint_s`` is written to the
  table as it is and its events acked, so a long trace (or one whose root never comes)
  does not hold its partition's offsets back, and a restart re-reads at most that much.
- A rebalance or table recovery drops what lives only in memory; every partition is
  read again from its committed offset.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glassbox.assembler.state import (
    NS,
    AddResult,
    Decision,
    Timing,
    TraceState,
    decide,
    emit,
    encode_trace,
    next_check,
    read_header,
)
from glassbox.common.acks import STALL_RESEEK_S, OrderedAcks, Ticket
from glassbox.common.faust_app import SendFn, active_partitions, direct_sender, partition_for, rewind_uncommitted
from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.common.metrics import attach_faust_reporter
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.models.deadletter import dead_letter_of
from glassbox.models.messages import Rejected, RejectReason, decode_span_message
from glassbox.models.topics import DEAD_LETTERS, SPANS, TRACES

log = get_logger("glassbox.assembler")

TABLE_NAME = "trace-state"
STAGE = "assembler"


@dataclass
class AssemblerStats:
    messages: int = 0
    spans: int = 0
    duplicates: int = 0
    replaced: int = 0
    dead_letters: int = 0
    rerouted: int = 0
    traces_emitted: int = 0
    incomplete_emitted: int = 0
    late_versions: int = 0
    evicted: int = 0
    checkpoints: int = 0
    """Traces written to the table before they were emitted, because they stayed open that long."""
    held_events: int = 0
    """Span events whose spans live only in memory (unacked) right now."""
    by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Assembler:
    """Registers the assembler's topics, table, agent and timer on a faust app."""

    def __init__(
        self,
        app: Any,
        kafka: KafkaSettings,
        pipeline: PipelineSettings,
        clock: Callable[[], int] = time.time_ns,
        tick_s: float = 0.2,
    ) -> None:
        if app.conf.stream_wait_empty:
            raise ValueError(
                "the assembler holds span events unacked while their traces assemble; a faust app that waits for "
                "every event to be acked would stall on rebalances: create it with stream_wait_empty=False"
            )
        self.app = app
        self.pipeline = pipeline
        self.clock = clock
        self.partitions = pipeline.spans_partitions
        self.timing = Timing.from_seconds(
            pipeline.trace_grace_s, pipeline.trace_inactivity_timeout_s, pipeline.late_span_window_s
        )
        prefix = kafka.topic_prefix
        self.spans_name = SPANS.full_name(prefix)
        self.traces_name = TRACES.full_name(prefix)
        self.spans_topic = app.topic(
            self.spans_name, key_serializer="raw", value_serializer="raw", partitions=self.partitions
        )
        self.traces_topic = app.topic(
            self.traces_name, key_serializer="raw", value_serializer="raw", partitions=self.partitions
        )
        self.dead_letter_topic = app.topic(
            DEAD_LETTERS.full_name(prefix),
            key_serializer="raw",
            value_serializer="raw",
            partitions=DEAD_LETTERS.partitions,
        )
        # bytes keys and values: faust picks the raw codec for the table and for its changelog
        # (a Schema argument would leave the changelog on JSON, and recovery would fail to decode it).
        self.table = app.Table(
            TABLE_NAME, partitions=self.partitions, key_type=bytes, value_type=bytes, use_partitioner=True
        )
        self.stats = AssemblerStats()
        self.metrics = attach_faust_reporter(
            app, kafka, STAGE, self.stats.as_dict, interval_s=pipeline.metrics_interval_s, lag_topics=[self.spans_name]
        )
        self._lock = asyncio.Lock()
        self._heap: list[tuple[int, bytes]] = []
        self._deadline: dict[bytes, int] = {}
        self._index_stale = True
        self._live: dict[bytes, TraceState] = {}
        """Decoded states with spans not yet emitted (the table holds them encoded once checkpointed)."""
        self._held: dict[bytes, _Held] = {}
        """Unacked events per trace whose latest spans are in memory only; oldest first (insertion order)."""
        self._checkpoint_ns = int(pipeline.assembler_checkpoint_s * 1e9)
        self._acks = OrderedAcks(app=app)
        self._send: SendFn = direct_sender(app)
        self._background: set[asyncio.Future[None]] = set()
        self._dlq_log = RateLimitedLog(log, 10.0)
        app.agent(self.spans_topic, name="glassbox-assembler")(self._agent)
        app.timer(tick_s, name="glassbox-assembler-emit")(self._tick)
        self.table.on_recover(self._on_recover)
        app.on_rebalance_complete.connect(self._rewind_uncommitted)

    # ------------------------------------------------------------------ agent

    async def _agent(self, stream: Any) -> None:
        self._acks.stream = stream
        async for events in stream.noack_take(
            self.pipeline.assembler_batch, within=self.pipeline.assembler_batch_within_s
        ):
            async with self._lock:
                await self.process(events)

    async def process(self, events: list[Any]) -> None:
        """Fold one batch of span messages into trace state; dead-letter or re-route what is not valid here.

        An event that changed a trace is held (unacked) until that trace is in the table; any other is acked."""
        now = self.clock()
        touched: dict[bytes, TraceState] = {}
        for event in events:
            message = event.message
            if self._acks.stale(event):
                continue
            ticket = self._acks.track(event)
            self.stats.messages += 1
            changed: bytes | None = None
            try:
                decoded = decode_span_message(event.value, message.key, max_bytes=self.pipeline.max_message_bytes)
                for rejected in decoded.rejected:
                    if rejected.error_type == RejectReason.ROUTING and rejected.span is not None:
                        await self._reroute(rejected.span.trace_id, rejected.raw)
                    else:
                        await self._dead_letter(rejected, message)
                for element in decoded.elements:  # all of the message's trace: a misrouted span was rejected
                    key = element["trace_id"].encode()
                    state = touched.get(key) or self._state(key) or TraceState(element["trace_id"])
                    touched[key] = state
                    result = state.add(element, now)
                    self.stats.spans += 1
                    if result is AddResult.DUPLICATE:
                        self.stats.duplicates += 1
                        continue
                    if result is AddResult.REPLACED:
                        self.stats.replaced += 1
                    changed = key
            except Exception as exc:  # never lose a message to a bug: dead-letter it whole
                log.exception("assembler.message_failed", error=repr(exc))
                await self._dead_letter(
                    Rejected(-1, RejectReason.PROCESSING, f"assembler failed: {exc!r}", event.value or b""), message
                )
                changed = None
            if changed is None:
                await self._acks.done(ticket)
            else:
                self._live[changed] = touched[changed]
                self._hold(changed, ticket, now)
        for key, state in touched.items():
            if key in self._live:
                self._schedule(key, next_check(state, self.timing))

    def _state(self, key: bytes) -> TraceState | None:
        """The state held for a trace: the decoded one in memory, else the table's."""
        state = self._live.get(key)
        if state is not None:
            return state
        raw = self.table.get(key)
        return TraceState.from_bytes(raw) if raw else None

    # ------------------------------------------------------------------ acks

    def _hold(self, key: bytes, ticket: Ticket, now: int) -> None:
        held = self._held.get(key)
        if held is None:
            self._held[key] = held = _Held(now)
        held.tickets.append(ticket)
        self.stats.held_events += 1

    async def _release(self, key: bytes) -> None:
        """The events of a trace whose state is now in the table are done (faust flushes the changelog before it
        commits; :class:`OrderedAcks` acks them once every event before them is done too)."""
        held = self._held.pop(key, None)
        if held is not None:
            self.stats.held_events -= len(held.tickets)
            for ticket in held.tickets:
                await self._acks.done(ticket)

    def _forget_memory(self) -> None:
        """Drop what lives only in memory: the partitions are read again from their committed offsets."""
        self._live.clear()
        self._held.clear()
        self._acks.forget()
        self.stats.held_events = 0

    async def _checkpoint(self, now: int) -> int:
        """Write traces open longer than the checkpoint interval to the table and ack their events."""
        horizon = now - self._checkpoint_ns
        due = []
        for key, held in self._held.items():  # oldest first
            if held.since_ns > horizon:
                break
            due.append(key)
        states = [(key, state.to_bytes()) for key in due if (state := self._live.get(key)) is not None]
        await self._write_states(states)
        self.stats.checkpoints += len(states)
        for key in due:
            await self._release(key)
        return len(due)

    @property
    def changelog_name(self) -> str:
        return str(self.table.changelog_topic.get_topic_name())

    async def _write_states(self, states: list[tuple[bytes, bytes]]) -> None:
        """Write trace states to the table: their changelog records first, and once the broker has every one of
        them, the table's store. Raises (nothing stored) if the broker does not take them."""
        if not states:
            return
        changelog = self.changelog_name
        acks = [await self._send(changelog, key, value, partition_for(key, self.partitions)) for key, value in states]
        await asyncio.gather(*acks)
        store = self.table.data
        for key, value in states:
            store[key] = value

    def _delete_state(self, key: bytes) -> None:
        """Drop an evicted trace's state. Its tombstone is not waited for: if it is lost, a restart brings the
        state back and evicts it again."""
        if self.table.data.pop(key, None) is not None:
            task = asyncio.ensure_future(self._tombstone(key))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _tombstone(self, key: bytes) -> None:
        try:
            await (await self._send(self.changelog_name, key, None, partition_for(key, self.partitions)))
        except Exception as exc:
            log.warning("assembler.tombstone_failed", error=repr(exc))

    async def _reroute(self, trace_id: str, raw: bytes) -> None:
        await self.spans_topic.send(key=trace_id.encode(), value=raw, force=True)
        self.stats.rerouted += 1

    async def _dead_letter(self, rejected: Any, message: Any) -> None:
        letter = dead_letter_of(rejected, STAGE, message)
        await self.dead_letter_topic.send(
            key=message.topic.encode(), value=letter.model_dump_json(exclude_none=True).encode(), force=True
        )
        self.stats.dead_letters += 1
        reason = rejected.error_type.value
        self.stats.by_reason[reason] = self.stats.by_reason.get(reason, 0) + 1
        self._dlq_log.warning(
            "assembler.dead_letter",
            reason=rejected.reason[:300],
            error_type=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            total=self.stats.dead_letters,
        )

    # ------------------------------------------------------------------ timer

    def _schedule(self, key: bytes, when: int) -> None:
        self._deadline[key] = when
        heapq.heappush(self._heap, (when, key))

    def _active_partitions(self) -> set[int]:
        return active_partitions(self.app, self.spans_name)

    async def _on_recover(self) -> None:
        self._index_stale = True
        self._forget_memory()

    async def _rewind_uncommitted(self, sender: Any = None, **kwargs: Any) -> None:
        async with self._lock:
            self._forget_memory()  # partitions may have moved: the table and the uncommitted spans are the truth
            self._index_stale = True
            await rewind_uncommitted(self.app, {self.spans_name})

    def _rebuild_index(self, active: set[int]) -> None:
        """Schedule every trace of the active partitions: the table's, then those in memory (newer)."""
        self._heap.clear()
        self._deadline.clear()
        for key, raw in list(self.table.items()):
            if partition_for(key, self.partitions) not in active or not raw or key in self._live:
                continue
            self._schedule(key, next_check(read_header(raw), self.timing))
        for key, state in self._live.items():
            if partition_for(key, self.partitions) in active:
                self._schedule(key, next_check(state, self.timing))
        self._index_stale = False
        log.info("assembler.index_rebuilt", traces=len(self._deadline), partitions=sorted(active))

    async def _tick(self) -> None:
        async with self._lock:
            try:
                await self.emit_due()
                await self._checkpoint(self.clock())
                await self._acks.reseek_stalled(self.spans_name, STALL_RESEEK_S)
            except Exception as exc:  # keep the timer alive; nothing unwritten was acked, so nothing is lost
                log.exception("assembler.emit_failed", error=repr(exc))

    async def flush_all(self) -> int:
        """Emit every trace with unemitted spans now (complete when its root arrived), e.g. before a
        clean shutdown of the embedded stack whose in-memory broker would otherwise lose them."""
        async with self._lock:
            active = self._active_partitions()
            stored = [k for k, raw in list(self.table.items()) if raw and k not in self._live]
            keys = [k for k in [*self._live, *stored] if partition_for(k, self.partitions) in active]
            return await self._emit(keys, self.clock(), force=True)

    async def emit_due(self) -> int:
        """Emit every trace that is due; returns how many were emitted."""
        active = self._active_partitions()
        if self._index_stale:
            if not active:
                return 0
            self._rebuild_index(active)
        now = self.clock()
        due: list[bytes] = []
        while self._heap and self._heap[0][0] <= now:
            when, key = heapq.heappop(self._heap)
            if self._deadline.get(key) == when:
                del self._deadline[key]
                due.append(key)
        mine = []
        for key in due:
            if partition_for(key, self.partitions) in active:
                mine.append(key)
            else:  # its partition moved to another worker, which reads its spans again
                self._live.pop(key, None)
                held = self._held.pop(key, None)
                self.stats.held_events -= len(held.tickets) if held else 0
        return await self._emit(mine, now)

    async def _emit(self, keys: list[bytes], now: int, force: bool = False) -> int:
        """Emit the due traces among ``keys``, wait for the broker to have them, then write their states to the
        table and release their events. If sending either fails, the states are as they were and retried in a
        second (a trace the broker took is then sent again with the same version)."""
        pending: list[_Emitted] = []
        try:
            for key in keys:
                state = self._state(key)
                if state is None:
                    continue
                decision, when = decide(state, now, self.timing)
                if force and state.dirty:
                    decision = Decision.EMIT_COMPLETE if state.has_root else Decision.EMIT_INCOMPLETE
                if decision is Decision.WAIT:
                    self._schedule(key, when)
                elif decision is Decision.EVICT:
                    self._delete_state(key)
                    self._live.pop(key, None)
                    self.stats.evicted += 1
                else:
                    before = (state.emitted_version, state.emitted_at_ns, state.dirty)
                    complete = decision is Decision.EMIT_COMPLETE
                    trace = emit(state, now, complete)
                    data, whole = encode_trace(trace, self.pipeline.max_trace_message_bytes)
                    future = await self._send(self.traces_name, key, data, None)
                    pending.append(_Emitted(key, state, future, data if whole else None, before))
                    self.stats.incomplete_emitted += 0 if complete else 1
                    self.stats.late_versions += 1 if before[0] > 0 else 0
            if pending:
                await asyncio.gather(*(p.future for p in pending))  # the traces are in Kafka: now their states
                await self._write_states([(p.key, p.state.to_bytes(p.whole_trace)) for p in pending])
        except Exception:
            for p in pending:  # not emitted after all: the same version goes out again
                p.state.emitted_version, p.state.emitted_at_ns, p.state.dirty = p.before
                self._schedule(p.key, self.clock() + NS)
            raise
        for p in pending:
            self._live.pop(p.key, None)
            await self._release(p.key)
            self._schedule(p.key, next_check(p.state, self.timing))
        self.stats.traces_emitted += len(pending)
        return len(pending)


@dataclass(slots=True)
class _Emitted:
    key: bytes
    state: TraceState
    future: Any
    whole_trace: bytes | None
    """The message sent, when it carries every span (it then stands for them in the table)."""
    before: tuple[int, int, bool]
    """emitted_version, emitted_at_ns, dirty before the emission (restored if it fails)."""


@dataclass(slots=True)
class _Held:
    since_ns: int
    """When the first of these events was held."""
    tickets: list[Ticket] = field(default_factory=list)

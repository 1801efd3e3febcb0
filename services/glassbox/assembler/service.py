"""The assembler on faust: spans in, assembled traces out, in-flight state in a changelogged table.

Wiring only; the rules live in :mod:`glassbox.assembler.state` and
:mod:`glassbox.assembler.metrics`.

- The agent subscribes to the spans topic as raw bytes and takes batches.
  Every message is decoded with :func:`glassbox.models.messages.decode_span_message`;
  invalid elements go to the dead-letter topic (raw bytes, reason, topic,
  partition, offset) and misrouted valid spans are re-published under their
  trace id. Good spans next to bad ones go on.
- Each touched trace's state is written to the faust table once per batch;
  the table's changelog is flushed before the spans offsets are committed, so
  a worker killed at any point resumes with nothing lost.
- A timer emits traces whose grace period (root seen) or inactivity timeout
  (no root) has passed, waits for the broker to acknowledge them, then records
  the emitted version. A crash in between re-emits the same version, which
  downstream deduplicates; spans arriving later produce version + 1.
- States waiting for their emission are also held decoded, so the timer does not
  decode what the agent just encoded; a rebalance or recovery drops them.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka.partitioner import murmur2

from glassbox.assembler.state import AddResult, Decision, Timing, TraceState, decide, emit, encode_trace, next_check
from glassbox.common.faust_app import rewind_uncommitted
from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.common.metrics import attach_faust_reporter
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.models.deadletter import dead_letter_of
from glassbox.models.messages import RejectReason, decode_span_message
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
    by_reason: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) picks for a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


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
        self.app = app
        self.pipeline = pipeline
        self.clock = clock
        self.partitions = pipeline.spans_partitions
        self.timing = Timing.from_seconds(
            pipeline.trace_grace_s, pipeline.trace_inactivity_timeout_s, pipeline.late_span_window_s
        )
        prefix = kafka.topic_prefix
        self.spans_name = SPANS.full_name(prefix)
        self.spans_topic = app.topic(
            self.spans_name, key_serializer="raw", value_serializer="raw", partitions=self.partitions
        )
        self.traces_topic = app.topic(
            TRACES.full_name(prefix), key_serializer="raw", value_serializer="raw", partitions=self.partitions
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
        self._pending: dict[bytes, TraceState] = {}
        """Decoded states with spans not yet emitted (the table holds the same, encoded)."""
        self._dlq_log = RateLimitedLog(log, 10.0)
        app.agent(self.spans_topic, name="glassbox-assembler")(self._agent)
        app.timer(tick_s, name="glassbox-assembler-emit")(self._tick)
        self.table.on_recover(self._on_recover)
        app.on_rebalance_complete.connect(self._rewind_uncommitted)

    # ------------------------------------------------------------------ agent

    async def _agent(self, stream: Any) -> None:
        async for events in stream.take_events(
            self.pipeline.assembler_batch, within=self.pipeline.assembler_batch_within_s
        ):
            async with self._lock:
                await self.process(events)

    async def process(self, events: list[Any]) -> None:
        """Fold one batch of span messages into trace state; dead-letter or re-route what is not valid here."""
        now = self.clock()
        touched: dict[bytes, TraceState] = {}
        for event in events:
            message = event.message
            self.stats.messages += 1
            try:
                decoded = decode_span_message(event.value, message.key, max_bytes=self.pipeline.max_message_bytes)
                for rejected in decoded.rejected:
                    if rejected.error_type == RejectReason.ROUTING and rejected.span is not None:
                        await self._reroute(rejected.span.trace_id, rejected.raw)
                    else:
                        await self._dead_letter(rejected, message)
                for element in decoded.elements:
                    key = element["trace_id"].encode()
                    state = touched.get(key)
                    if state is None:
                        state = self._held(key) or TraceState(element["trace_id"])
                        touched[key] = state
                    result = state.add(element, now)
                    self.stats.spans += 1
                    if result is AddResult.DUPLICATE:
                        self.stats.duplicates += 1
                    elif result is AddResult.REPLACED:
                        self.stats.replaced += 1
            except Exception as exc:  # never lose a message to a bug: dead-letter it whole
                from glassbox.models.messages import Rejected

                log.exception("assembler.message_failed", error=repr(exc))
                await self._dead_letter(
                    Rejected(-1, RejectReason.PROCESSING, f"assembler failed: {exc!r}", event.value or b""), message
                )
        for key, state in touched.items():
            self.table[key] = state.to_bytes()
            if state.dirty:
                self._pending[key] = state
            self._schedule(key, next_check(state, self.timing))

    def _held(self, key: bytes) -> TraceState | None:
        """The state held for a trace: the decoded one awaiting emission, else the table's."""
        state = self._pending.get(key)
        if state is not None:
            return state
        raw = self.table.get(key)
        return TraceState.from_bytes(raw) if raw else None

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
        try:
            actives = self.app.assignor.assigned_actives()
        except Exception:
            return set()
        return {tp.partition for tp in actives if tp.topic == self.spans_name}

    async def _on_recover(self) -> None:
        self._index_stale = True
        self._pending.clear()

    async def _rewind_uncommitted(self, sender: Any = None, **kwargs: Any) -> None:
        self._pending.clear()  # partitions may have moved: the table is the truth
        await rewind_uncommitted(self.app, {self.spans_name})

    def _rebuild_index(self, active: set[int]) -> None:
        self._heap.clear()
        self._deadline.clear()
        for key, raw in list(self.table.items()):
            if partition_for(key, self.partitions) not in active or not raw:
                continue
            self._schedule(key, next_check(TraceState.from_bytes(raw), self.timing))
        self._index_stale = False
        log.info("assembler.index_rebuilt", traces=len(self._deadline), partitions=sorted(active))

    async def _tick(self) -> None:
        async with self._lock:
            try:
                await self.emit_due()
            except Exception as exc:  # keep the timer alive; the states stay in the table and are retried
                log.exception("assembler.emit_failed", error=repr(exc))
                self._pending.clear()  # emit() may have marked held states emitted: back to the table's
                self._index_stale = True

    async def flush_all(self) -> int:
        """Emit every trace with unemitted spans now (complete when its root arrived), e.g. before a
        clean shutdown of the embedded stack whose in-memory broker would otherwise lose them."""
        async with self._lock:
            active = self._active_partitions()
            keys = [k for k, raw in list(self.table.items()) if raw and partition_for(k, self.partitions) in active]
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
        due = [k for k in due if partition_for(k, self.partitions) in active]  # moved partitions: another worker
        return await self._emit(due, now)

    async def _emit(self, keys: list[bytes], now: int, force: bool = False) -> int:
        pending: list[tuple[bytes, TraceState, Any, bool]] = []
        for key in keys:
            state = self._held(key)
            if state is None:
                continue
            decision, when = decide(state, now, self.timing)
            if force and state.dirty:
                decision = Decision.EMIT_COMPLETE if state.has_root else Decision.EMIT_INCOMPLETE
            if decision is Decision.WAIT:
                self._schedule(key, when)
            elif decision is Decision.EVICT:
                del self.table[key]
                self._pending.pop(key, None)
                self.stats.evicted += 1
            else:
                complete = decision is Decision.EMIT_COMPLETE
                late = state.emitted_version > 0
                trace = emit(state, now, complete)
                data = encode_trace(trace, self.pipeline.max_trace_message_bytes)
                future = await self.traces_topic.send(key=key, value=data, force=True)
                pending.append((key, state, future, late))
                self.stats.traces_emitted += 1
                self.stats.incomplete_emitted += 0 if complete else 1
                self.stats.late_versions += 1 if late else 0
        if pending:
            await asyncio.gather(*(future for _, _, future, _ in pending))
            for key, state, _, _ in pending:
                self.table[key] = state.to_bytes()
                self._pending.pop(key, None)
                self._schedule(key, next_check(state, self.timing))
        return len(pending)

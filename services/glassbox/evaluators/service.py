"""The evaluators on faust: a sampler agent on the traces topic, an evaluator agent on the requests topic.

Wiring only; the rules live in :mod:`~glassbox.evaluators.sampler` and :mod:`~glassbox.evaluators.runner`.

- **Sampler** (traces, raw bytes, batches): validates each AssembledTrace (invalid → dead-letter
  topic), updates the route baselines, and publishes one EvaluationRequest per sampled delay group,
  keyed by trace id. It does no evaluation, so a slow judge never holds up ingestion.
- **Evaluator** (requests, raw bytes, manual acks): every request becomes a task, bounded by
  ``max_inflight`` (above it the agent stops pulling and faust pauses just this topic's partitions).
  A task waits for ``not_before`` without blocking anything, skips evaluation ids already in the
  done table, runs the inline evaluators, publishes their results and waits for the broker's
  acknowledgement, *then* records the ids as done (re-running a rule after a crash costs nothing
  and yields the same id). Judges run concurrently (bounded by ``judge_concurrency``); each
  judgement is first stored in the done table (changelog acknowledged), then published, then
  marked done, so a crash at any point either re-publishes the stored judgement or, when none was
  stored, asks again a judge whose answer was never used. The request is acked only when all of
  it is done, and faust commits an offset only when every request before it was acked.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections import Counter
from typing import Any

from pydantic import ValidationError

from glassbox.common.faust_app import rewind_uncommitted
from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.common.metrics import attach_faust_reporter
from glassbox.common.settings import EvaluatorSettings, KafkaSettings, PipelineSettings
from glassbox.evaluators.build import build_runner
from glassbox.evaluators.config import EvaluatorsConfig
from glassbox.evaluators.ledger import DoneStore, TableLedger
from glassbox.evaluators.outputs import Outputs, rejection
from glassbox.evaluators.runner import Planned
from glassbox.evaluators.sampler import Sampler, TraceHead, encode_request
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import EvaluationRequest, EvaluationResult
from glassbox.models.messages import Rejected, RejectReason
from glassbox.models.topics import DEAD_LETTERS, EVALUATION_REQUESTS, EVALUATION_RESULTS, TRACES

log = get_logger("glassbox.evaluators")
DONE_TABLE = "evaluator-done"
SPEND_TABLE = "evaluator-spend"


class EvaluatorService:
    """Registers the sampler and evaluator agents, the done and spend tables and a housekeeping timer on ``app``."""

    def __init__(
        self,
        app: Any,
        kafka: KafkaSettings,
        pipeline: PipelineSettings,
        settings: EvaluatorSettings,
        config: EvaluatorsConfig,
    ) -> None:
        self.app, self.settings = app, settings
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        parts = pipeline.spans_partitions
        prefix = kafka.topic_prefix
        self.traces_topic = app.topic(TRACES.full_name(prefix), partitions=parts, **raw)
        self.requests_topic = app.topic(EVALUATION_REQUESTS.full_name(prefix), partitions=parts, **raw)
        app.topic(EVALUATION_RESULTS.full_name(prefix), partitions=parts, **raw)  # declared, so faust creates it
        app.topic(DEAD_LETTERS.full_name(prefix), partitions=DEAD_LETTERS.partitions, **raw)
        # key_type/value_type bytes make faust use the raw codec for the changelog too (a Schema alone
        # leaves it on json, and recovery then fails to decode what was written).
        table = {"key_type": bytes, "value_type": bytes, "use_partitioner": True}
        self.done_table = app.Table(DONE_TABLE, partitions=parts, **table)
        self.done = DoneStore(self.done_table, lambda: app.producer)
        self.spend = app.GlobalTable(SPEND_TABLE, partitions=1, recovery_buffer_size=1, **table)
        instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.ledger = TableLedger(self.spend, instance)
        self.sampler = Sampler(config)
        self.runner, self.judges = build_runner(config, settings, ledger=self.ledger, on_refused=self._refused)
        self.stats: Counter[str] = Counter()
        self.metrics = attach_faust_reporter(
            app,
            kafka,
            "evaluator",
            lambda: self.stats,
            interval_s=pipeline.metrics_interval_s,
            lag_topics=[TRACES.full_name(prefix), EVALUATION_REQUESTS.full_name(prefix)],
        )
        self.requests_name = EVALUATION_REQUESTS.full_name(prefix)
        self.outputs = Outputs(
            lambda: app.producer, EVALUATION_RESULTS.full_name(prefix), DEAD_LETTERS.full_name(prefix), self.stats
        )
        self._slots = asyncio.Semaphore(settings.max_inflight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._skip_log = RateLimitedLog(log, settings.skip_log_interval_s)
        app.agent(self.traces_topic, name="glassbox-evaluator-sampler")(self._sample_agent)
        app.agent(self.requests_topic, name="glassbox-evaluator")(self._evaluate_agent)
        app.timer(30.0, name="glassbox-evaluator-housekeeping")(self._housekeeping)
        self.done_table.on_recover(self._on_recover)
        app.on_rebalance_complete.connect(self._rewind_uncommitted)

    # ------------------------------------------------------------------ sampler

    async def _sample_agent(self, stream: Any) -> None:
        async for events in stream.take_events(self.settings.sampler_batch, within=self.settings.batch_within_s):
            futures: list[Any] = []
            for event in events:
                futures.extend(await self.sample(event.value, event.message))
            if futures:
                await asyncio.gather(*futures)

    async def sample(self, value: bytes | None, message: Any) -> list[Any]:
        """Sample one traces-topic message; returns the send futures of the requests it produced."""
        self.stats["traces"] += 1
        try:
            trace = TraceHead.model_validate_json(value or b"")
        except ValidationError as exc:
            await self.outputs.dead_letter(rejection(exc, value or b""), message)
            return []
        try:
            baseline, selections = self.sampler.process(trace)
            now = time.time_ns()
            futures = []
            for selection in selections:
                data = encode_request(value or b"", selection, now, baseline)
                futures.append(await self.outputs.send(self.requests_name, trace.trace_id.encode(), data))
                self.stats["requests"] += 1
            return futures
        except Exception as exc:  # a bug must not lose the trace: dead-letter it whole
            log.exception("evaluator.sample_failed", error=repr(exc))
            await self.outputs.dead_letter(
                Rejected(-1, RejectReason.PROCESSING, f"sampler failed: {exc!r}", value or b""), message
            )
            return []

    # ------------------------------------------------------------------ evaluator

    async def _evaluate_agent(self, stream: Any) -> None:
        async for events in stream.noack_take(self.settings.sampler_batch, within=self.settings.batch_within_s):
            quick: list[tuple[Any, EvaluationRequest, list[Planned]]] = []
            for event in events:
                request = await self._decode(event)
                if request is None:
                    await stream.ack(event)
                    continue
                planned = self.runner.plan(request.trace, request.evaluators)
                if request.not_before_unix_nano <= time.time_ns() and all(
                    p.evaluator.mode == "inline" for p in planned
                ):
                    quick.append((event, request, planned))
                    continue
                await self._slots.acquire()
                task = asyncio.ensure_future(self._handle(event, stream, request, planned))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            if quick:
                await self._inline_batch(quick, stream)

    async def _inline_batch(self, batch: list[tuple[Any, EvaluationRequest, list[Planned]]], stream: Any) -> None:
        """Requests with only inline evaluators, due now: evaluate, publish all results, mark done, ack."""
        results: list[EvaluationResult] = []
        done: list[tuple[bytes, list[str]]] = []
        for _, request, planned in batch:
            trace = request.trace
            key = trace.trace_id.encode()
            entry = self.done.get(key)
            todo = [p for p in planned if p.evaluation_id not in entry.ids]
            self.stats["already_done"] += len(planned) - len(todo)
            if todo:
                results.extend(self.runner.run_inline(TraceView(trace, request.baseline), todo))
                done.append((key, [p.evaluation_id for p in todo]))
        await self.outputs.publish(results)
        for key, ids in done:
            await self.done.mark(key, ids, durable=False)
        for event, _, _ in batch:
            await stream.ack(event)

    async def _handle(self, event: Any, stream: Any, request: EvaluationRequest, planned: list[Planned]) -> None:
        keep_unacked = False
        try:
            await self.evaluate(request, planned)
        except asyncio.CancelledError:
            # Shutting down. Not acked, the request is delivered again after the restart; but an app that
            # waits for every event to be acked before it stops (stream_wait_empty: the embedded stack,
            # whose in-memory broker does not outlive it anyway) would wait forever, so there it is acked.
            keep_unacked = not self.app.conf.stream_wait_empty
            raise
        except Exception as exc:
            log.exception("evaluator.request_failed", error=repr(exc))
            await self.outputs.dead_letter(
                Rejected(-1, RejectReason.PROCESSING, f"evaluator failed: {exc!r}", event.value or b""), event.message
            )
        finally:
            self._slots.release()
            if not keep_unacked:
                await stream.ack(event)

    async def _decode(self, event: Any) -> EvaluationRequest | None:
        try:
            return EvaluationRequest.model_validate_json(event.value or b"")
        except ValidationError as exc:
            await self.outputs.dead_letter(rejection(exc, event.value or b""), event.message)
            return None

    async def evaluate(self, request: EvaluationRequest, planned: list[Planned]) -> None:
        """Run a request's unfinished evaluations; re-publish judge results stored before a crash."""
        delay = (request.not_before_unix_nano - time.time_ns()) / 1e9
        if delay > 0:
            await asyncio.sleep(delay)
        trace = request.trace
        key = trace.trace_id.encode()
        entry = self.done.get(key)
        todo = [p for p in planned if p.evaluation_id not in entry.ids]
        self.stats["already_done"] += len(planned) - len(todo)
        stored = [p for p in todo if p.evaluation_id in entry.pending]
        for item in stored:
            results = [EvaluationResult.model_validate_json(r) for r in entry.pending[item.evaluation_id]]
            await self.outputs.publish(results)
            await self.done.mark(key, [item.evaluation_id])
            self.stats["republished"] += 1
        todo = [p for p in todo if p.evaluation_id not in entry.pending]
        if not todo:
            return
        view = TraceView(trace, request.baseline)
        inline = [p for p in todo if p.evaluator.mode == "inline"]
        if inline:
            await self.outputs.publish(self.runner.run_inline(view, inline))
            await self.done.mark(key, [p.evaluation_id for p in inline], durable=False)
        await asyncio.gather(*(self._deferred(view, key, p) for p in todo if p.evaluator.mode != "inline"))

    async def _deferred(self, view: TraceView, key: bytes, item: Planned) -> None:
        """A judge (or other deferred evaluator): store its results durably, publish them, then mark them done."""
        results = await self.runner.run_deferred(view, item)
        stored = [r.model_dump_json(exclude_none=True) for r in results]
        await self.done.stash(key, item.evaluation_id, stored)
        await self.outputs.publish(results)
        await self.done.mark(key, [item.evaluation_id])
        self.stats["judge_cost_usd_micros"] += int(sum(r.judge_cost_usd for r in results) * 1e6)

    # ------------------------------------------------------------------ housekeeping

    def _refused(self, evaluator: str, reason: str) -> None:
        self.stats["skipped_by_limits"] += 1
        self._skip_log.warning(
            "evaluator.skipped", evaluator=evaluator, reason=reason, total=self.stats["skipped_by_limits"]
        )

    async def _on_recover(self) -> None:
        self.done.rebuild()

    async def _rewind_uncommitted(self, sender: Any = None, **kwargs: Any) -> None:
        await rewind_uncommitted(self.app, {self.traces_topic.get_topic_name(), self.requests_topic.get_topic_name()})

    async def _housekeeping(self) -> None:
        with contextlib.suppress(Exception):
            self.stats["done_expired"] += self.done.expire(time.time() - self.settings.done_ttl_s)
            self.ledger.expire()
        log.info("evaluator.stats", inflight=len(self._tasks), **dict(self.stats))

    # ------------------------------------------------------------------ lifecycle (embedded stack, worker)

    async def start(self) -> None:
        log.info("evaluator.started", evaluators=self.runner.registry.names())

    async def drain(self, grace_s: float = 30.0) -> None:
        """Wait (up to ``grace_s``) for the requests in flight to finish."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=grace_s)

    async def stop(self) -> None:
        """Cancel what is still in flight (unacked, so delivered again on the next start)."""
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

"""The evaluators on faust: a sampler agent on the traces topic, an evaluator agent on the requests topic.

Wiring only; the rules live in :mod:`~glassbox.evaluators.sampler` and :mod:`~glassbox.evaluators.runner`.

- **Sampler** (traces, raw bytes, batches): validates each AssembledTrace (invalid → dead-letter
  topic), updates the route baselines, and publishes one EvaluationRequest per sampled delay group,
  keyed by trace id. It does no evaluation, so a slow judge never holds up ingestion.
- **Evaluator** (requests, raw bytes, manual acks): requests with only inline evaluators, due now,
  are evaluated in the batch; every other request becomes a task, bounded by ``max_inflight`` (above
  it the agent stops pulling and faust pauses just this topic's partitions). A task skips evaluation
  ids already in the done table, runs the inline evaluators, publishes their results and waits for
  the broker's acknowledgement, *then* records the ids as done (re-running a rule after a crash costs
  nothing and yields the same id). Judges run concurrently (bounded by ``judge_concurrency``); each
  judgement is first stored in the done table (changelog acknowledged), then published, then marked
  done, so a crash at any point either re-publishes the stored judgement or, when none was stored,
  asks again a judge whose answer was never used. The request is acked only when all of it is done;
  acks reach faust in offset order (:class:`~glassbox.common.acks.OrderedAcks`), so no offset is
  committed past a request still running.
- **Parked requests**: a request due more than a second from now (a binding's ``delay_s``) is written
  to the ``evaluator-parked`` table and acked; a timer runs it when due and removes it once done
  (:mod:`~glassbox.evaluators.parked`). A long delay holds back no commit and no memory, and survives
  restarts.
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

from glassbox.common.acks import STALL_RESEEK_S, OrderedAcks, Ticket
from glassbox.common.faust_app import active_partitions, partition_for, rewind_uncommitted
from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.common.metrics import attach_faust_reporter
from glassbox.common.settings import EvaluatorSettings, KafkaSettings, PipelineSettings
from glassbox.evaluators.build import build_runner
from glassbox.evaluators.config import EvaluatorsConfig
from glassbox.evaluators.ledger import DoneStore, TableLedger
from glassbox.evaluators.outputs import Outputs, rejection
from glassbox.evaluators.parked import PARK_AFTER_NS, DueIndex, decode_parked, encode_parked, request_id
from glassbox.evaluators.runner import Planned
from glassbox.evaluators.sampler import Sampler, TraceHead, encode_request
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import EvaluationRequest, EvaluationResult
from glassbox.models.messages import Rejected, RejectReason
from glassbox.models.topics import DEAD_LETTERS, EVALUATION_REQUESTS, EVALUATION_RESULTS, TRACES

log = get_logger("glassbox.evaluators")
DONE_TABLE = "evaluator-done"
SPEND_TABLE = "evaluator-spend"
PARKED_TABLE = "evaluator-parked"


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
        self.parked = app.Table(PARKED_TABLE, partitions=parts, **table)
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
        self.partitions = parts
        self._acks = OrderedAcks(app=app)
        self._due = DueIndex()
        self._due_stale = True
        self._running_parked: set[tuple[bytes, str]] = set()
        self._inflight: dict[str, asyncio.Future[None]] = {}
        """Deferred evaluations running in this worker, by evaluation id."""
        self.outputs = Outputs(
            lambda: app.producer, EVALUATION_RESULTS.full_name(prefix), DEAD_LETTERS.full_name(prefix), self.stats
        )
        self._slots = asyncio.Semaphore(settings.max_inflight)
        self._tasks: set[asyncio.Task[None]] = set()
        self._skip_log = RateLimitedLog(log, settings.skip_log_interval_s)
        app.agent(self.traces_topic, name="glassbox-evaluator-sampler")(self._sample_agent)
        app.agent(self.requests_topic, name="glassbox-evaluator")(self._evaluate_agent)
        app.timer(30.0, name="glassbox-evaluator-housekeeping")(self._housekeeping)
        app.timer(0.25, name="glassbox-evaluator-parked")(self._run_parked)
        self.done_table.on_recover(self._on_recover)
        self.parked.on_recover(self._on_parked_recover)
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
        self._acks.stream = stream
        async for events in stream.noack_take(self.settings.sampler_batch, within=self.settings.batch_within_s):
            quick: list[tuple[Ticket, EvaluationRequest, list[Planned]]] = []
            for event in events:
                if self._acks.stale(event):
                    continue
                ticket = self._acks.track(event)
                request = await self._decode(event)
                if request is None:
                    await self._acks.done(ticket)
                    continue
                now = time.time_ns()
                if request.not_before_unix_nano - now > PARK_AFTER_NS:
                    self._park(request, event.value or b"")
                    await self._acks.done(ticket)
                    continue
                planned = self.runner.plan(request.trace, request.evaluators)
                if request.not_before_unix_nano <= now and all(p.evaluator.mode == "inline" for p in planned):
                    quick.append((ticket, request, planned))
                    continue
                await self._slots.acquire()
                self._spawn(self._handle(ticket, event, request, planned))
            if quick:
                await self._inline_batch(quick)

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _inline_batch(self, batch: list[tuple[Ticket, EvaluationRequest, list[Planned]]]) -> None:
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
        for ticket, _, _ in batch:
            await self._acks.done(ticket)

    async def _handle(self, ticket: Ticket, event: Any, request: EvaluationRequest, planned: list[Planned]) -> None:
        keep_unacked = False
        try:
            await self.evaluate(request, planned)
        except asyncio.CancelledError:
            # Shutting down. Not acked, the request is delivered again after the restart; but an app that
            # waits for every event to be acked before it stops (stream_wait_empty) would wait forever, so
            # there it is acked.
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
                await self._acks.done(ticket)

    # ------------------------------------------------------------------ parked requests

    def _park(self, request: EvaluationRequest, raw: bytes) -> None:
        """Keep a request due later in the parked table (the changelog is flushed before its offset commits)."""
        key = request.trace.trace_id.encode()
        entries = decode_parked(self.parked.get(key))
        rid = request_id(request)
        entries[rid] = (request.not_before_unix_nano, raw)
        self.parked[key] = encode_parked(entries)
        self._due.add(request.not_before_unix_nano, key, rid)
        self.stats["parked"] += 1

    def _rebuild_due(self) -> None:
        active = active_partitions(self.app, self.requests_name)
        if not active:
            return
        self._due.clear()
        for key, value in list(self.parked.items()):
            if partition_for(key, self.partitions) in active:
                for rid, (due, _) in decode_parked(value).items():
                    self._due.add(due, key, rid)
        self._due_stale = False

    async def _run_parked(self) -> None:
        """Start the parked requests that are due (as many as there are free slots)."""
        if not self._slots.locked():  # with every slot busy the agent waits on purpose, it is not stalled
            await self._acks.reseek_stalled(self.requests_name, STALL_RESEEK_S)
        if self._due_stale:
            self._rebuild_due()
        if self._due_stale or not len(self._due):
            return
        active = active_partitions(self.app, self.requests_name)
        while not self._slots.locked():
            due = self._due.pop_due(time.time_ns(), limit=1)
            if not due:
                break
            key, rid = due[0]
            parked = decode_parked(self.parked.get(key)).get(rid)
            running = (key, rid) in self._running_parked
            if parked is None or running or partition_for(key, self.partitions) not in active:
                continue
            try:
                request = EvaluationRequest.model_validate_json(parked[1])
            except ValidationError as exc:  # it validated when parked: only a changed model gets here
                log.error("evaluator.parked_invalid", error=str(exc)[:300])
                self._unpark(key, rid)
                continue
            await self._slots.acquire()
            self._running_parked.add((key, rid))
            self._spawn(self._handle_parked(key, rid, request))

    async def _handle_parked(self, key: bytes, rid: str, request: EvaluationRequest) -> None:
        finished = False
        try:
            await self.evaluate(request, self.runner.plan(request.trace, request.evaluators))
            finished = True
        except asyncio.CancelledError:
            raise  # shutting down: it stays parked and runs after the restart
        except Exception as exc:
            log.exception("evaluator.parked_failed", error=repr(exc))
            finished = True  # like a request that failed: not retried forever
        finally:
            self._slots.release()
            self._running_parked.discard((key, rid))
            if finished:
                self._unpark(key, rid)

    def _unpark(self, key: bytes, rid: str) -> None:
        entries = decode_parked(self.parked.get(key))
        if entries.pop(rid, None) is None:
            return
        if entries:
            self.parked[key] = encode_parked(entries)
        else:
            del self.parked[key]

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
        """A judge (or other deferred evaluator): store its results durably, publish them, then mark them done.

        The same evaluation already running in this worker (its request delivered again after a rebalance,
        while the first delivery's task still runs) is awaited, not judged a second time."""
        running = self._inflight.get(item.evaluation_id)
        if running is not None:
            self.stats["joined_inflight"] += 1
            await asyncio.shield(running)
            return
        finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight[item.evaluation_id] = finished
        try:
            results = await self.runner.run_deferred(view, item)
            stored = [r.model_dump_json(exclude_none=True) for r in results]
            await self.done.stash(key, item.evaluation_id, stored)
            await self.outputs.publish(results)
            await self.done.mark(key, [item.evaluation_id])
            self.stats["judge_cost_usd_micros"] += int(sum(r.judge_cost_usd for r in results) * 1e6)
        except asyncio.CancelledError:
            finished.cancel()
            raise
        except Exception as exc:
            finished.set_exception(exc)
            finished.exception()  # retrieved: a failure nobody waited for is not reported twice
            raise
        else:
            finished.set_result(None)
        finally:
            del self._inflight[item.evaluation_id]

    # ------------------------------------------------------------------ housekeeping

    def _refused(self, evaluator: str, reason: str) -> None:
        self.stats["skipped_by_limits"] += 1
        self._skip_log.warning(
            "evaluator.skipped", evaluator=evaluator, reason=reason, total=self.stats["skipped_by_limits"]
        )

    async def _on_recover(self) -> None:
        self.done.rebuild()

    async def _on_parked_recover(self) -> None:
        self._due_stale = True

    async def _rewind_uncommitted(self, sender: Any = None, **kwargs: Any) -> None:
        self._acks.forget()  # requests still running were taken before: their partitions are read again
        self._due_stale = True
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

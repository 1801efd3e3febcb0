"""Running an experiment: the target on every item of a dataset version, traced, evaluated and stored.

Each item is one trace: a root span named after the target, tagged ``experiment:<id>``,
``dataset:<name>@<version>`` and ``item:<id>`` (metadata carries the same, plus the item's
expected output as ``expected_output`` for reference-based evaluators), with the target's own
spans and litellm calls beneath it. When the call returns, the run waits for the trace's spans
(litellm reports on background threads), assembles the trace locally, evaluates it with the
production evaluators, stores the trace (see :mod:`glassbox.datasets.trace_writer`) and then the
item's result. Items run concurrently, at most ``concurrency`` at once.

Resuming: the experiment id is deterministic, and items already stored with status ``ok`` are
skipped, so running the same command again after an interruption (Ctrl-C, a crash) only runs
what is left; items that raised run again. ``force`` runs everything again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import glassbox
from glassbox.datasets.backend import Backend
from glassbox.datasets.capture import CaptureSender, assemble_events, capturing_client
from glassbox.datasets.experiments import ExperimentStore
from glassbox.datasets.models import DatasetItem, Experiment, ItemResult, now_ms
from glassbox.datasets.scoring import ExperimentScorer, scores_of
from glassbox.datasets.target import call_arguments, call_target, target_name
from glassbox.datasets.trace_writer import TraceWriter


@dataclass
class RunReport:
    """What a run did: the experiment as stored last, items run now, items skipped as already done."""

    experiment: Experiment
    ran: list[ItemResult] = field(default_factory=list)
    skipped: int = 0


class ItemRunner:
    """Runs one item: call, trace, evaluate, store. Shared by every concurrent item of a run."""

    def __init__(self, backend: Backend, experiment: Experiment, fn: Callable[..., Any], prompt: Any,
                 scorer: ExperimentScorer, capture: CaptureSender) -> None:  # fmt: skip
        self.experiment, self.fn, self.prompt, self.scorer, self.capture = experiment, fn, prompt, scorer, capture
        self.store = ExperimentStore(backend)
        self.traces = TraceWriter(backend)
        self.name = target_name(experiment.target)
        self._write_lock = threading.Lock()

    def _root(self, item: DatasetItem) -> Any:
        exp = self.experiment
        tags = [f"experiment:{exp.experiment_id}", f"dataset:{exp.dataset_ref}", f"item:{item.item_id}"]
        metadata: dict[str, Any] = {"experiment_id": exp.experiment_id, "dataset": exp.dataset_ref,
                                    "item_id": item.item_id, "target": exp.target}  # fmt: skip
        if exp.prompt_ref:
            metadata["prompt"] = exp.prompt_ref
        if item.expected is not None:
            metadata["expected_output"] = item.expected
        return glassbox.trace(self.name, new_trace=True, tags=tags, metadata=metadata)

    async def run(self, item: DatasetItem) -> ItemResult:
        args, kwargs = call_arguments(self.fn, item, self.prompt)
        error = ""
        output: Any = None
        started = time.perf_counter()
        with self._root(item) as span:
            span.update(input=item.input)
            try:
                output = await call_target(self.fn, args, kwargs)
            except Exception as exc:
                span.record_exception(exc)
                error = f"{type(exc).__name__}: {exc}"[:2000]
            else:
                span.update(output=output)
        elapsed_ms = (time.perf_counter() - started) * 1000
        trace_id = span.trace_id_hex
        await asyncio.to_thread(glassbox.flush, 10.0)
        trace = assemble_events(self.capture.take(trace_id))
        results = await self.scorer.evaluate(trace) if trace is not None else []
        metrics = trace.metrics if trace is not None else None
        result = ItemResult(
            experiment_id=self.experiment.experiment_id,
            item_id=item.item_id,
            trace_id=trace_id,
            status="error" if error else "ok",
            error=error,
            output=_jsonable(output),
            latency_ms=round(metrics.duration_ns / 1e6, 3) if metrics and metrics.duration_ns else round(elapsed_ms, 3),
            input_tokens=metrics.input_tokens if metrics else 0,
            output_tokens=metrics.output_tokens if metrics else 0,
            cost_usd=metrics.cost_usd if metrics else 0.0,
            evaluations=scores_of(results),
            created_at_ms=now_ms(),
        )
        await asyncio.to_thread(self._save, trace, results, result)
        return result

    def _save(self, trace: Any, results: list[Any], result: ItemResult) -> None:
        with self._write_lock:
            if trace is not None:
                self.traces.store(trace, results)
            self.store.save_result(result)


def _jsonable(value: Any) -> Any:
    """The output as JSON data (the SDK's capture rules: pydantic models, dataclasses, reprs for the rest)."""
    from glassbox.sdk.capture import Capturer

    return Capturer(max_value_bytes=1_000_000, max_depth=50).capture(value, "output", [])


async def run_items(runner: ItemRunner, items: list[DatasetItem], concurrency: int,
                    on_done: Callable[[ItemResult], None] | None = None) -> list[ItemResult]:  # fmt: skip
    """Run ``items`` with at most ``concurrency`` in flight; results in completion order."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    out: list[ItemResult] = []

    async def one(item: DatasetItem) -> None:
        async with semaphore:
            result = await runner.run(item)
        out.append(result)
        if on_done is not None:
            on_done(result)

    await asyncio.gather(*(one(item) for item in items))
    return out


def execute(
    backend: Backend,
    experiment: Experiment,
    items: list[DatasetItem],
    fn: Callable[..., Any],
    *,
    prompt: Any = None,
    scorer: ExperimentScorer,
    concurrency: int = 4,
    force: bool = False,
    on_start: Callable[[int, int], None] | None = None,
    on_done: Callable[[ItemResult], None] | None = None,
) -> RunReport:
    """Run (or resume) ``experiment``; the stored status ends finished, interrupted (Ctrl-C) or failed."""
    store = ExperimentStore(backend)
    done = set() if force else store.done_items(experiment.experiment_id)
    todo = [item for item in items if item.item_id not in done]
    report = RunReport(experiment, skipped=len(items) - len(todo))
    store.save(experiment.model_copy(update={"status": "running", "finished_at_ms": 0}))
    if on_start is not None:
        on_start(len(items), report.skipped)
    status = "failed"
    try:
        with capturing_client(backend.kafka) as capture:
            runner = ItemRunner(backend, experiment, fn, prompt, scorer, capture)
            try:
                report.ran = asyncio.run(run_items(runner, todo, concurrency, on_done))
            finally:
                runner.traces.close()
        status = "finished"
    except (KeyboardInterrupt, asyncio.CancelledError):
        status = "interrupted"
        raise
    finally:
        final = experiment.model_copy(update={"status": status, "finished_at_ms": now_ms()})
        store.save(final)
        report.experiment = final
    return report

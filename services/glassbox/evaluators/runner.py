"""Running evaluators on one assembled trace: outcomes in, EvaluationResults out.

Pure apart from the judges' HTTP calls: no Kafka, no tables. Inline evaluators (rules, the
lexical similarity) run synchronously; thread evaluators (embeddings, sync custom functions) and
async ones (LLM judges, async custom functions) run through :meth:`Runner.run_deferred`, after
the limiter admitted them. Each result's id is
``evaluation_id(trace id, trace version, evaluator name, evaluator version)``; a custom function's
named verdicts get ``<evaluator>.<verdict name>`` as their evaluator name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from glassbox.evaluators.custom import CustomEvaluator
from glassbox.evaluators.limits import Limiter, Ticket
from glassbox.evaluators.registry import Registry
from glassbox.evaluators.types import Evaluator, Outcome, errored, skipped
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import (
    EvaluationResult,
    EvaluationStatus,
    EvaluatorType,
    RouteBaseline,
    evaluation_id,
)
from glassbox.models.trace import AssembledTrace


@dataclass(frozen=True, slots=True)
class Planned:
    """An evaluator to run on a trace, with the id its (first) result will have."""

    evaluator: Evaluator
    evaluation_id: str


class UnknownEvaluator(Evaluator):
    """Stands in for a requested name this worker has no evaluator for (config drift between workers)."""

    kind = EvaluatorType.CUSTOM

    def check(self, view: TraceView) -> Outcome:
        return errored(f"evaluator {self.name!r} is not configured on this worker")


def make_result(
    trace: AssembledTrace,
    evaluator: Evaluator,
    outcome: Outcome,
    *,
    latency_ms: float,
    created_ns: int,
    base_id: str | None = None,
) -> EvaluationResult:
    """The EvaluationResult of one outcome; a failure names the outcome's or the evaluator's category.

    Built without re-validation (every field comes from validated models or from this code): validation
    was half the cost of a rule evaluation. ``base_id`` is the planned evaluation id.
    """
    name = f"{evaluator.name}.{outcome.name_suffix}" if outcome.name_suffix else evaluator.name
    usage = outcome.usage
    scored = outcome.status is EvaluationStatus.PASSED or outcome.status is EvaluationStatus.FAILED
    return _unvalidated(
        {
            "schema_version": 1,
            "evaluation_id": base_id
            if base_id and not outcome.name_suffix
            else evaluation_id(trace.trace_id, trace.version, name, evaluator.version),
            "trace_id": trace.trace_id,
            "trace_version": trace.version,
            "span_id": outcome.span_id,
            "evaluator": name,
            "evaluator_version": evaluator.version,
            "evaluator_type": evaluator.kind,
            "status": outcome.status,
            "score": outcome.score if scored else None,
            "label": outcome.label,
            "reason": outcome.reason[:4000],
            "failure_category": (outcome.category or evaluator.category) if outcome.failed else None,
            "evidence": outcome.evidence,
            "service_name": trace.service_name,
            "environment": trace.environment,
            "prompt_versions": list(trace.prompt_versions),
            "judge_model": usage.model if usage else None,
            "judge_input_tokens": usage.input_tokens if usage else 0,
            "judge_output_tokens": usage.output_tokens if usage else 0,
            "judge_cost_usd": usage.cost_usd if usage else 0.0,
            "latency_ms": max(0.0, latency_ms),
            "created_at_unix_nano": created_ns,
        }
    )


_RESULT_FIELDS = frozenset(EvaluationResult.model_fields)


def _unvalidated(values: dict[str, Any]) -> EvaluationResult:
    """An EvaluationResult from a complete field dict, without validation (what model_construct does, at a
    fraction of its cost). Every field must be present; tests check the results against the contract."""
    result = EvaluationResult.__new__(EvaluationResult)
    object.__setattr__(result, "__dict__", values)
    object.__setattr__(result, "__pydantic_fields_set__", set(_RESULT_FIELDS))
    object.__setattr__(result, "__pydantic_extra__", None)
    object.__setattr__(result, "__pydantic_private__", None)
    return result


class Runner:
    """Runs the registry's evaluators; ``on_refused(evaluator, reason)`` hears about limiter refusals.

    An evaluator that found nothing to look at (not applicable) yields no result unless
    ``keep_not_applicable``; its evaluation id still counts as done.
    """

    def __init__(
        self,
        registry: Registry,
        limiter: Limiter | None = None,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        on_refused: Callable[[str, str], None] | None = None,
        keep_not_applicable: bool = False,
    ) -> None:
        self.registry = registry
        self.limiter = limiter or Limiter({})
        self.clock_ns = clock_ns
        self.on_refused = on_refused
        self.keep_not_applicable = keep_not_applicable

    def plan(self, trace: AssembledTrace, names: Iterable[str]) -> list[Planned]:
        """The evaluators to run for ``names`` (deduplicated, order kept), with their evaluation ids."""
        planned: list[Planned] = []
        for name in dict.fromkeys(names):
            evaluator = self.registry.get(name) or UnknownEvaluator(name, "unknown", None)
            eid = evaluation_id(trace.trace_id, trace.version, name, evaluator.version)
            planned.append(Planned(evaluator, eid))
        return planned

    def _results(
        self, view: TraceView, item: Planned, outcomes: list[Outcome], started: float
    ) -> list[EvaluationResult]:
        latency = (time.perf_counter() - started) * 1000
        now = self.clock_ns()
        return [
            make_result(view.trace, item.evaluator, o, latency_ms=latency, created_ns=now, base_id=item.evaluation_id)
            for o in outcomes
            if o.applicable or self.keep_not_applicable
        ]

    def run_inline(self, view: TraceView, planned: Iterable[Planned]) -> list[EvaluationResult]:
        """Run cheap synchronous evaluators now; a crashing evaluator yields an error result, not an exception."""
        results: list[EvaluationResult] = []
        for item in planned:
            started = time.perf_counter()
            try:
                outcome = item.evaluator.check(view)
            except Exception as exc:
                outcome = errored(f"evaluator {item.evaluator.name!r} crashed: {exc!r}"[:1000])
            results.extend(self._results(view, item, [outcome], started))
        return results

    async def run_deferred(self, view: TraceView, item: Planned) -> list[EvaluationResult]:
        """Run a thread or async evaluator once the limiter admits it (else a skipped result with the reason)."""
        evaluator = item.evaluator
        started = time.perf_counter()
        ticket = await self.limiter.acquire(evaluator.name)
        if isinstance(ticket, str):
            if self.on_refused is not None:
                self.on_refused(evaluator.name, ticket)
            return self._results(view, item, [skipped(ticket)], started)
        outcomes = await self._outcomes(view, evaluator, ticket)
        return self._results(view, item, outcomes, started)

    async def _outcomes(self, view: TraceView, evaluator: Evaluator, ticket: Ticket) -> list[Outcome]:
        outcomes: list[Outcome] = []
        try:
            if isinstance(evaluator, CustomEvaluator):
                outcomes = await evaluator.arun_all(view)
            elif evaluator.mode == "thread":
                outcomes = [await asyncio.to_thread(evaluator.check, view)]
            else:
                outcomes = [await evaluator.acheck(view)]
        except Exception as exc:
            outcomes = [errored(f"evaluator {evaluator.name!r} crashed: {exc!r}"[:1000])]
        finally:
            self.limiter.settle(ticket, sum(o.usage.cost_usd for o in outcomes if o.usage))
        return outcomes

    async def evaluate(
        self, trace: AssembledTrace, names: Iterable[str], baseline: RouteBaseline | None = None
    ) -> list[EvaluationResult]:
        """Every named evaluator on ``trace``: inline ones first, then the others concurrently."""
        view = TraceView(trace, baseline)
        planned = self.plan(trace, names)
        results = self.run_inline(view, [p for p in planned if p.evaluator.mode == "inline"])
        deferred = [p for p in planned if p.evaluator.mode != "inline"]
        for batch in await asyncio.gather(*(self.run_deferred(view, p) for p in deferred)):
            results.extend(batch)
        return results

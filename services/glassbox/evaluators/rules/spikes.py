"""Latency, token and cost spikes against the route's rolling baseline (p99 × k).

The sampler sees every trace and attaches its route's baseline (computed before the trace itself
joined it) to the request. Until the route has ``min_samples`` traces in the window the rules
skip with "baseline warming up". Latency spikes are latency_spike; token and cost spikes are cost_spike.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from glassbox.evaluators.params import Params
from glassbox.evaluators.types import Evaluator, Outcome, failed, passed, skipped
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import FailureCategory, RouteBaseline
from glassbox.models.span import SpanBase


class SpikeParams(Params):
    k: float = Field(2.0, gt=0)
    """A trace spikes when its figure exceeds the route's p99 × k."""
    min_samples: int = Field(20, ge=1)
    """Traces the route needs in the window before it is judged."""
    min_value: float = Field(0.0, ge=0)
    """Figures at or below this never spike (milliseconds, tokens or dollars)."""


class _Spike(Evaluator):
    metric: ClassVar[str]
    unit: ClassVar[str]
    params_model = SpikeParams
    params: SpikeParams

    def value(self, view: TraceView) -> float:
        raise NotImplementedError

    def p99(self, baseline: RouteBaseline) -> float | None:
        raise NotImplementedError

    def culprit(self, view: TraceView) -> SpanBase | None:
        raise NotImplementedError

    def check(self, view: TraceView) -> Outcome:
        baseline = view.baseline
        if baseline is None:
            return skipped("no baseline for this route in the request")
        p99 = self.p99(baseline)
        if baseline.samples < self.params.min_samples or p99 is None:
            return skipped(
                f"baseline warming up ({baseline.samples} of {self.params.min_samples} traces of {baseline.route})",
                samples=baseline.samples,
            )
        value = self.value(view)
        threshold = max(p99 * self.params.k, self.params.min_value)
        evidence: dict[str, Any] = {
            self.metric: value,
            "p99": p99,
            "k": self.params.k,
            "threshold": threshold,
            "samples": baseline.samples,
            "window_s": baseline.window_s,
            "route": baseline.route,
        }
        score = min(1.0, threshold / value) if value > 0 else 1.0
        if value > threshold:
            span = self.culprit(view)
            if span is not None:
                evidence["span_name"] = span.name
            return failed(
                f"{self.metric} {value:.6g}{self.unit} is {value / p99:.1f}× the route's p99 of {p99:.6g}{self.unit}"
                if p99 > 0
                else f"{self.metric} {value:.6g}{self.unit} exceeds {threshold:.6g}{self.unit}",
                score=score,
                span_id=span.span_id if span is not None else None,
                **evidence,
            )
        return passed(f"{self.metric} {value:.6g}{self.unit} within p99 × {self.params.k:g}", score=score, **evidence)


def _longest_child(view: TraceView) -> SpanBase | None:
    others = [s for s in view.spans if s is not view.root] or view.spans
    return max(others, key=lambda s: s.duration_ns) if others else None


class LatencySpike(_Spike):
    """Fails when the trace's duration exceeds the route's p99 latency × k; points at the longest span."""

    type_name = "latency_spike"
    category = FailureCategory.LATENCY_SPIKE
    metric = "latency_ms"
    unit = " ms"

    def value(self, view: TraceView) -> float:
        return view.trace.metrics.duration_ns / 1e6

    def p99(self, baseline: RouteBaseline) -> float | None:
        return baseline.latency_p99_ms

    def culprit(self, view: TraceView) -> SpanBase | None:
        return _longest_child(view)


def _heaviest_generation(view: TraceView, cost: bool) -> SpanBase | None:
    def weight(span: Any) -> float:
        p = span.payload
        return (p.cost_usd or 0.0) if cost else float((p.input_tokens or 0) + (p.output_tokens or 0))

    return max(view.generations, key=weight) if view.generations else None


class TokenSpike(_Spike):
    """Fails when the trace's input + output tokens exceed the route's p99 × k; points at the largest LLM call."""

    type_name = "token_spike"
    category = FailureCategory.COST_SPIKE
    metric = "tokens"
    unit = ""

    def value(self, view: TraceView) -> float:
        return float(view.trace.metrics.input_tokens + view.trace.metrics.output_tokens)

    def p99(self, baseline: RouteBaseline) -> float | None:
        return baseline.tokens_p99

    def culprit(self, view: TraceView) -> SpanBase | None:
        return _heaviest_generation(view, cost=False)


class CostSpike(_Spike):
    """Fails when the trace's cost exceeds the route's p99 × k; points at the most expensive LLM call."""

    type_name = "cost_spike"
    category = FailureCategory.COST_SPIKE
    metric = "cost_usd"
    unit = " USD"

    def value(self, view: TraceView) -> float:
        return view.trace.metrics.cost_usd

    def p99(self, baseline: RouteBaseline) -> float | None:
        return baseline.cost_p99_usd

    def culprit(self, view: TraceView) -> SpanBase | None:
        return _heaviest_generation(view, cost=True)

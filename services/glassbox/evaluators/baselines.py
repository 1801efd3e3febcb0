"""Rolling per-route baselines of latency, tokens and cost (p99 over a time window of the newest traces).

A route is ``service_name/root span name``. The sampler asks for a route's :class:`RouteBaseline`
*before* adding the trace itself, so a spike never raises its own bar. Time is the traces' own end
time (not the wall clock), so a replay computes the same baselines. Each route keeps at most
``max_samples`` samples within ``window_s`` of its newest one; the p99s are recomputed after every
1% of new samples (at least one), which keeps the cost per trace flat. Once a route is warmed up,
a trace far above its p99 (``outlier_factor``) is not added, so a burst of spikes does not become
its own baseline. The state is in memory: a restarted worker warms up again (the spike rules skip
with "baseline warming up" meanwhile).
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Protocol

from glassbox.evaluators.config import BaselineConfig
from glassbox.models.evaluation import RouteBaseline
from glassbox.models.trace import AssembledTrace, TraceMetrics


def p99(values: list[float]) -> float:
    """Nearest-rank 99th percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


@dataclass
class _Route:
    samples: deque[tuple[float, float, float, float]] = field(default_factory=deque)
    """(time s, latency ms, tokens, cost USD), oldest first."""
    cached: tuple[float | None, float | None, float | None] = (None, None, None)
    changes: int = 0

    def expire(self, now_s: float, window_s: float, max_samples: int) -> None:
        samples = self.samples
        while samples and (samples[0][0] < now_s - window_s or len(samples) > max_samples):
            samples.popleft()
            self.changes += 1

    def figures(self) -> tuple[float | None, float | None, float | None]:
        n = len(self.samples)
        if self.changes >= max(1, n // 100) or self.cached[0] is None:
            if n:
                self.cached = (
                    p99([s[1] for s in self.samples]),
                    p99([s[2] for s in self.samples]),
                    p99([s[3] for s in self.samples]),
                )
            else:
                self.cached = (None, None, None)
            self.changes = 0
        return self.cached


class _TraceLike(Protocol):
    trace_id: str
    version: int
    service_name: str
    name: str
    end_time_unix_nano: int
    metrics: TraceMetrics


def route_of(trace: _TraceLike) -> str:
    return f"{trace.service_name}/{trace.name}"


class Baselines:
    """Per-route rolling windows, at most ``max_routes`` of them (least recently seen forgotten first)."""

    def __init__(self, config: BaselineConfig) -> None:
        self.config = config
        self._routes: OrderedDict[str, _Route] = OrderedDict()

    def snapshot(self, route: str, now_s: float) -> RouteBaseline:
        """The route's figures now (samples older than the window dropped first)."""
        state = self._routes.get(route)
        if state is None:
            return RouteBaseline(route=route, samples=0, window_s=self.config.window_s)
        state.expire(now_s, self.config.window_s, self.config.max_samples)
        latency, tokens, cost = state.figures()
        return RouteBaseline(
            route=route,
            samples=len(state.samples),
            window_s=self.config.window_s,
            latency_p99_ms=latency,
            tokens_p99=tokens,
            cost_p99_usd=cost,
        )

    def observe(self, route: str, now_s: float, latency_ms: float, tokens: float, cost_usd: float) -> None:
        state = self._routes.get(route)
        if state is None:
            state = self._routes[route] = _Route()
            if len(self._routes) > self.config.max_routes:
                self._routes.popitem(last=False)
        else:
            self._routes.move_to_end(route)
        state.samples.append((now_s, latency_ms, tokens, cost_usd))
        state.changes += 1
        state.expire(now_s, self.config.window_s, self.config.max_samples)

    def observe_trace(self, trace: _TraceLike | AssembledTrace) -> RouteBaseline:
        """The route's baseline before ``trace``; then the trace joins it (first versions only: a late
        span's re-emission is the same request, not another sample)."""
        route = route_of(trace)
        now_s = trace.end_time_unix_nano / 1e9
        baseline = self.snapshot(route, now_s)
        if trace.version == 1:
            m = trace.metrics
            figures = (m.duration_ns / 1e6, float(m.input_tokens + m.output_tokens), m.cost_usd)
            if not self._outlier(baseline, figures):
                self.observe(route, now_s, *figures)
        return baseline

    def _outlier(self, baseline: RouteBaseline, figures: tuple[float, float, float]) -> bool:
        factor = self.config.outlier_factor
        if factor is None or baseline.samples < self.config.outlier_min_samples:
            return False
        bars = (baseline.latency_p99_ms, baseline.tokens_p99, baseline.cost_p99_usd)
        return any(
            bar is not None and bar > 0 and value > bar * factor for value, bar in zip(figures, bars, strict=True)
        )

"""Rolling baselines: warmed-up routes keep outliers out, so a burst of spikes keeps being flagged."""

from __future__ import annotations

from dataclasses import dataclass

from glassbox.evaluators.baselines import Baselines
from glassbox.evaluators.config import BaselineConfig
from glassbox.models.trace import TraceMetrics


@dataclass
class Trace:
    trace_id: str
    version: int
    service_name: str
    name: str
    end_time_unix_nano: int
    metrics: TraceMetrics


def feed(baselines: Baselines, route: str, values: list[float]) -> list[float | None]:
    """Latency p99 (ms) each trace was judged against, in order."""
    service, name = route.split("/")
    bars = []
    for i, value in enumerate(values):
        metrics = TraceMetrics(duration_ns=int(value * 1e6), input_tokens=10, cost_usd=0.001)
        trace = Trace(f"{i + 1:032x}", 1, service, name, (i + 1) * 1_000_000_000, metrics)
        bars.append(baselines.observe_trace(trace).latency_p99_ms)
    return bars


def test_a_burst_of_spikes_does_not_raise_its_own_bar() -> None:
    """After 20 normal traces, three 10× traces in a row are each judged against the normal p99."""
    baselines = Baselines(BaselineConfig(outlier_factor=2.0, outlier_min_samples=20))
    bars = feed(baselines, "svc/answer", [100.0 + i for i in range(20)] + [1000.0, 1000.0, 1000.0])
    assert bars[-3:] == [119.0, 119.0, 119.0]


def test_without_exclusion_the_first_spike_hides_the_next() -> None:
    """outlier_factor=None admits every trace: the second spike is then compared with the first."""
    baselines = Baselines(BaselineConfig(outlier_factor=None))
    bars = feed(baselines, "svc/answer", [100.0 + i for i in range(20)] + [1000.0, 1000.0])
    assert bars[-1] == 1000.0


def test_cold_routes_admit_everything() -> None:
    """Below outlier_min_samples nothing is excluded: a route must learn its normal first."""
    baselines = Baselines(BaselineConfig(outlier_factor=2.0, outlier_min_samples=20))
    feed(baselines, "svc/cold", [100.0, 5000.0, 100.0])
    assert baselines.snapshot("svc/cold", 4.0).samples == 3

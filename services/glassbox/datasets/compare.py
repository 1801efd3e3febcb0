"""Comparing two experiments item by item: score deltas, newly failing items, cost, latency, and the regression rule.

Items are paired by id (run both experiments on the same dataset, or on versions of it; items
in only one of them are listed, not compared). An item *passes* when its call succeeded and no
evaluator failed it. Per evaluator, the delta is the mean of B − A over the items it scored in
both, with a bootstrap confidence interval (see :mod:`glassbox.datasets.stats`).

**The regression rule** (``--fail-on-regression``): B regresses from A when any of

1. more than ``max_newly_failing`` items (default 0) pass in A and fail in B;
2. an evaluator's mean score drops by at least ``score_threshold`` (default 0.05) *and* the upper
   end of its confidence interval is below zero (the drop is not noise);
3. with ``max_cost_increase`` set (a fraction: 0.2 = +20 %), mean cost per item rises by more
   than that and the interval of the increase is above zero; likewise ``max_latency_increase``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from glassbox.datasets.models import Experiment, ItemResult
from glassbox.datasets.stats import bootstrap_ci, mean, percentile


@dataclass(frozen=True)
class RegressionRule:
    max_newly_failing: int = 0
    score_threshold: float = 0.05
    max_cost_increase: float | None = None
    max_latency_increase: float | None = None
    confidence: float = 0.95


@dataclass(frozen=True)
class Delta:
    """A paired difference B − A over ``n`` items, with its confidence interval."""

    name: str
    n: int
    mean_a: float | None
    mean_b: float | None
    delta: float | None
    ci: tuple[float, float] | None

    @property
    def relative(self) -> float | None:
        """delta / mean_a (None when A's mean is 0 or unknown)."""
        if self.delta is None or not self.mean_a:
            return None
        return self.delta / self.mean_a


@dataclass(frozen=True)
class EvaluatorDelta(Delta):
    pass_rate_a: float | None = None
    pass_rate_b: float | None = None
    newly_failing: tuple[str, ...] = ()
    newly_passing: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemChange:
    item_id: str
    a: ItemResult
    b: ItemResult

    @property
    def change(self) -> str:
        """newly_failing, newly_passing, still_failing or still_passing."""
        if self.a.passed == self.b.passed:
            return "still_passing" if self.a.passed else "still_failing"
        return "newly_passing" if self.b.passed else "newly_failing"


@dataclass
class Comparison:
    a: Experiment
    b: Experiment
    items: list[ItemChange]
    evaluators: list[EvaluatorDelta]
    passed: Delta
    cost: Delta
    latency: Delta
    latency_p95: tuple[float | None, float | None]
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)

    def changed(self, kind: str) -> list[ItemChange]:
        return [i for i in self.items if i.change == kind]


def paired(name: str, pairs: list[tuple[float, float]], confidence: float) -> Delta:
    diffs = [b - a for a, b in pairs]
    return Delta(name, len(pairs), mean([a for a, _ in pairs]), mean([b for _, b in pairs]), mean(diffs),
                 bootstrap_ci(diffs, confidence=confidence))  # fmt: skip


def _evaluator_delta(name: str, items: list[ItemChange], confidence: float) -> EvaluatorDelta:
    scored = [(i.a.scores[name], i.b.scores[name]) for i in items if name in i.a.scores and name in i.b.scores]
    base = paired(name, scored, confidence)

    def rate(results: list[str]) -> float | None:
        judged = [s for s in results if s in ("passed", "failed")]
        return sum(s == "passed" for s in judged) / len(judged) if judged else None

    statuses = [(i.item_id, i.a.statuses.get(name), i.b.statuses.get(name)) for i in items]
    return EvaluatorDelta(
        **base.__dict__,
        pass_rate_a=rate([a for _, a, _ in statuses if a]),
        pass_rate_b=rate([b for _, _, b in statuses if b]),
        newly_failing=tuple(i for i, a, b in statuses if a == "passed" and b == "failed"),
        newly_passing=tuple(i for i, a, b in statuses if a == "failed" and b == "passed"),
    )


def compare(a: Experiment, b: Experiment, results_a: list[ItemResult], results_b: list[ItemResult],
            confidence: float = 0.95) -> Comparison:  # fmt: skip
    """The item-by-item comparison of B against A. Pure."""
    by_a = {r.item_id: r for r in results_a}
    by_b = {r.item_id: r for r in results_b}
    items = [ItemChange(i, by_a[i], by_b[i]) for i in sorted(by_a) if i in by_b]
    names = sorted({n for i in items for n in (*i.a.statuses, *i.b.statuses)})
    ok = [i for i in items if i.a.status == "ok" and i.b.status == "ok"]
    return Comparison(
        a=a,
        b=b,
        items=items,
        evaluators=[_evaluator_delta(n, items, confidence) for n in names],
        passed=paired("passed", [(float(i.a.passed), float(i.b.passed)) for i in items], confidence),
        cost=paired("cost_usd", [(i.a.cost_usd, i.b.cost_usd) for i in ok], confidence),
        latency=paired("latency_ms", [(i.a.latency_ms, i.b.latency_ms) for i in ok], confidence),
        latency_p95=(percentile([i.a.latency_ms for i in ok], 95), percentile([i.b.latency_ms for i in ok], 95)),
        only_a=sorted(set(by_a) - set(by_b)),
        only_b=sorted(set(by_b) - set(by_a)),
    )


def regressions(comparison: Comparison, rule: RegressionRule) -> list[str]:
    """Why B regresses from A under ``rule`` (one sentence per reason); empty when it does not."""
    reasons: list[str] = []
    failing = comparison.changed("newly_failing")
    if len(failing) > rule.max_newly_failing:
        ids = ", ".join(i.item_id for i in failing[:10])
        reasons.append(f"{len(failing)} item(s) newly failing (allowed {rule.max_newly_failing}): {ids}")
    for d in comparison.evaluators:
        if d.delta is not None and d.ci is not None and d.delta <= -rule.score_threshold and d.ci[1] < 0:
            reasons.append(f"{d.name}: mean score {d.delta:+.3f} (CI {d.ci[0]:+.3f}..{d.ci[1]:+.3f}) "
                           f"beyond -{rule.score_threshold:g}")  # fmt: skip
    for delta, limit in ((comparison.cost, rule.max_cost_increase), (comparison.latency, rule.max_latency_increase)):
        relative = delta.relative
        if limit is not None and relative is not None and delta.ci is not None and relative > limit and delta.ci[0] > 0:
            reasons.append(f"{delta.name}: mean {relative:+.1%} per item (allowed +{limit:.0%})")
    return reasons

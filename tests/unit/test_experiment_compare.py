"""Comparing experiments without an engine: paired deltas, bootstrap intervals, the regression rule, reports."""

from __future__ import annotations

import pytest

from glassbox.datasets.compare import RegressionRule, compare, regressions
from glassbox.datasets.models import EvaluatorScore, Experiment, ItemResult
from glassbox.datasets.report import markdown, render, to_html
from glassbox.datasets.stats import bootstrap_ci, mean, percentile

A = Experiment(experiment_id="exp-a", name="before", dataset="golden", dataset_version=1, target="m:f")
B = Experiment(experiment_id="exp-b", name="after", dataset="golden", dataset_version=1, target="m:f")


def result(
    exp: str,
    item: str,
    score: float | None,
    status: str = "passed",
    *,
    cost: float = 0.001,
    latency: float = 100.0,
    call: str = "ok",
    output: str = "out",
) -> ItemResult:
    evaluations = [
        EvaluatorScore(
            evaluator="faithfulness",
            status=status,
            score=score,  # type: ignore[arg-type]
            reason=f"{status} because",
            category="hallucination" if status == "failed" else None,
        )
    ]
    return ItemResult(
        experiment_id=exp,
        item_id=item,
        status=call,
        error="boom" if call == "error" else "",  # type: ignore[arg-type]
        output=output,
        cost_usd=cost,
        latency_ms=latency,
        evaluations=evaluations,
    )


def test_stats_mean_percentile_and_a_seeded_bootstrap() -> None:
    """Percentiles interpolate; the bootstrap interval contains the mean and is the same on every run."""
    assert mean([1.0, 2.0, 6.0]) == 3.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    values = [0.1, -0.2, 0.4, 0.0, 0.3, -0.1, 0.2]
    ci = bootstrap_ci(values)
    assert ci is not None and ci[0] < sum(values) / len(values) < ci[1]
    assert bootstrap_ci(values) == ci
    assert bootstrap_ci([0.5]) == (0.5, 0.5)
    assert bootstrap_ci([]) is None


def test_items_are_paired_by_id_and_changes_are_classified() -> None:
    """newly failing / newly passing compare item pass status; items in one experiment only are listed apart."""
    ra = [
        result("exp-a", "i1", 1.0),
        result("exp-a", "i2", 0.0, "failed"),
        result("exp-a", "i3", 1.0),
        result("exp-a", "only-a", 1.0),
    ]
    rb = [
        result("exp-b", "i1", 0.0, "failed"),
        result("exp-b", "i2", 1.0),
        result("exp-b", "i3", 1.0, call="error"),
        result("exp-b", "only-b", 1.0),
    ]
    c = compare(A, B, ra, rb)
    assert [(i.item_id, i.change) for i in c.items] == [
        ("i1", "newly_failing"),
        ("i2", "newly_passing"),
        ("i3", "newly_failing"),
    ]
    assert (c.only_a, c.only_b) == (["only-a"], ["only-b"])
    faith = c.evaluators[0]
    assert (faith.name, faith.n, faith.newly_failing, faith.newly_passing) == ("faithfulness", 3, ("i1",), ("i2",))
    assert faith.delta == pytest.approx(0.0)  # -1 (i1), +1 (i2), 0 (i3: it raised, its score held)
    assert c.passed.mean_a == pytest.approx(2 / 3) and c.passed.mean_b == pytest.approx(1 / 3)


def test_cost_and_latency_deltas_are_paired_over_items_that_ran_in_both() -> None:
    """Mean per item, relative change, and an interval; items that raised are left out of cost and latency."""
    ra = [result("exp-a", f"i{n}", 1.0, cost=0.001, latency=100.0 + n) for n in range(5)]
    rb = [result("exp-b", f"i{n}", 1.0, cost=0.002, latency=50.0 + n) for n in range(5)]
    c = compare(A, B, ra, rb)
    assert c.cost.relative == pytest.approx(1.0)
    assert c.cost.ci == pytest.approx((0.001, 0.001))
    assert c.latency.delta == pytest.approx(-50.0)
    assert c.latency_p95 == (pytest.approx(103.8), pytest.approx(53.8))


def test_a_newly_failing_item_is_a_regression_unless_allowed() -> None:
    """Rule 1: one newly failing item regresses by default; --max-newly-failing 1 allows it."""
    c = compare(A, B, [result("exp-a", "i1", 1.0)], [result("exp-b", "i1", 0.0, "failed")])
    reasons = regressions(c, RegressionRule())
    assert reasons and reasons[0].startswith("1 item(s) newly failing (allowed 0): i1")
    assert not [r for r in regressions(c, RegressionRule(max_newly_failing=1)) if "newly failing" in r]


def test_a_score_drop_regresses_only_beyond_the_threshold_and_outside_noise() -> None:
    """Rule 2: a consistent drop of 0.2 on every item regresses; the same drop under a larger threshold does
    not, nor does one item dropping among ten unchanged ones (its interval reaches zero)."""
    ra = [result("exp-a", f"i{n}", 0.9) for n in range(10)]
    rb = [result("exp-b", f"i{n}", 0.7) for n in range(10)]
    reasons = regressions(compare(A, B, ra, rb), RegressionRule(score_threshold=0.05))
    assert reasons == ["faithfulness: mean score -0.200 (CI -0.200..-0.200) beyond -0.05"]
    assert regressions(compare(A, B, ra, rb), RegressionRule(score_threshold=0.25)) == []
    one_drop = [result("exp-b", "i0", 0.4), *(result("exp-b", f"i{n}", 0.9) for n in range(1, 10))]
    c = compare(A, B, ra, one_drop)
    drop = c.evaluators[0]
    assert drop.delta == pytest.approx(-0.05) and drop.ci is not None and drop.ci[1] == pytest.approx(0.0)
    assert regressions(c, RegressionRule(score_threshold=0.01)) == []


def test_cost_and_latency_limits_apply_only_when_given() -> None:
    """Rule 3: +100 % cost regresses with --max-cost-increase 0.2, and not without it."""
    ra = [result("exp-a", f"i{n}", 1.0, cost=0.001) for n in range(5)]
    rb = [result("exp-b", f"i{n}", 1.0, cost=0.002) for n in range(5)]
    c = compare(A, B, ra, rb)
    assert regressions(c, RegressionRule()) == []
    assert regressions(c, RegressionRule(max_cost_increase=0.2)) == ["cost_usd: mean +100.0% per item (allowed +20%)"]


def test_reports_hold_the_verdict_the_tables_and_escape_content() -> None:
    """Markdown and HTML carry the same sections; outputs are escaped; the suffix picks the format."""
    ra = [result("exp-a", "i1", 1.0, output="fine | ok")]
    rb = [result("exp-b", "i1", 0.0, "failed", output="<script>alert(1)</script>")]
    c = compare(A, B, ra, rb)
    reasons = regressions(c, RegressionRule())
    md = markdown(c, reasons)
    assert md.startswith("# Experiment comparison: before → after")
    for heading in ("## Experiments", "## Verdict", "## Summary", "## Evaluators", "## Newly failing items"):
        assert heading in md
    assert "| i1 | faithfulness: failed because | fine \\| ok |" in md
    page = to_html(c, reasons)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "class='bad'" in page
    assert render(c, reasons, ".HTML") == page
    with pytest.raises(ValueError, match=r"end in \.md or \.html"):
        render(c, reasons, ".txt")

"""The evaluators over the labelled corpus: per-category precision and recall.

Every rule of the default bindings plus the faithfulness judge (the fake provider playing a judge
that checks each claim against the context) run on each corpus trace, with the spike baselines fed
by the corpus's background traffic, as the sampler would. The table is printed. Rule-based
categories must be exact; hallucination (an LLM judge) must reach precision and recall of 0.9.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from glassbox.common.settings import EvaluatorSettings
from glassbox.devtools import FakeLLM
from glassbox.evaluators.build import build_runner
from glassbox.evaluators.config import load_config, parse_config
from glassbox.evaluators.judge.simulated import simulated_judge
from glassbox.evaluators.sampler import Sampler
from glassbox.evaluators.taxonomy import trace_categories
from glassbox.models.evaluation import FailureCategory
from tests.support.corpus import Background, LabelledTrace, build_corpus

EXACT = {
    FailureCategory.RETRIEVAL_FAILURE,
    FailureCategory.INSTRUCTION_DRIFT,
    FailureCategory.TOOL_ERROR,
    FailureCategory.REASONING_LOOP,
    FailureCategory.LATENCY_SPIKE,
    FailureCategory.COST_SPIKE,
}
JUDGE_THRESHOLD = 0.9


def rule_names() -> list[str]:
    """Every evaluator of the default bindings that is not an LLM judge or a similarity check."""
    config = load_config()
    return [n for b in config.bindings if not b.name.endswith("judges") for n in b.evaluators]


@pytest.fixture(scope="module")
def outcomes() -> Iterator[list[tuple[LabelledTrace, set[FailureCategory]]]]:
    """(labelled trace, categories found) for the whole corpus."""
    rules = rule_names()
    with FakeLLM(default_reply=simulated_judge) as llm:
        config = parse_config(
            {
                "judges": {"default": {"model": "openai/fake-judge", "api_base": llm.base_url}},
                "bindings": [{"name": "corpus", "evaluators": [*rules, "faithfulness"]}],
            }
        )
        runner, _ = build_runner(config, EvaluatorSettings())
        sampler = Sampler(load_config())
        background = Background(sampler.baselines)

        async def run() -> list[tuple[LabelledTrace, set[FailureCategory]]]:
            found = []
            for labelled in build_corpus():
                background.until(labelled.trace)
                baseline = sampler.baselines.observe_trace(labelled.trace)
                results = await runner.evaluate(labelled.trace, config.bindings[0].evaluators, baseline)
                assert not [r.reason for r in results if r.status == "error"]
                found.append((labelled, set(trace_categories(results))))
            return found

        yield asyncio.run(run())


def scores(outcomes: list[tuple[LabelledTrace, set[FailureCategory]]]) -> dict[FailureCategory, tuple[int, int, int]]:
    """Category → (true positives, false positives, false negatives) over traces."""
    counts: dict[FailureCategory, Counter[str]] = {c: Counter() for c in FailureCategory}
    for labelled, found in outcomes:
        for category in FailureCategory:
            expected, got = category in labelled.expected, category in found
            counts[category]["tp" if expected and got else "fp" if got else "fn" if expected else "tn"] += 1
    return {c: (n["tp"], n["fp"], n["fn"]) for c, n in counts.items()}


def test_corpus_has_ten_traces_per_category_and_healthy_ones(outcomes: list) -> None:
    """At least ten labelled traces per failure category, and healthy traces with no label."""
    per_category = Counter(c for labelled, _ in outcomes for c in labelled.expected)
    assert all(per_category[c] >= 10 for c in FailureCategory), per_category
    assert sum(1 for labelled, _ in outcomes if not labelled.expected) >= 30


def test_precision_and_recall_per_category(outcomes: list, capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the table; rule-based categories are exact, hallucination reaches the judge threshold."""
    table = scores(outcomes)
    lines = [f"{'category':<20}{'traces':>7}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}"]
    for category, (tp, fp, fn) in table.items():
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        lines.append(f"{category.value:<20}{tp + fn:>7}{tp:>5}{fp:>5}{fn:>5}{precision:>11.2f}{recall:>8.2f}")
        if category in EXACT:
            assert (fp, fn) == (0, 0), (category, _misses(outcomes, category))
        else:
            assert precision >= JUDGE_THRESHOLD and recall >= JUDGE_THRESHOLD, (category, precision, recall)
    with capsys.disabled():
        print("\n" + "\n".join(lines))


def _misses(outcomes: list, category: FailureCategory) -> list[tuple[str, bool]]:
    return [
        (labelled.scenario, category in found)
        for labelled, found in outcomes
        if (category in labelled.expected) != (category in found)
    ]

"""Evaluating experiment traces with the same evaluators as production.

The evaluators come from the production bindings file (GLASSBOX_EVAL_CONFIG or the built-in
one) and run through the evaluators' own :class:`~glassbox.evaluators.runner.Runner`, so an
experiment scores exactly as the background evaluators would. Which evaluators run on a trace:

- named ones (``--evaluators a,b``): those, on every item (each must be configured, a built-in
  type or an entry point — checked up front);
- none named: every evaluator of every binding whose filters match the trace, sampling ignored
  (an experiment evaluates all its items).

Reference-based evaluators find the item's expected output in the root span's metadata
(``expected_output``), where the experiment runner puts it. Spike rules need a route baseline,
which experiments do not have: they report themselves skipped.
"""

from __future__ import annotations

from typing import Any

from glassbox.common.settings import EvaluatorSettings, load
from glassbox.datasets.models import EvaluatorScore
from glassbox.models.evaluation import EvaluationResult
from glassbox.models.trace import AssembledTrace

EXPERIMENT_BINDING = "glassbox-experiment"


class ExperimentScorer:
    """Builds the production runner once and evaluates traces with it."""

    def __init__(self, names: list[str] | None = None, config: Any = None, settings: EvaluatorSettings | None = None):
        from glassbox.evaluators.build import build_runner
        from glassbox.evaluators.config import load_config, parse_config
        from glassbox.evaluators.sampler import CompiledMatch

        settings = settings or load(EvaluatorSettings)
        config = config if config is not None else load_config(settings.config)
        self.names = list(dict.fromkeys(names or []))
        self.matchers = [(CompiledMatch(b.match), list(b.evaluators)) for b in config.bindings]
        if self.names:
            data = config.model_dump(mode="json")
            data["bindings"] = [*data["bindings"], {"name": EXPERIMENT_BINDING, "evaluators": self.names}]
            config = parse_config(data, "(bindings + --evaluators)")
        self.runner, self.judges = build_runner(config, settings)

    def names_for(self, trace: AssembledTrace) -> list[str]:
        """The evaluators to run on ``trace``: the named ones, else those of every matching binding."""
        if self.names:
            return self.names
        chosen: dict[str, None] = {}
        for matches, evaluators in self.matchers:
            if matches(trace):
                chosen.update(dict.fromkeys(evaluators))
        return list(chosen)

    async def evaluate(self, trace: AssembledTrace) -> list[EvaluationResult]:
        names = self.names_for(trace)
        return await self.runner.evaluate(trace, names) if names else []


def scores_of(results: list[EvaluationResult]) -> list[EvaluatorScore]:
    """The per-evaluator scores stored with an experiment item."""
    return [
        EvaluatorScore(
            evaluator=r.evaluator,
            status=r.status.value,
            score=r.score,
            reason=r.reason[:1000],
            category=r.failure_category.value if r.failure_category else None,
        )
        for r in results
    ]

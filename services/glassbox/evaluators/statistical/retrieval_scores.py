"""Statistics of the retriever's document scores: max, mean and drop-off from top-1 to top-k (retrieval_failure).

A low best score means nothing relevant came back (semantic mismatch, wrong index); the figures
are kept in the evidence either way so dashboards can follow them.
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from glassbox.evaluators.params import Params
from glassbox.evaluators.types import Evaluator, EvaluatorType, Outcome, failed, not_applicable, passed
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import FailureCategory


class RetrievalScoreParams(Params):
    min_max_score: float = 0.5
    """Fail when a retrieval's best document scores below this."""
    higher_is_better: bool = True
    """False for distances (lower is closer): then fail when the best distance is above ``min_max_score``."""


def stats(scores: list[float], higher_is_better: bool) -> dict[str, Any]:
    """Best ("max"), mean and drop-off (best minus worst) of one retrieval's scores."""
    ordered = sorted(scores, reverse=higher_is_better)
    return {
        "max": round(ordered[0], 6),
        "mean": round(fmean(ordered), 6),
        "drop_off": round(abs(ordered[0] - ordered[-1]), 6),
        "count": len(ordered),
    }


class RetrievalScores(Evaluator):
    """Fails when a retrieval's best document score is below ``min_max_score`` (above it, for distances)."""

    type_name = "retrieval_scores"
    kind = EvaluatorType.STATISTICAL
    category = FailureCategory.RETRIEVAL_FAILURE
    params_model = RetrievalScoreParams
    params: RetrievalScoreParams

    def check(self, view: TraceView) -> Outcome:
        per_span: list[dict[str, Any]] = []
        for span in view.retrievals:
            scores = [d.score for d in span.payload.documents if d.score is not None]
            if scores:
                per_span.append({"span_id": span.span_id, **stats(scores, self.params.higher_is_better)})
        if not per_span:
            return not_applicable("no retrieved document carries a score")
        limit = self.params.min_max_score
        better = self.params.higher_is_better
        low = [s for s in per_span if (s["max"] < limit if better else s["max"] > limit)]
        best = (max if better else min)(s["max"] for s in per_span)
        if low:
            worst = low[0]
            return failed(
                f"best document score {worst['max']:.3g} is {'below' if better else 'above'} {limit}",
                score=max(0.0, min(1.0, worst["max"])) if better else None,
                span_id=worst["span_id"],
                retrievals=per_span[:5],
                min_max_score=limit,
            )
        return passed(
            f"best document score {best:.3g} (mean {per_span[0]['mean']:.3g}, drop-off {per_span[0]['drop_off']:.3g})",
            score=max(0.0, min(1.0, best)) if better else None,
            retrievals=per_span[:5],
        )

"""The failure taxonomy: which category each evaluator files its failures under, and a trace's categories.

A trace's failure categories are the set of categories of its failed evaluations; each comes with
the evidence of the evaluations behind it (evaluator, span id, score, reason). ClickHouse computes
the same set from the ``evaluations`` table (``glassbox traces --failing``, ``glassbox trace ID``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from glassbox.models.evaluation import EvaluationResult, EvaluationStatus, FailureCategory


@dataclass(frozen=True, slots=True)
class CategoryEvidence:
    category: FailureCategory
    evaluator: str
    span_id: str | None
    score: float | None
    reason: str


def trace_categories(results: Iterable[EvaluationResult]) -> dict[FailureCategory, list[CategoryEvidence]]:
    """Failure category → the failed evaluations behind it, for one trace's results."""
    out: dict[FailureCategory, list[CategoryEvidence]] = {}
    for result in results:
        if result.status is EvaluationStatus.FAILED and result.failure_category is not None:
            out.setdefault(result.failure_category, []).append(
                CategoryEvidence(result.failure_category, result.evaluator, result.span_id, result.score, result.reason)
            )
    return out


def categories_by_type() -> dict[str, FailureCategory]:
    """Built-in evaluator type → the category its failures are filed under (before any config override)."""
    from glassbox.evaluators.registry import BUILTIN_TYPES

    return {name: cls.category for name, cls in sorted(BUILTIN_TYPES.items())}

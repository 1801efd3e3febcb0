"""Rules on retrieval: empty results, and a refusal while relevant documents were retrieved (retrieval_failure).

A refusal ("I don't know") next to relevant documents is filed under retrieval_failure, not
hallucination: nothing was invented, and the taxonomy's retrieval failure is exactly "the model
says it doesn't know while the documentation exists". The fix lives in the RAG pipeline
(re-ranking, fewer and better chunks: the answer was retrieved but not used), and the evidence
names the relevant documents so the user sees it was there.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Any

from pydantic import Field, field_validator

from glassbox.evaluators.params import Params, checked_regexes
from glassbox.evaluators.statistical.lexical import coverage
from glassbox.evaluators.types import Evaluator, Outcome, failed, not_applicable, passed
from glassbox.evaluators.view import TraceView, as_text
from glassbox.models.evaluation import FailureCategory


class EmptyRetrieval(Evaluator):
    """Fails when a retrieval span returned no documents."""

    type_name = "empty_retrieval"
    category = FailureCategory.RETRIEVAL_FAILURE
    params: Params

    def check(self, view: TraceView) -> Outcome:
        if not view.retrievals:
            return not_applicable("the trace made no retrieval")
        empty = [r for r in view.retrievals if not r.payload.documents]
        if not empty:
            return passed(f"{len(view.retrievals)} retrieval(s) returned documents")
        first = empty[0]
        return failed(
            f"{len(empty)} of {len(view.retrievals)} retrieval(s) returned no documents "
            f"(query: {as_text(first.payload.query)[:120]!r})",
            score=1.0 - len(empty) / len(view.retrievals),
            span_id=first.span_id,
            empty_span_ids=[r.span_id for r in empty],
            query=as_text(first.payload.query)[:500],
            data_source=first.payload.data_source,
        )


DEFAULT_REFUSALS = (
    r"\bi (?:do not|don't|dont) know\b",
    r"\bi(?:'m| am) not (?:sure|certain|able)\b",
    r"\bi (?:cannot|can't|can not|am unable to|'m unable to) (?:help|answer|find|provide|say)\b",
    r"\bunable to (?:answer|find|help)\b",
    r"\b(?:no|not enough|insufficient) (?:relevant )?information\b",
    r"\bi (?:could not|couldn't) find\b",
    r"\bnot (?:mentioned|covered|specified) in (?:the )?(?:provided |available )?(?:context|documents?)\b",
)


_DEFAULT_REFUSAL = re.compile("|".join(f"(?:{p})" for p in DEFAULT_REFUSALS), re.IGNORECASE)


def is_refusal(text: str) -> bool:
    """True when ``text`` reads as a refusal or an "I don't know" (the default patterns)."""
    return _DEFAULT_REFUSAL.search(text.replace("\u2019", "'")) is not None


class RefusalParams(Params):
    patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_REFUSALS))
    """Regexes (case-insensitive) that make an answer a refusal."""
    min_relevance: float = Field(0.5, ge=0.0, le=1.0)
    """A document is relevant when it covers at least this fraction of the question's terms..."""
    min_doc_score: float | None = None
    """...or when the retriever's score reaches this (None: scores are not used)."""

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        return checked_regexes(patterns)


class RefusalWithContext(Evaluator):
    """Fails when the answer is a refusal or "I don't know" although retrieval returned relevant documents."""

    type_name = "refusal_with_context"
    category = FailureCategory.RETRIEVAL_FAILURE
    params_model = RefusalParams
    params: RefusalParams

    @cached_property
    def _refusal(self) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{p})" for p in self.params.patterns), re.IGNORECASE)

    def check(self, view: TraceView) -> Outcome:
        if not view.documents:
            return not_applicable("no documents were retrieved")
        answer = view.answer
        match = self._refusal.search(answer.replace("\u2019", "'"))
        if not match:
            return passed("the answer is not a refusal")
        question = view.question
        relevant: list[dict[str, Any]] = []
        for span, doc in view.documents:
            text = as_text(doc.content)
            cover = coverage(question, text) if question else 0.0
            by_score = self.params.min_doc_score is not None and (doc.score or 0.0) >= self.params.min_doc_score
            if cover >= self.params.min_relevance or by_score:
                relevant.append(
                    {
                        "span_id": span.span_id,
                        "id": doc.id,
                        "score": doc.score,
                        "coverage": round(cover, 3),
                        "preview": text[:200],
                    }
                )
        if not relevant:
            return passed("refused, and no retrieved document was relevant", refusal=match.group(0))
        return failed(
            f"the answer refuses ({match.group(0)!r}) although {len(relevant)} relevant document(s) were retrieved",
            span_id=view.answer_span_id,
            refusal=match.group(0),
            relevant_documents=relevant[:5],
        )

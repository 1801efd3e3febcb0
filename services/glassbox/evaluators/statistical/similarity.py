"""Semantic similarity of the answer to a reference answer and to the retrieved context (hallucination).

With the ``embeddings`` extra installed the similarity is the cosine of all-MiniLM-L6-v2 sentence
embeddings (run in a worker thread); otherwise a TF-IDF cosine on word terms. The result's
evidence says which ``method`` produced the scores, and each method has its own thresholds because
their scales differ. The reference answer comes from trace metadata (``reference_keys``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from glassbox.evaluators.params import Params
from glassbox.evaluators.rules.retrieval import is_refusal
from glassbox.evaluators.statistical import embeddings
from glassbox.evaluators.statistical.lexical import tfidf_cosine
from glassbox.evaluators.types import Evaluator, EvaluatorType, Outcome, failed, not_applicable, passed
from glassbox.evaluators.view import TraceView, as_text
from glassbox.models.evaluation import FailureCategory


class SimilarityParams(Params):
    method: Literal["auto", "embedding", "lexical"] = "auto"
    """auto: the embedding model when installed, else lexical."""
    reference_keys: list[str] = Field(default_factory=lambda: ["reference", "expected_answer", "expected_output"])
    """Metadata keys holding a reference answer (root span first)."""
    min_reference_embedding: float = Field(0.6, ge=-1, le=1)
    min_context_embedding: float = Field(0.35, ge=-1, le=1)
    min_reference_lexical: float = Field(0.3, ge=0, le=1)
    min_context_lexical: float = Field(0.1, ge=0, le=1)


class SemanticSimilarity(Evaluator):
    """Fails when the answer is far from the reference answer, or from every retrieved document."""

    type_name = "semantic_similarity"
    kind = EvaluatorType.STATISTICAL
    category = FailureCategory.HALLUCINATION
    params_model = SimilarityParams
    params: SimilarityParams

    def __init__(self, name: str, version: str, params: Any, category: FailureCategory | None = None) -> None:
        super().__init__(name, version, params, category)
        wants = self.params.method
        self.use_embeddings = wants == "embedding" or (wants == "auto" and embeddings.available())
        self.mode = "thread" if self.use_embeddings else "inline"

    def check(self, view: TraceView) -> Outcome:
        answer = view.answer.strip()
        if not answer:
            return not_applicable("the trace has no answer")
        if is_refusal(answer):
            return not_applicable("the answer is a refusal: no content to compare")
        reference = next((as_text(view.metadata[k]) for k in self.params.reference_keys if view.metadata.get(k)), "")
        docs = [as_text(d.content) for _, d in view.documents if d.content]
        if not reference and not docs:
            return not_applicable("no reference answer and no retrieved context to compare with")
        method, ref_score, ctx_score = self._scores(answer, reference, docs)
        p = self.params
        min_ref = p.min_reference_embedding if method.startswith("embedding") else p.min_reference_lexical
        min_ctx = p.min_context_embedding if method.startswith("embedding") else p.min_context_lexical
        evidence: dict[str, Any] = {"method": method}
        problems: list[str] = []
        if ref_score is not None:
            evidence.update(reference_similarity=round(ref_score, 4), min_reference=min_ref)
            if ref_score < min_ref:
                problems.append(f"similarity to the reference answer {ref_score:.2f} < {min_ref}")
        if ctx_score is not None:
            evidence.update(context_similarity=round(ctx_score, 4), min_context=min_ctx)
            if ctx_score < min_ctx:
                problems.append(f"similarity to the retrieved context {ctx_score:.2f} < {min_ctx}")
        score = min(s for s in (ref_score, ctx_score) if s is not None)
        if problems:
            return failed(
                "; ".join(problems) + f" ({method})", score=max(0.0, score), span_id=view.answer_span_id, **evidence
            )
        return passed(
            f"answer close to {'reference' if reference else 'context'} ({method})",
            score=max(0.0, score),
            span_id=view.answer_span_id,
            **evidence,
        )

    def _scores(self, answer: str, reference: str, docs: list[str]) -> tuple[str, float | None, float | None]:
        if self.use_embeddings and embeddings.load() is not None:
            texts = ([reference] if reference else []) + docs
            sims = embeddings.cosine_many(answer, texts)
            ref = sims[0] if reference else None
            ctx_sims = sims[1:] if reference else sims
            return f"embedding:{embeddings.MODEL_NAME}", ref, (max(ctx_sims) if ctx_sims else None)
        ref = tfidf_cosine(answer, reference, docs) if reference else None
        ctx = tfidf_cosine(answer, "\n".join(docs), [reference] if reference else []) if docs else None
        return "lexical:tfidf", ref, ctx

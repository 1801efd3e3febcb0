"""Statistical evaluators: lexical similarity, semantic similarity (with its method in the evidence),
retrieval score statistics."""

from __future__ import annotations

import pytest

from glassbox.evaluators.statistical import embeddings
from glassbox.evaluators.statistical.lexical import coverage, terms, tfidf_cosine
from glassbox.evaluators.statistical.retrieval_scores import RetrievalScoreParams, RetrievalScores
from glassbox.evaluators.statistical.similarity import SemanticSimilarity, SimilarityParams
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import EvaluationStatus
from tests.support.corpus import make_trace, span

DOC = "Refunds are issued to the original payment method within 14 days."


def rag(answer: str, docs: list[dict], **metadata: object) -> TraceView:
    root = span("rag", output={"answer": answer}, metadata=metadata)
    return TraceView(
        make_trace(root, span("search", "retrieval", parent=root, payload={"glassbox.retrieval.documents": docs}))
    )


def test_terms_drop_stop_words_and_plurals() -> None:
    """Stop words go, suffixes are stripped so plural and singular meet."""
    assert terms("The refunds are issued") == ["refund", "issu"]
    assert (
        terms("stores store policies policy boxes box days day")
        == ["store"] * 2 + ["policy"] * 2 + ["box"] * 2 + ["day"] * 2
    )
    assert terms("status class address") == ["status", "class", "address"]


def test_coverage_and_tfidf_rank_related_text_higher() -> None:
    """A paraphrase covers more of the document and scores a higher cosine than an unrelated sentence."""
    close, far = "Refunds go back to the original payment method.", "Our drones fly parcels to the moon."
    assert coverage(close, DOC) > coverage(far, DOC) == 0.0
    assert tfidf_cosine(close, DOC) > 0.3 > tfidf_cosine(far, DOC)


def test_lexical_similarity_fails_an_answer_far_from_the_reference() -> None:
    """With the lexical method, an answer unrelated to the metadata reference fails, saying which method."""
    params = SimilarityParams(method="lexical")
    view = rag("Our drones deliver in ninety minutes.", [{"content": DOC}], reference=DOC)
    outcome = SemanticSimilarity("s", "1", params).check(view)
    assert outcome.status is EvaluationStatus.FAILED
    assert outcome.evidence["method"] == "lexical:tfidf" and "reference answer" in outcome.reason


def test_lexical_similarity_passes_a_grounded_answer() -> None:
    """An answer restating the retrieved document passes."""
    outcome = SemanticSimilarity("s", "1", SimilarityParams(method="lexical")).check(rag(DOC, [{"content": DOC}]))
    assert outcome.status is EvaluationStatus.PASSED and outcome.evidence["context_similarity"] > 0.9


def test_similarity_skips_refusals_and_traces_without_anything_to_compare() -> None:
    """A refusal, and an answer with neither reference nor context, are skipped."""
    evaluator = SemanticSimilarity("s", "1", SimilarityParams(method="lexical"))
    assert evaluator.check(rag("I don't know.", [{"content": DOC}])).status is EvaluationStatus.SKIPPED
    assert evaluator.check(TraceView(make_trace(span("a", output="hi")))).status is EvaluationStatus.SKIPPED


@pytest.mark.skipif(not embeddings.available(), reason="the embeddings extra is not installed")
def test_embedding_similarity_uses_the_bundled_model() -> None:
    """With the extra installed, the method is the bundled all-MiniLM-L6-v2, run in a thread, no download."""
    evaluator = SemanticSimilarity("s", "1", SimilarityParams())
    outcome = evaluator.check(rag("Money comes back to your card within two weeks.", [{"content": DOC}]))
    assert evaluator.mode == "thread" and outcome.evidence["method"] == "embedding:all-MiniLM-L6-v2"
    assert outcome.evidence["context_similarity"] > 0.35


def test_without_the_extra_auto_means_lexical() -> None:
    """method auto picks the lexical fallback when the embedding model is not importable, inline."""
    evaluator = SemanticSimilarity("s", "1", SimilarityParams())
    assert evaluator.mode == ("thread" if embeddings.available() else "inline")


def test_retrieval_scores_report_max_mean_and_drop_off() -> None:
    """Scores 0.9, 0.5, 0.1 give max 0.9, mean 0.5, drop-off 0.8, and pass the 0.5 floor."""
    docs = [{"content": "a", "score": s} for s in (0.9, 0.5, 0.1)]
    outcome = RetrievalScores("r", "1", RetrievalScoreParams()).check(rag("x", docs))
    stats = outcome.evidence["retrievals"][0]
    assert outcome.status is EvaluationStatus.PASSED
    assert (stats["max"], stats["mean"], stats["drop_off"]) == (0.9, 0.5, 0.8)


def test_a_low_best_score_is_a_retrieval_failure() -> None:
    """A best score of 0.2 under a 0.5 floor fails; distances (lower is better) are judged the other way."""
    low = rag("x", [{"content": "a", "score": 0.2}, {"content": "b", "score": 0.1}])
    assert RetrievalScores("r", "1", RetrievalScoreParams()).check(low).status is EvaluationStatus.FAILED
    distances = RetrievalScoreParams(min_max_score=0.3, higher_is_better=False)
    assert RetrievalScores("r", "1", distances).check(low).status is EvaluationStatus.PASSED

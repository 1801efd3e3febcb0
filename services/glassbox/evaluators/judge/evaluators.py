"""LLM-as-judge evaluators: faithfulness, answer relevance, context relevance, instruction adherence, tool choice.

Each renders its versioned prompt from the trace, asks its judge for a JSON verdict and turns
the verdict into an outcome with evidence. Categories:

- faithfulness → hallucination (unsupported claims listed in the evidence);
- answer_relevance → instruction_drift: an off-topic answer failed the user's request; it says
  nothing about factual grounding (an irrelevant answer can be perfectly faithful to its context);
- context_relevance → retrieval_failure;
- instruction_adherence → instruction_drift;
- tool_choice → tool_error.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from glassbox.evaluators.judge.client import JudgeClient, JudgeFailed
from glassbox.evaluators.judge.prompts import load_prompt, render
from glassbox.evaluators.judge.verdicts import (
    AdherenceVerdict,
    AnswerRelevanceVerdict,
    ContextRelevanceVerdict,
    FaithfulnessVerdict,
    ToolChoiceVerdict,
)
from glassbox.evaluators.params import Params
from glassbox.evaluators.rules.retrieval import is_refusal
from glassbox.evaluators.types import (
    Evaluator,
    EvaluatorType,
    JudgeUsage,
    Outcome,
    errored,
    failed,
    not_applicable,
    passed,
    skipped,
)
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import FailureCategory


class ThresholdParams(Params):
    threshold: float = Field(0.75, ge=0.0, le=1.0)
    """Fail when the verdict's score is below this."""


class JudgeEvaluator(Evaluator):
    """Base of the judges: ``inputs`` (or a skip), the prompt, the verdict model, and ``decide``."""

    kind = EvaluatorType.LLM_JUDGE
    mode = "async"
    costly = True
    verdict_model: ClassVar[type[BaseModel]]

    def __init__(
        self,
        name: str,
        version: str,
        params: Any,
        category: FailureCategory | None,
        client: JudgeClient,
        prompt_version: str | None = None,
    ) -> None:
        self.prompt_version, self.template = load_prompt(self.type_name, prompt_version)
        super().__init__(name, f"{version}+{self.prompt_version}", params, category)
        self.client = client

    def inputs(self, view: TraceView) -> dict[str, str] | Outcome:
        raise NotImplementedError

    def decide(self, verdict: Any, view: TraceView) -> Outcome:
        raise NotImplementedError

    async def acheck(self, view: TraceView) -> Outcome:
        values = self.inputs(view)
        if isinstance(values, Outcome):
            return values
        if self.client.unavailable:
            return skipped(self.client.unavailable)
        try:
            verdict, usage = await self.client.judge(render(self.template, values), self.verdict_model)
        except JudgeFailed as exc:
            return errored(exc.reason, usage=exc.usage)
        return _with_usage(self.decide(verdict, view), usage)


def _with_usage(outcome: Outcome, usage: JudgeUsage) -> Outcome:
    from dataclasses import replace

    return replace(outcome, usage=usage)


def _needs(view: TraceView, *, context: bool = False, answer: bool = True) -> Outcome | None:
    if answer and not view.answer.strip():
        return not_applicable("the trace has no answer")
    if context and not view.context:
        return not_applicable("no retrieved context to judge against")
    return None


class Faithfulness(JudgeEvaluator):
    """Fails when too few of the answer's claims are supported by the retrieved context; lists the unsupported."""

    type_name = "faithfulness"
    category = FailureCategory.HALLUCINATION
    params_model = ThresholdParams
    params: ThresholdParams
    verdict_model = FaithfulnessVerdict

    def inputs(self, view: TraceView) -> dict[str, str] | Outcome:
        return _needs(view, context=True) or {"question": view.question, "context": view.context, "answer": view.answer}

    def decide(self, verdict: FaithfulnessVerdict, view: TraceView) -> Outcome:
        claims = verdict.claims
        unsupported = [c.claim for c in claims if not c.supported]
        score = 1.0 - len(unsupported) / len(claims) if claims else 1.0
        evidence = {
            "unsupported_claims": unsupported[:20],
            "claims": len(claims),
            "context_span_ids": [r.span_id for r in view.retrievals][:10],
            "judge_reason": verdict.reason[:500],
        }
        if score < self.params.threshold:
            return failed(
                f"{len(unsupported)} of {len(claims)} claims are not supported by the retrieved context",
                score=score,
                span_id=view.answer_span_id,
                **evidence,
            )
        return passed(
            f"{len(claims) - len(unsupported)} of {len(claims)} claims supported",
            score=score,
            span_id=view.answer_span_id,
            **evidence,
        )


class AnswerRelevance(JudgeEvaluator):
    """Fails when the judge finds that the answer does not address the question (score below the threshold)."""

    type_name = "answer_relevance"
    category = FailureCategory.INSTRUCTION_DRIFT
    params_model = ThresholdParams
    params: ThresholdParams
    verdict_model = AnswerRelevanceVerdict

    def inputs(self, view: TraceView) -> dict[str, str] | Outcome:
        if not view.question.strip():
            return not_applicable("the trace has no question")
        if is_refusal(view.answer):  # no judge paid to call "I don't know" off-topic; the retrieval rules judge it
            return not_applicable("the answer is a refusal (refusal_with_context and empty_retrieval judge it)")
        return _needs(view) or {"question": view.question, "answer": view.answer}

    def decide(self, verdict: AnswerRelevanceVerdict, view: TraceView) -> Outcome:
        score = verdict.score if verdict.relevant else min(verdict.score, self.params.threshold / 2)
        if not verdict.relevant or score < self.params.threshold:
            return failed(
                f"the answer does not address the question: {verdict.reason[:200]}",
                score=score,
                span_id=view.answer_span_id,
                judge_reason=verdict.reason[:500],
            )
        return passed(verdict.reason[:200], score=score, span_id=view.answer_span_id)


class ContextRelevanceParams(Params):
    min_relevant: int = Field(1, ge=1)
    """Fail when fewer retrieved documents than this are relevant."""


class ContextRelevance(JudgeEvaluator):
    """Fails when fewer than ``min_relevant`` retrieved documents are relevant to the question."""

    type_name = "context_relevance"
    category = FailureCategory.RETRIEVAL_FAILURE
    params_model = ContextRelevanceParams
    params: ContextRelevanceParams
    verdict_model = ContextRelevanceVerdict

    def inputs(self, view: TraceView) -> dict[str, str] | Outcome:
        if not view.question.strip():
            return not_applicable("the trace has no question")
        return _needs(view, context=True, answer=False) or {"question": view.question, "context": view.context}

    def decide(self, verdict: ContextRelevanceVerdict, view: TraceView) -> Outcome:
        total = max(len(view.documents), len(verdict.documents), 1)
        relevant = sorted({d.index for d in verdict.documents if d.relevant})
        span_id = view.retrievals[0].span_id if view.retrievals else None
        evidence = {"relevant_documents": relevant, "documents": total, "judge_reason": verdict.reason[:500]}
        if len(relevant) < self.params.min_relevant:
            return failed(
                f"{len(relevant)} of {total} retrieved documents are relevant to the question",
                score=len(relevant) / total,
                span_id=span_id,
                **evidence,
            )
        return passed(
            f"{len(relevant)} of {total} documents relevant", score=len(relevant) / total, span_id=span_id, **evidence
        )


class InstructionAdherence(JudgeEvaluator):
    """Fails when the answer breaks instructions of the system prompt (format, constraints); lists them."""

    type_name = "instruction_adherence"
    category = FailureCategory.INSTRUCTION_DRIFT
    params: Params
    verdict_model = AdherenceVerdict

    def inputs(self, view: TraceView) -> dict[str, str] | Outcome:
        if not view.system_prompt.strip():
            return not_applicable("the final LLM call has no system prompt")
        return _needs(view) or {"system_prompt": view.system_prompt, "question": view.question, "answer": view.answer}

    def decide(self, verdict: AdherenceVerdict, view: TraceView) -> Outcome:
        span_id = view.final_generation.span_id if view.final_generation else view.answer_span_id
        if not verdict.adheres or verdict.violations:
            return failed(
                f"{len(verdict.violations) or 1} instruction(s) broken: {'; '.join(verdict.violations)[:200]}",
                span_id=span_id,
                violations=verdict.violations[:20],
                judge_reason=verdict.reason[:500],
            )
        return passed("the answer follows the system prompt", span_id=span_id)


class ToolChoice(JudgeEvaluator):
    """Fails when the judge finds the agent chose the wrong tools or arguments for the request."""

    type_name = "tool_choice"
    category = FailureCategory.TOOL_ERROR
    params: Params
    verdict_model = ToolChoiceVerdict

    def inputs(self, view: TraceView) -> dict[str, str] | Outcome:
        if not view.tools:
            return not_applicable("the trace made no tool calls")
        offered = [g.payload.tool_definitions for g in view.generations if g.payload.tool_definitions]
        calls = [
            {"tool": t.payload.name, "arguments": t.payload.arguments, "error": t.payload.error}
            for t in view.tools[:30]
        ]
        names = sorted({t.payload.name for t in view.tools})
        return {
            "question": view.question,
            "tools": json.dumps(offered[0], default=str)[:6000] if offered else ", ".join(names),
            "tool_calls": json.dumps(calls, default=str)[:8000],
        }

    def decide(self, verdict: ToolChoiceVerdict, view: TraceView) -> Outcome:
        span_id = view.tools[0].span_id
        if not verdict.correct:
            return failed(
                f"wrong tool choice: {verdict.reason[:200]}",
                span_id=span_id,
                expected_tool=verdict.expected_tool,
                judge_reason=verdict.reason[:500],
            )
        return passed(verdict.reason[:200] or "tool choice correct", span_id=span_id)


JUDGE_TYPES: tuple[type[JudgeEvaluator], ...] = (
    Faithfulness,
    AnswerRelevance,
    ContextRelevance,
    InstructionAdherence,
    ToolChoice,
)

"""What every evaluator shares: the outcome of one evaluation, the public Verdict/Score types, the base class.

An evaluator looks at one assembled trace (through a :class:`~glassbox.evaluators.view.TraceView`)
and returns one :class:`Outcome`: passed, failed (with the evaluator's failure category),
skipped (nothing to evaluate, budget or rate limit) or error (the evaluator itself failed,
never a score). The runner turns outcomes into :class:`~glassbox.models.evaluation.EvaluationResult`.

Custom evaluators return the public :class:`Verdict` (a judgement) or :class:`Score` (a number,
judged against an optional threshold), or a list of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from glassbox.evaluators.params import Params
from glassbox.models.evaluation import EvaluationStatus, EvaluatorType, FailureCategory

if TYPE_CHECKING:
    from glassbox.evaluators.view import TraceView

Mode = Literal["inline", "thread", "async"]
"""How the runner executes an evaluator: on the event loop (cheap rules), in a thread (blocking
work such as an embedding model or a sync custom function), or as a task (LLM judges, async custom)."""


@dataclass(frozen=True, slots=True)
class JudgeUsage:
    """What a judgement cost: model, tokens and dollars over every attempt, and the attempts made."""

    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One evaluation's outcome, before it becomes an EvaluationResult."""

    status: EvaluationStatus
    reason: str = ""
    score: float | None = None
    label: str | None = None
    span_id: str | None = None
    """The span the evidence points at."""
    evidence: dict[str, Any] = field(default_factory=dict)
    category: FailureCategory | None = None
    """Overrides the evaluator's category for a failure (custom verdicts may name their own)."""
    usage: JudgeUsage | None = None
    name_suffix: str | None = None
    """For custom evaluators returning several verdicts: the verdict's name, appended to the evaluator's."""
    applicable: bool = True
    """False when there was nothing to evaluate (no JSON asked for, no tool calls ...): such skips are
    not published unless GLASSBOX_EVAL_KEEP_NOT_APPLICABLE is set."""

    @property
    def failed(self) -> bool:
        return self.status is EvaluationStatus.FAILED


def passed(reason: str = "", *, score: float | None = 1.0, span_id: str | None = None, **evidence: Any) -> Outcome:
    return Outcome(EvaluationStatus.PASSED, reason, score, span_id=span_id, evidence=evidence)


def failed(reason: str, *, score: float | None = 0.0, span_id: str | None = None, **evidence: Any) -> Outcome:
    return Outcome(EvaluationStatus.FAILED, reason, score, span_id=span_id, evidence=evidence)


def skipped(reason: str, **evidence: Any) -> Outcome:
    return Outcome(EvaluationStatus.SKIPPED, reason, None, evidence=evidence)


def not_applicable(reason: str, **evidence: Any) -> Outcome:
    """Skipped because the trace has nothing this evaluator looks at."""
    return Outcome(EvaluationStatus.SKIPPED, reason, None, evidence=evidence, applicable=False)


def errored(reason: str, *, usage: JudgeUsage | None = None, **evidence: Any) -> Outcome:
    return Outcome(EvaluationStatus.ERROR, reason, None, evidence=evidence, usage=usage)


class Evaluator:
    """Base class of every evaluator. Subclasses set the class attributes and implement ``check``
    (sync, for ``inline`` and ``thread`` modes) or ``acheck`` (async, for ``async`` mode).

    ``name`` is the configured name (one type may be configured several times under different names);
    ``version`` is part of the evaluation id, so bumping it re-evaluates.
    """

    type_name: ClassVar[str] = ""
    """The ``type`` used in the config file."""
    params_model: ClassVar[type[Params]] = Params
    """Validates the ``params`` mapping of the config file."""
    kind: ClassVar[EvaluatorType] = EvaluatorType.RULE
    category: FailureCategory = FailureCategory.INSTRUCTION_DRIFT
    mode: Mode = "inline"
    costly: bool = False
    """True for evaluators whose calls are rate-limited and budgeted (LLM judges)."""

    def __init__(self, name: str, version: str, params: Any, category: FailureCategory | None = None) -> None:
        self.name = name
        self.version = version
        self.params = params
        if category is not None:
            self.category = category

    def check(self, view: TraceView) -> Outcome:
        raise NotImplementedError(f"{type(self).__name__} has no synchronous check")

    async def acheck(self, view: TraceView) -> Outcome:
        raise NotImplementedError(f"{type(self).__name__} has no asynchronous check")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, version={self.version!r})"


class _Public(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Verdict(_Public):
    """A custom evaluator's judgement of a trace.

    ``passed`` decides the status; a failing verdict is filed under ``category`` (default: the
    category configured for the evaluator). ``span_id`` points at the span the evidence is about.
    ``name`` tells several verdicts of one function apart (each becomes its own evaluation).
    """

    passed: bool
    score: float | None = None
    reason: str = ""
    label: str | None = None
    span_id: str | None = None
    evidence: dict[str, JsonValue] = Field(default_factory=dict)
    category: FailureCategory | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")


class Score(_Public):
    """A custom evaluator's number for a trace. With ``threshold`` it passes when ``value >= threshold``
    (or ``<=`` with ``higher_is_better=False``); without one it is recorded as passed."""

    value: float
    threshold: float | None = None
    higher_is_better: bool = True
    reason: str = ""
    label: str | None = None
    span_id: str | None = None
    evidence: dict[str, JsonValue] = Field(default_factory=dict)
    category: FailureCategory | None = None
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @property
    def passed(self) -> bool:
        if self.threshold is None:
            return True
        return self.value >= self.threshold if self.higher_is_better else self.value <= self.threshold


def outcome_of(item: Verdict | Score) -> Outcome:
    """The Outcome of a custom evaluator's Verdict or Score."""
    status = EvaluationStatus.PASSED if item.passed else EvaluationStatus.FAILED
    score = item.value if isinstance(item, Score) else item.score
    evidence = dict(item.evidence)
    if isinstance(item, Score) and item.threshold is not None:
        evidence.setdefault("threshold", item.threshold)
    return Outcome(
        status,
        item.reason,
        score,
        label=item.label,
        span_id=item.span_id,
        evidence=evidence,
        category=item.category,
        name_suffix=item.name,
    )

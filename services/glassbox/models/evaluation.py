"""Evaluation requests and results, and the failure taxonomy."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Literal

from pydantic import Field, JsonValue

from glassbox.models.ids import SpanId, TraceId
from glassbox.models.span import _Model
from glassbox.models.trace import AssembledTrace


class FailureCategory(StrEnum):
    """Why a trace failed. Every failing evaluation names one."""

    HALLUCINATION = "hallucination"
    RETRIEVAL_FAILURE = "retrieval_failure"
    INSTRUCTION_DRIFT = "instruction_drift"
    TOOL_ERROR = "tool_error"
    REASONING_LOOP = "reasoning_loop"
    LATENCY_SPIKE = "latency_spike"
    COST_SPIKE = "cost_spike"


class EvaluationStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    """Not run: budget or rate limit exhausted, nothing to evaluate; the reason says which."""
    ERROR = "error"
    """The evaluator itself failed (judge unreachable, malformed verdict); never a score."""


class EvaluatorType(StrEnum):
    RULE = "rule"
    STATISTICAL = "statistical"
    LLM_JUDGE = "llm_judge"
    CUSTOM = "custom"
    SDK = "sdk"
    """A score the application attached to a span itself (user feedback)."""


def evaluation_id(trace_id: str, trace_version: int, evaluator: str, evaluator_version: str) -> str:
    """Deterministic id of one evaluation, so replays produce the same id (and no second judge call)."""
    digest = hashlib.sha256(f"{trace_id}:{trace_version}:{evaluator}:{evaluator_version}".encode()).hexdigest()
    return digest[:32]


class RouteBaseline(_Model):
    """Rolling figures of a route (service + root span name) before this trace, computed by the sampler.

    The spike rules compare the trace against ``p99 × k``; with fewer than the configured minimum
    samples they report that the baseline is still warming up.
    """

    route: str
    """service_name/root span name."""
    samples: int = Field(0, ge=0)
    """Traces of the route in the window (this one excluded)."""
    window_s: float = Field(0.0, ge=0)
    """Length of the rolling window in seconds."""
    latency_p99_ms: float | None = None
    tokens_p99: float | None = None
    """p99 of input + output tokens per trace."""
    cost_p99_usd: float | None = None


class EvaluationRequest(_Model):
    """A sampled trace sent to the evaluator workers."""

    schema_version: Literal[1] = 1
    trace: AssembledTrace
    evaluators: list[str] = Field(min_length=1)
    """Names of the evaluators to run on this trace."""
    not_before_unix_nano: int = 0
    """Evaluate no earlier than this (a binding's delay)."""
    requested_at_unix_nano: int = 0
    baseline: RouteBaseline | None = None
    """The route's rolling latency / token / cost figures, for the spike rules (None: not computed)."""


class EvaluationResult(_Model):
    schema_version: Literal[1] = 1
    evaluation_id: str = Field(min_length=1, max_length=64)
    trace_id: TraceId
    trace_version: int = Field(ge=0)
    span_id: SpanId | None = None
    """The span the evidence points at (None when the evaluation is about the whole trace)."""
    evaluator: str = Field(min_length=1, max_length=256)
    evaluator_version: str = "1"
    evaluator_type: EvaluatorType
    status: EvaluationStatus
    score: float | None = None
    """0..1, higher is better; None for skipped and errored evaluations."""
    label: str | None = None
    reason: str = ""
    failure_category: FailureCategory | None = None
    evidence: dict[str, JsonValue] = Field(default_factory=dict)
    """What points at the failure: offending claims, arguments, spans, baseline figures."""
    service_name: str = "unknown_service"
    environment: str | None = None
    prompt_versions: list[str] = Field(default_factory=list)
    judge_model: str | None = None
    judge_input_tokens: int = Field(0, ge=0)
    judge_output_tokens: int = Field(0, ge=0)
    judge_cost_usd: float = Field(0.0, ge=0)
    latency_ms: float = Field(0.0, ge=0)
    created_at_unix_nano: int = 0

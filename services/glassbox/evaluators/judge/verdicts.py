"""What the judges must answer, as pydantic models, and how a reply's text becomes one.

A reply that is not JSON, or JSON that does not fit the model, raises :class:`MalformedVerdict`;
the client retries it and finally records an evaluator error, never a score.
"""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from glassbox.models.messages import summarize_validation_error

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class MalformedVerdict(ValueError):
    """The judge's reply is not the JSON object its prompt asked for."""


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore")

    reason: str = ""


class Claim(BaseModel):
    model_config = ConfigDict(extra="ignore")

    claim: str
    supported: bool


class FaithfulnessVerdict(_Verdict):
    claims: list[Claim]


class AnswerRelevanceVerdict(_Verdict):
    relevant: bool
    score: float = Field(ge=0.0, le=1.0)


class DocumentJudgement(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int = Field(ge=1)
    relevant: bool


class ContextRelevanceVerdict(_Verdict):
    documents: list[DocumentJudgement]


class AdherenceVerdict(_Verdict):
    adheres: bool
    violations: list[str] = Field(default_factory=list)


class ToolChoiceVerdict(_Verdict):
    correct: bool
    expected_tool: str | None = None


V = TypeVar("V", bound=BaseModel)


def parse_verdict(text: str, model: type[V]) -> V:
    """The verdict in a judge's reply (a JSON object, optionally inside a ``` fence)."""
    fenced = _FENCE.match(text or "")
    body = fenced.group(1) if fenced else (text or "").strip()
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedVerdict(f"reply is not JSON ({exc}): {body[:200]!r}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise MalformedVerdict(f"reply does not fit {model.__name__}: {summarize_validation_error(exc)}") from None

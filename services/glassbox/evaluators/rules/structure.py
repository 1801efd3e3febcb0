"""Rules on the shape of the output: valid JSON (optionally against a JSON Schema), regexes, length bounds.

All three file failures under instruction_drift: the model ignored a format or constraint it was given.
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from typing import Any

from pydantic import Field, JsonValue, field_validator

from glassbox.evaluators.params import Params, checked_regexes, schema_validator
from glassbox.evaluators.types import Evaluator, Outcome, failed, not_applicable, passed
from glassbox.evaluators.view import TraceView, generation_output
from glassbox.models.evaluation import FailureCategory
from glassbox.models.span import GenerationSpan

JSON_FORMATS = {"json", "json_object", "json_schema"}
MAX_ERRORS = 5


def wants_json(span: GenerationSpan) -> bool:
    """True when the generation asked for structured output (gen_ai.output.type=json or a JSON response_format)."""
    payload = span.payload
    if (payload.output_type or "").lower() == "json":
        return True
    fmt = payload.response_format
    if isinstance(fmt, str):
        return fmt.lower() in JSON_FORMATS
    if isinstance(fmt, dict):
        return str(fmt.get("type", "json_schema")).lower() in JSON_FORMATS
    return False


def requested_schema(span: GenerationSpan) -> Any:
    """The JSON Schema in an OpenAI-style response_format ({"type": "json_schema", "json_schema": {"schema": ...}})."""
    fmt = span.payload.response_format
    if not isinstance(fmt, dict):
        return None
    inner = fmt.get("json_schema")
    if isinstance(inner, dict) and isinstance(inner.get("schema"), dict):
        return inner["schema"]
    return fmt.get("schema") if isinstance(fmt.get("schema"), dict) else None


def schema_errors(instance: Any, schema: Any) -> list[dict[str, str]]:
    """Every way ``instance`` breaks ``schema``: JSON path, message and the keyword that failed."""
    validator = schema_validator(schema)
    if validator.is_valid(instance):
        return []
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    return [{"path": e.json_path, "message": e.message[:300], "keyword": str(e.validator)} for e in errors[:MAX_ERRORS]]


class JsonValidityParams(Params):
    always: bool = False
    """Check the final answer even when no generation asked for JSON."""
    json_schema: dict[str, JsonValue] | None = Field(None, alias="schema")
    """A JSON Schema the output must satisfy (default: the one in the request's response_format)."""


class JsonValidity(Evaluator):
    """Fails when a generation that asked for JSON did not return valid JSON (or JSON breaking the schema)."""

    type_name = "json_validity"
    category = FailureCategory.INSTRUCTION_DRIFT
    params_model = JsonValidityParams
    params: JsonValidityParams

    def check(self, view: TraceView) -> Outcome:
        targets: list[tuple[str | None, str, Any]] = [
            (g.span_id, generation_output(g), self.params.json_schema or requested_schema(g))
            for g in view.generations
            if wants_json(g)
        ]
        if not targets and self.params.always:
            targets = [(view.answer_span_id, view.answer, self.params.json_schema)]
        if not targets:
            return not_applicable("no generation asked for structured output")
        problems: list[dict[str, Any]] = []
        for span_id, text, schema in targets:
            try:
                value = json.loads(text)
            except ValueError as exc:
                problems.append({"span_id": span_id, "error": f"not valid JSON: {exc}", "output": text[:200]})
                continue
            if schema is not None:
                errors = schema_errors(value, schema)
                if errors:
                    problems.append({"span_id": span_id, "error": "breaks the JSON Schema", "schema_errors": errors})
        if not problems:
            return passed(f"{len(targets)} structured output(s) valid", checked=len(targets))
        first = problems[0]
        score = 1.0 - len(problems) / len(targets)
        return failed(
            f"{len(problems)} of {len(targets)} structured output(s) invalid: {first['error']}",
            score=score,
            span_id=first["span_id"],
            problems=problems[:MAX_ERRORS],
        )


class RegexParams(Params):
    must_match: list[str] = Field(default_factory=list)
    must_not_match: list[str] = Field(default_factory=list)
    ignore_case: bool = False

    @field_validator("must_match", "must_not_match")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        return checked_regexes(patterns)


class RegexMatch(Evaluator):
    """Fails when the answer misses a must-match pattern or contains a must-not-match one."""

    type_name = "regex"
    category = FailureCategory.INSTRUCTION_DRIFT
    params_model = RegexParams
    params: RegexParams

    @cached_property
    def _compiled(self) -> tuple[list[re.Pattern[str]], list[re.Pattern[str]]]:
        flags = re.IGNORECASE if self.params.ignore_case else 0
        return (
            [re.compile(p, flags) for p in self.params.must_match],
            [re.compile(p, flags) for p in self.params.must_not_match],
        )

    def check(self, view: TraceView) -> Outcome:
        if not view.answer:
            return not_applicable("the trace has no answer to match")
        must, must_not = self._compiled
        missing = [p.pattern for p in must if not p.search(view.answer)]
        forbidden = [p.pattern for p in must_not if p.search(view.answer)]
        if missing or forbidden:
            parts = ([f"missing {missing}"] if missing else []) + ([f"contains {forbidden}"] if forbidden else [])
            return failed(
                "answer " + " and ".join(parts),
                span_id=view.answer_span_id,
                missing=missing,
                forbidden=forbidden,
            )
        return passed("answer matches every pattern", span_id=view.answer_span_id)


class LengthParams(Params):
    min_chars: int | None = Field(None, ge=0)
    max_chars: int | None = Field(None, ge=1)
    min_words: int | None = Field(None, ge=0)
    max_words: int | None = Field(None, ge=1)


class LengthBounds(Evaluator):
    """Fails when the answer is shorter or longer than the configured characters or words."""

    type_name = "length"
    category = FailureCategory.INSTRUCTION_DRIFT
    params_model = LengthParams
    params: LengthParams

    def check(self, view: TraceView) -> Outcome:
        text = view.answer
        chars, words = len(text), len(text.split())
        p = self.params
        broken = [
            label
            for label, bad in (
                (f"{chars} characters < {p.min_chars}", p.min_chars is not None and chars < p.min_chars),
                (f"{chars} characters > {p.max_chars}", p.max_chars is not None and chars > p.max_chars),
                (f"{words} words < {p.min_words}", p.min_words is not None and words < p.min_words),
                (f"{words} words > {p.max_words}", p.max_words is not None and words > p.max_words),
            )
            if bad
        ]
        if broken:
            return failed(
                "answer length out of bounds: " + "; ".join(broken),
                span_id=view.answer_span_id,
                chars=chars,
                words=words,
            )
        return passed(f"{chars} characters, {words} words", span_id=view.answer_span_id, chars=chars, words=words)

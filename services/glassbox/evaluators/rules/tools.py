"""Rules on tool use: arguments valid against the tool's JSON Schema, and tool errors left unhandled (tool_error)."""

from __future__ import annotations

import json
from typing import Any

from glassbox.evaluators.params import Params, schema_validator
from glassbox.evaluators.rules.structure import MAX_ERRORS
from glassbox.evaluators.types import Evaluator, Outcome, failed, not_applicable, passed
from glassbox.evaluators.view import TraceView, is_error
from glassbox.models.evaluation import FailureCategory
from glassbox.models.span import GenerationSpan, StatusCode, ToolSpan


def declared_schemas(view: TraceView) -> dict[str, Any]:
    """Tool name → parameters schema, from the tool definitions offered to the models (OpenAI shape)."""
    found: dict[str, Any] = {}
    for gen in view.generations:
        definitions = gen.payload.tool_definitions
        for item in definitions if isinstance(definitions, list) else []:
            if not isinstance(item, dict):
                continue
            inner = item.get("function")
            fn: dict[str, Any] = inner if isinstance(inner, dict) else item
            name, schema = fn.get("name"), fn.get("parameters") or fn.get("input_schema")
            if isinstance(name, str) and isinstance(schema, dict):
                found.setdefault(name, schema)
    return found


def tool_arguments(span: ToolSpan) -> tuple[Any, str | None]:
    """(arguments as a value, or None with the reason they cannot be read). A JSON string is decoded."""
    args = span.payload.arguments
    if isinstance(args, str):
        try:
            return json.loads(args), None
        except ValueError as exc:
            return None, f"arguments are not valid JSON: {exc}"
    return ({} if args is None else args), None


class ToolArguments(Evaluator):
    """Fails when a tool was called with arguments its JSON Schema rejects (required, types, enums, unknown fields).

    The schema is the tool span's ``glassbox.tool.json_schema``, else the tool's definition offered to the model.
    """

    type_name = "tool_arguments"
    category = FailureCategory.TOOL_ERROR
    params: Params

    def check(self, view: TraceView) -> Outcome:
        if not view.tools:
            return not_applicable("the trace made no tool calls")
        declared: dict[str, Any] | None = None
        problems: list[dict[str, Any]] = []
        checked = 0
        for span in view.tools:
            schema = span.payload.json_schema
            if not isinstance(schema, dict):
                declared = declared_schemas(view) if declared is None else declared
                schema = declared.get(span.payload.name)
            if not isinstance(schema, dict):
                continue
            checked += 1
            value, unreadable = tool_arguments(span)
            if unreadable:
                problems.append({"span_id": span.span_id, "tool": span.payload.name, "errors": [unreadable]})
                continue
            validator = schema_validator(schema)
            if validator.is_valid(value):
                continue
            errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
            if errors:
                problems.append(
                    {
                        "span_id": span.span_id,
                        "tool": span.payload.name,
                        "arguments": value,
                        "errors": [
                            {"path": e.json_path, "keyword": str(e.validator), "message": e.message[:300]}
                            for e in errors[:MAX_ERRORS]
                        ],
                    }
                )
        if not checked:
            return not_applicable("no tool call has a JSON Schema to check against")
        if not problems:
            return passed(f"{checked} tool call(s) with valid arguments", checked=checked)
        first = problems[0]
        detail = first["errors"][0]
        message = detail if isinstance(detail, str) else f"{detail['path']}: {detail['message']}"
        return failed(
            f"{len(problems)} of {checked} tool call(s) had invalid arguments; {first['tool']}: {message}",
            score=1.0 - len(problems) / checked,
            span_id=first["span_id"],
            invalid_calls=problems[:MAX_ERRORS],
        )


class UnhandledToolError(Evaluator):
    """Fails when a tool errored and nothing recovered from it.

    An error counts as handled when, after it, another tool call succeeded or a generation
    produced the answer, and the trace ended without error with a non-empty answer. Otherwise
    (the root span errored, the trace stopped at the failing tool, or the answer is empty) it is unhandled.
    """

    type_name = "unhandled_tool_error"
    category = FailureCategory.TOOL_ERROR
    params: Params

    def check(self, view: TraceView) -> Outcome:
        errors = [s for s in view.tools if is_error(s)]
        if not errors:
            return (
                not_applicable("no tool call errored") if view.tools else not_applicable("the trace made no tool calls")
            )
        root_failed = view.root is not None and view.root.status.code == StatusCode.ERROR
        unhandled: list[dict[str, Any]] = []
        for span in errors:
            later_ok = any(
                s.start_time_unix_nano >= span.end_time_unix_nano
                and not is_error(s)
                and isinstance(s, ToolSpan | GenerationSpan)
                for s in view.spans
            )
            if root_failed or not later_ok or not view.answer.strip():
                unhandled.append(
                    {
                        "span_id": span.span_id,
                        "tool": span.payload.name,
                        "error": (span.payload.error or span.status.message or "error")[:500],
                        "root_failed": root_failed,
                        "recovered_later": later_ok,
                    }
                )
        if not unhandled:
            return passed(f"{len(errors)} tool error(s), all handled", handled=len(errors))
        first = unhandled[0]
        return failed(
            f"tool {first['tool']!r} failed ({first['error'][:120]}) and the error was not handled",
            span_id=first["span_id"],
            unhandled=unhandled[:MAX_ERRORS],
        )

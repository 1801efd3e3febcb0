"""W3C Trace Context identifiers.

A trace id is 32 lowercase hex digits, a span id 16, and neither may be all
zeros (https://www.w3.org/TR/trace-context/#trace-id).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import StringConstraints

_TRACE_RE = re.compile(r"^[0-9a-f]{32}$")
_SPAN_RE = re.compile(r"^[0-9a-f]{16}$")
_TRACEPARENT_RE = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


HEX_NOT_ALL_ZEROS = r"^[0-9a-f]*[1-9a-f][0-9a-f]*$"
"""Lowercase hex with at least one digit that is not 0: with the length constraint, a W3C id."""

TraceId = Annotated[str, StringConstraints(min_length=32, max_length=32, pattern=HEX_NOT_ALL_ZEROS)]
SpanId = Annotated[str, StringConstraints(min_length=16, max_length=16, pattern=HEX_NOT_ALL_ZEROS)]
"""pydantic-core checks these constraints in Rust; a Python validator per id cost about 0.4 µs more, and
every span carries two or three ids, validated by both the assembler and the sink."""

_ID_MESSAGES = {
    32: "trace id must be 32 lowercase hex digits, not all zeros (W3C trace-id)",
    16: "span id must be 16 lowercase hex digits, not all zeros (W3C parent-id)",
}


def id_error_message(error: Any) -> str | None:
    """The readable message for a pydantic error raised by :data:`TraceId` or :data:`SpanId`, else None."""
    kind, ctx = error.get("type"), error.get("ctx") or {}
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == HEX_NOT_ALL_ZEROS:
        value = error.get("input")
        return _ID_MESSAGES.get(len(value)) if isinstance(value, str) else None
    length = ctx.get("min_length") if kind == "string_too_short" else ctx.get("max_length")
    if kind in ("string_too_short", "string_too_long") and length in _ID_MESSAGES:
        return _ID_MESSAGES[length]
    return None


def is_trace_id(value: object) -> bool:
    return isinstance(value, str) and bool(_TRACE_RE.match(value)) and value != "0" * 32


def is_span_id(value: object) -> bool:
    return isinstance(value, str) and bool(_SPAN_RE.match(value)) and value != "0" * 16


def parse_traceparent(header: str) -> tuple[str, str, bool] | None:
    """Parse a W3C ``traceparent`` header into (trace_id, span_id, sampled), or None if invalid."""
    match = _TRACEPARENT_RE.match(header.strip().lower())
    if not match:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or not is_trace_id(trace_id) or not is_span_id(span_id):
        return None
    return trace_id, span_id, bool(int(flags, 16) & 0x01)


def format_traceparent(trace_id: str, span_id: str, sampled: bool = True) -> str:
    return f"00-{trace_id}-{span_id}-{'01' if sampled else '00'}"

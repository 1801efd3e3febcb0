"""W3C Trace Context identifiers.

A trace id is 32 lowercase hex digits, a span id 16, and neither may be all
zeros (https://www.w3.org/TR/trace-context/#trace-id).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

_TRACE_RE = re.compile(r"^[0-9a-f]{32}$")
_SPAN_RE = re.compile(r"^[0-9a-f]{16}$")
_TRACEPARENT_RE = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def _check_trace_id(value: str) -> str:
    if not _TRACE_RE.match(value):
        raise ValueError("trace id must be 32 lowercase hex digits (W3C trace-id)")
    if value == "0" * 32:
        raise ValueError("trace id must not be all zeros")
    return value


def _check_span_id(value: str) -> str:
    if not _SPAN_RE.match(value):
        raise ValueError("span id must be 16 lowercase hex digits (W3C parent-id)")
    if value == "0" * 16:
        raise ValueError("span id must not be all zeros")
    return value


TraceId = Annotated[str, AfterValidator(_check_trace_id)]
SpanId = Annotated[str, AfterValidator(_check_span_id)]


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

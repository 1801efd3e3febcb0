"""Decoding Kafka messages on the spans topic: bytes in, valid spans and rejects out.

A message value is one span event (a JSON object) or a batch of span events of
one trace (a JSON array). The key should be the trace id. Decoding is pure and
deterministic, so every consumer (assembler, sink) agrees on what is valid;
each invalid element becomes a :class:`Rejected` with a reason that says what is
wrong, while the valid elements next to it go on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pydantic_core
from pydantic import TypeAdapter, ValidationError

from glassbox.models.ids import id_error_message
from glassbox.models.span import SCHEMA_VERSION, SPAN_ADAPTER, SpanEvent

DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024


class RejectReason(StrEnum):
    """Machine-readable class of a rejection; the human reason goes with it."""

    EMPTY = "empty"
    OVERSIZED = "oversized"
    MALFORMED_JSON = "malformed_json"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_VERSION = "unknown_version"
    INVALID = "invalid"
    ROUTING = "routing"
    DUPLICATE = "duplicate"
    STORAGE = "storage"
    PROCESSING = "processing"


@dataclass(frozen=True, slots=True)
class Rejected:
    """One element (or the whole message, index -1) that could not be accepted."""

    index: int
    error_type: RejectReason
    reason: str
    raw: bytes
    span: Any = None
    """For ROUTING rejections: the valid span, so the assembler can re-route it under the right key."""


@dataclass(slots=True)
class Decoded:
    spans: list[SpanEvent] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    indexes: list[int] = field(default_factory=list)
    """Position in the message of each accepted span (parallel to ``spans``)."""
    elements: list[dict[str, Any]] = field(default_factory=list)
    """The decoded JSON object of each accepted span, as received (parallel to ``spans``)."""


def summarize_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """A short, readable summary of a pydantic error: 'field.path: message; ...'."""
    parts: list[str] = []
    errors = exc.errors(include_url=False)  # the inputs are only looked at (an id's length), never printed
    for err in errors[:limit]:
        loc = ".".join(str(p) for p in err["loc"] if not _is_union_tag(p))
        parts.append(f"{loc or '<root>'}: {id_error_message(err) or err['msg']}")
    if len(errors) > limit:
        parts.append(f"... and {len(errors) - limit} more errors")
    return "; ".join(parts)


def _is_union_tag(part: Any) -> bool:
    # Discriminated unions put the tag ('generation', ...) in the location; it adds noise.
    return isinstance(part, str) and part in {
        "span",
        "generation",
        "retrieval",
        "tool",
        "agent",
        "embedding",
        "guardrail",
    }


def _element_bytes(element: Any) -> bytes:
    try:
        return json.dumps(element, ensure_ascii=False, default=repr).encode("utf-8", "replace")
    except (ValueError, RecursionError):
        return repr(element).encode("utf-8", "replace")


def decode_span_message(
    value: bytes | None,
    key: bytes | None = None,
    *,
    max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    elements: bool = True,
) -> Decoded:
    """Decode one spans-topic message into valid spans and rejected elements.

    Never raises: every problem becomes a :class:`Rejected` naming what is wrong. ``elements=False``
    leaves :attr:`Decoded.elements` empty (the sink needs only the models), which saves parsing the
    JSON a second time; it never changes which elements are accepted.

    A message is first validated whole, from its JSON, in one pass (:func:`_decode_fast`); only a
    message with a problem in it goes through the element-by-element path that names each problem.
    Both paths accept the same spans (a test holds them to it over the bad-input corpus).
    """
    out = Decoded()
    if value is None or len(value) == 0:
        out.rejected.append(Rejected(-1, RejectReason.EMPTY, "message has no value", b""))
        return out
    if len(value) > max_bytes:
        out.rejected.append(
            Rejected(
                -1,
                RejectReason.OVERSIZED,
                f"message of {len(value)} bytes exceeds the limit of {max_bytes} bytes",
                value,
            )
        )
        return out
    fast = _decode_fast(value, key)
    if fast is not None:
        out.spans = fast
        out.indexes = list(range(len(fast)))
        if elements:
            doc = pydantic_core.from_json(value, allow_inf_nan=False)
            out.elements = doc if isinstance(doc, list) else [doc]
        return out
    return _decode_slow(value, key, out)


_MESSAGE_ADAPTER: TypeAdapter[list[SpanEvent]] = TypeAdapter(list[SpanEvent])
_NON_FINITE = (b"NaN", b"Infinity")


def _decode_fast(value: bytes, key: bytes | None) -> list[SpanEvent] | None:
    """Every span of a message with nothing wrong in it, validated straight from its JSON; None when
    anything is wrong (or might be: NaN/Infinity anywhere, which the slow path's parser refuses)."""
    start = value.lstrip()[:1]
    if start not in (b"[", b"{") or any(token in value for token in _NON_FINITE):
        return None
    try:
        spans = _MESSAGE_ADAPTER.validate_json(value) if start == b"[" else [SPAN_ADAPTER.validate_json(value)]
    except (ValueError, RecursionError, TypeError):  # ValidationError is a ValueError
        return None
    if not spans:
        return None
    key_text = _decode_key(key)
    ids = {span.span_id for span in spans}
    if len(ids) != len(spans) or any(span.trace_id != key_text for span in spans):
        return None
    return spans


def _decode_slow(value: bytes, key: bytes | None, out: Decoded) -> Decoded:
    """Element by element, naming what is wrong with each rejected one."""
    try:
        doc = pydantic_core.from_json(value, allow_inf_nan=False)
    except ValueError as exc:
        out.rejected.append(Rejected(-1, RejectReason.MALFORMED_JSON, f"not valid JSON: {exc}", value))
        return out
    if isinstance(doc, dict):
        elements: list[Any] = [doc]
        whole = True
    elif isinstance(doc, list):
        elements = doc
        whole = False
        if not elements:
            out.rejected.append(Rejected(-1, RejectReason.EMPTY, "message is an empty array", value))
            return out
    else:
        out.rejected.append(
            Rejected(
                -1,
                RejectReason.WRONG_TYPE,
                f"message must be a JSON object or array of objects, got {type(doc).__name__}",
                value,
            )
        )
        return out

    key_text = _decode_key(key)
    seen: set[str] = set()
    for index, element in enumerate(elements):
        raw = value if whole else None
        rejected = _check_element(element, index if not whole else -1, key_text, seen, raw)
        if isinstance(rejected, Rejected):
            out.rejected.append(rejected)
        else:
            out.spans.append(rejected)
            out.indexes.append(index if not whole else 0)
            out.elements.append(element)
    return out


def _decode_key(key: bytes | None) -> str | None:
    if key is None:
        return None
    try:
        return key.decode("ascii")
    except UnicodeDecodeError:
        return key.decode("latin-1")


def _check_element(
    element: Any,
    index: int,
    key_text: str | None,
    seen: set[str],
    raw: bytes | None,
) -> SpanEvent | Rejected:
    def reject(kind: RejectReason, reason: str, span: Any = None) -> Rejected:
        return Rejected(index, kind, reason, raw if raw is not None else _element_bytes(element), span)

    if not isinstance(element, dict):
        return reject(RejectReason.WRONG_TYPE, f"span event must be a JSON object, got {type(element).__name__}")
    version = element.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        return reject(
            RejectReason.UNKNOWN_VERSION,
            f"unsupported schema_version {version!r}; this pipeline reads version {SCHEMA_VERSION}",
        )
    try:
        span = SPAN_ADAPTER.validate_python(element)
    except ValidationError as exc:
        return reject(RejectReason.INVALID, summarize_validation_error(exc))
    except (RecursionError, ValueError, TypeError) as exc:
        return reject(RejectReason.INVALID, f"cannot validate span event: {exc}")
    if key_text != span.trace_id:
        shown = "no key" if key_text is None else f"key {key_text[:64]!r}"
        return reject(
            RejectReason.ROUTING,
            f"message has {shown} but the span's trace_id is {span.trace_id}; "
            "spans must be keyed by trace id so a trace stays on one partition",
            span,
        )
    if span.span_id in seen:
        return reject(RejectReason.DUPLICATE, f"span_id {span.span_id} appears twice in one message")
    seen.add(span.span_id)
    return span

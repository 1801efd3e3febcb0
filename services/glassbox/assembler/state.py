"""In-flight trace state and the rules that decide when a trace is emitted. Pure; no Kafka here.

A :class:`TraceState` holds the spans seen so far for one trace, when the last
one arrived, and which version was emitted. Its bytes (:meth:`TraceState.to_bytes`)
go in the assembler's faust table, so a restarted worker resumes from the changelog:
a small JSON header, a newline, then the spans — as the emitted trace message itself
once the trace went out whole (written once, never serialised a second time), or as a
JSON array otherwise. The header alone (:func:`read_header`) says when to look at the
trace next, so rebuilding the timer index after a restart parses no span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import pydantic_core

from glassbox.assembler.metrics import assemble
from glassbox.models.span import TRUNCATED_MARKER

NS = 1_000_000_000


class AddResult(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    """Byte-for-byte the span already held (a replay): ignored."""
    REPLACED = "replaced"
    """Same span id, different content: the newer one wins."""


@dataclass(slots=True)
class TraceState:
    trace_id: str
    spans: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_seen_ns: int = 0
    last_seen_ns: int = 0
    emitted_version: int = 0
    emitted_at_ns: int = 0
    dirty: bool = False
    """Spans arrived since the last emission."""

    @property
    def has_root(self) -> bool:
        return any(not s.get("parent_span_id") for s in self.spans.values())

    def add(self, span: dict[str, Any], now_ns: int) -> AddResult:
        if not self.first_seen_ns:
            self.first_seen_ns = now_ns
        self.last_seen_ns = max(self.last_seen_ns, now_ns)
        held = self.spans.get(span["span_id"])
        if held is not None and held == span:
            return AddResult.DUPLICATE
        self.spans[span["span_id"]] = span
        self.dirty = True
        return AddResult.NEW if held is None else AddResult.REPLACED

    # ------------------------------------------------------------------ persistence

    def header(self) -> StateHeader:
        return StateHeader(self.dirty, self.has_root, self.last_seen_ns, self.emitted_at_ns)

    def to_bytes(self, trace: bytes | None = None) -> bytes:
        """The table value. ``trace``: the message just emitted for this state, when it carries every span
        untruncated (:func:`encode_trace` says so); its bytes then stand for the spans."""
        header = pydantic_core.to_json(
            {
                "trace_id": self.trace_id,
                "first_seen_ns": self.first_seen_ns,
                "last_seen_ns": self.last_seen_ns,
                "emitted_version": self.emitted_version,
                "emitted_at_ns": self.emitted_at_ns,
                "dirty": self.dirty,
                "has_root": self.has_root,
                "body": "trace" if trace is not None else "spans",
            }
        )
        body = trace if trace is not None else pydantic_core.to_json(list(self.spans.values()))
        return header + b"\n" + body

    @classmethod
    def from_bytes(cls, data: bytes) -> TraceState:
        head, sep, body = data.partition(b"\n")
        if not sep:  # written before the header format: one JSON object with the spans in it
            doc = pydantic_core.from_json(data)
            spans = doc["spans"]
        else:
            doc = pydantic_core.from_json(head)
            spans = pydantic_core.from_json(body)
            if doc["body"] == "trace":
                spans = spans["spans"]
        return cls(
            trace_id=doc["trace_id"],
            spans={s["span_id"]: s for s in spans},
            first_seen_ns=doc["first_seen_ns"],
            last_seen_ns=doc["last_seen_ns"],
            emitted_version=doc["emitted_version"],
            emitted_at_ns=doc["emitted_at_ns"],
            dirty=doc["dirty"],
        )


@dataclass(frozen=True, slots=True)
class StateHeader:
    """What deciding when to look at a trace again needs (see :func:`next_check`)."""

    dirty: bool
    has_root: bool
    last_seen_ns: int
    emitted_at_ns: int


def read_header(data: bytes) -> StateHeader:
    """The header of a table value, without parsing its spans (values of the old format are parsed whole)."""
    head, sep, _ = data.partition(b"\n")
    if not sep:
        return TraceState.from_bytes(data).header()
    doc = pydantic_core.from_json(head)
    return StateHeader(doc["dirty"], doc["has_root"], doc["last_seen_ns"], doc["emitted_at_ns"])


@dataclass(frozen=True, slots=True)
class Timing:
    grace_ns: int
    inactivity_ns: int
    late_window_ns: int

    @classmethod
    def from_seconds(cls, grace: float, inactivity: float, late_window: float) -> Timing:
        return cls(int(grace * NS), int(inactivity * NS), int(late_window * NS))


class Decision(Enum):
    WAIT = "wait"
    EMIT_COMPLETE = "emit_complete"
    EMIT_INCOMPLETE = "emit_incomplete"
    EVICT = "evict"


def decide(state: TraceState, now_ns: int, timing: Timing) -> tuple[Decision, int]:
    """What to do with a trace now, and when to look at it again (ns)."""
    if state.dirty:
        quiet = now_ns - state.last_seen_ns
        if state.has_root:
            if quiet >= timing.grace_ns:
                return Decision.EMIT_COMPLETE, now_ns + timing.late_window_ns
            return Decision.WAIT, state.last_seen_ns + timing.grace_ns
        if quiet >= timing.inactivity_ns:
            return Decision.EMIT_INCOMPLETE, now_ns + timing.late_window_ns
        return Decision.WAIT, state.last_seen_ns + timing.inactivity_ns
    evict_at = max(state.emitted_at_ns, state.last_seen_ns) + timing.late_window_ns
    if now_ns >= evict_at:
        return Decision.EVICT, 0
    return Decision.WAIT, evict_at


def next_check(state: TraceState | StateHeader, timing: Timing) -> int:
    """When a freshly updated trace should next be looked at."""
    if state.dirty:
        return state.last_seen_ns + (timing.grace_ns if state.has_root else timing.inactivity_ns)
    return max(state.emitted_at_ns, state.last_seen_ns) + timing.late_window_ns


def emit(state: TraceState, now_ns: int, complete: bool) -> dict[str, Any]:
    """Build the next version of the trace and mark the state emitted."""
    trace = assemble(
        list(state.spans.values()),
        version=state.emitted_version + 1,
        complete=complete,
        assembled_at_ns=now_ns,
    )
    state.emitted_version += 1
    state.emitted_at_ns = now_ns
    state.dirty = False
    return trace


def encode_trace(trace: dict[str, Any], max_bytes: int) -> tuple[bytes, bool]:
    """JSON bytes of an assembled trace under ``max_bytes`` (big span values are cut, then spans dropped), and
    whether they carry every span untruncated."""
    data = pydantic_core.to_json(trace)
    if len(data) <= max_bytes:
        return data, True
    slim = dict(trace)
    slim["spans"] = [_slim_span(s, 2048) for s in trace["spans"]]
    slim["spans_truncated"] = True
    slim["input"] = _cut(trace.get("input"), 4096)
    slim["output"] = _cut(trace.get("output"), 4096)
    data = pydantic_core.to_json(slim)
    if len(data) <= max_bytes:
        return data, False
    slim["spans"] = []
    return pydantic_core.to_json(slim), False


def _cut(value: Any, limit: int) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    text = pydantic_core.to_json(value)
    if len(text) <= limit:
        return value
    preview = text[:limit].decode("utf-8", "ignore")
    return {TRUNCATED_MARKER: True, "original_bytes": len(text), "reason": "size", "preview": preview}


def _slim_span(span: dict[str, Any], limit: int) -> dict[str, Any]:
    out = dict(span)
    for key in ("input", "output", "metadata", "attributes"):
        if key in out:
            out[key] = _cut(out[key], limit)  # a marker is itself an object, so metadata stays a mapping
    payload = out.get("payload")
    if isinstance(payload, dict):
        slim_payload: dict[str, Any] = {}
        for key, value in payload.items():
            if key in ("gen_ai.input.messages", "gen_ai.output.messages") and isinstance(value, list):
                slim_payload[key] = [
                    {"role": m.get("role", "unknown"), "content": _cut(m.get("content"), limit)}
                    for m in value
                    if isinstance(m, dict)
                ]
            elif key == "glassbox.retrieval.documents" and isinstance(value, list):
                slim_payload[key] = [
                    {k: (_cut(v, limit) if k == "content" else v) for k, v in d.items() if k != "metadata"}
                    for d in value
                    if isinstance(d, dict)
                ]
            elif key in ("glassbox.request.parameters",) and isinstance(value, dict):
                slim_payload[key] = {}
            else:
                slim_payload[key] = _cut(value, limit) if not isinstance(value, str | int | float | bool) else value
                if isinstance(value, str) and len(value) > limit:
                    slim_payload[key] = value[:limit]
        out["payload"] = slim_payload
    return out

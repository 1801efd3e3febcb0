"""The live span object the application holds while work runs.

Creating, updating and ending a span does the least work possible on the
calling thread: ids are integers, values are stored by reference, and nothing
is serialised here. The exporter thread turns ended spans into wire events
(see :mod:`glassbox.sdk.wire`). No method raises into the application.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from glassbox.sdk.fields import CONVENIENCE, ENVELOPE_FIELDS, PAYLOAD_FIELDS

if TYPE_CHECKING:
    from glassbox.sdk.client import Client

MAX_PENDING_UNSAMPLED = 2000
"""Spans an unsampled trace may hold back while we wait to see whether it errors."""


class TraceState:
    """Per-trace bookkeeping shared by the spans of one trace in this process."""

    __slots__ = ("error", "pending", "sampled")

    def __init__(self, sampled: bool) -> None:
        self.sampled = sampled
        self.error = False
        self.pending: list[Span] | None = None if sampled else []


class RemoteParent:
    """A parent span that lives in another process (from a W3C traceparent)."""

    __slots__ = ("sampled", "span_id", "trace_id")

    def __init__(self, trace_id: int, span_id: int, sampled: bool) -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.sampled = sampled


class CallArgs:
    """A function call's arguments, bound to parameter names later, on the exporter thread."""

    __slots__ = ("args", "func", "kwargs", "skip_first")

    def __init__(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], skip_first: bool) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.skip_first = skip_first


class Span:
    """One unit of work. Use the decorators or context managers to create spans."""

    __slots__ = (
        "_client",
        "_ended",
        "_local_root",
        "_trace",
        "attributes",
        "cohort",
        "end_ns",
        "events",
        "exception",
        "input",
        "kind",
        "metadata",
        "name",
        "output",
        "parent_id",
        "payload",
        "scores",
        "session_id",
        "span_id",
        "start_ns",
        "status",
        "status_message",
        "tags",
        "trace_id",
        "user_id",
    )

    def __init__(
        self,
        client: Client,
        trace: TraceState,
        name: str,
        kind: str,
        trace_id: int,
        span_id: int,
        parent_id: int | None,
        local_root: bool,
    ) -> None:
        self._client = client
        self._trace = trace
        self._local_root = local_root
        self._ended = False
        self.name = name
        self.kind = kind
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.start_ns = time.time_ns()
        self.end_ns = 0
        self.status = "unset"
        self.status_message: str | None = None
        self.exception: BaseException | None = None
        self.input: Any = None
        self.output: Any = None
        self.payload: dict[str, Any] | None = None
        self.attributes: dict[str, Any] | None = None
        self.metadata: dict[str, Any] | None = None
        self.events: list[tuple[str, int, dict[str, Any]]] | None = None
        self.scores: list[tuple[str, float, str | None]] | None = None
        self.user_id: str | None = None
        self.session_id: str | None = None
        self.cohort: str | None = None
        self.tags: list[str] | None = None

    # ------------------------------------------------------------------ identity

    @property
    def trace_id_hex(self) -> str:
        return f"{self.trace_id:032x}"

    @property
    def span_id_hex(self) -> str:
        return f"{self.span_id:016x}"

    @property
    def traceparent(self) -> str:
        """W3C traceparent header value naming this span as the parent."""
        flag = "01" if self._trace.sampled else "00"
        return f"00-{self.trace_id:032x}-{self.span_id:016x}-{flag}"

    @property
    def is_recording(self) -> bool:
        return not self._ended

    # ------------------------------------------------------------------ updates

    def set_input(self, value: Any) -> Span:
        self.input = value
        return self

    def set_output(self, value: Any) -> Span:
        self.output = value
        return self

    def set_attribute(self, key: str, value: Any) -> Span:
        if self.attributes is None:
            self.attributes = {}
        self.attributes[key] = value
        return self

    def set_attributes(self, values: dict[str, Any]) -> Span:
        if self.attributes is None:
            self.attributes = {}
        self.attributes.update(values)
        return self

    def update(self, **fields: Any) -> Span:
        """Set envelope fields (user_id, session_id, cohort, tags, metadata, name, input, output)
        and payload fields of this span's kind (model, input_tokens, cost_usd, documents, arguments, ...).

        Unknown names become attributes; nothing raises.
        """
        known = PAYLOAD_FIELDS.get(self.kind, {})
        for key, value in fields.items():
            try:
                if key in ENVELOPE_FIELDS:
                    self._set_envelope(key, value)
                    continue
                name = key if key in known else CONVENIENCE.get(key, key)
                if name in known:
                    if self.payload is None:
                        self.payload = {}
                    self.payload[name] = value
                else:
                    self.set_attribute(key, value)
            except Exception:  # pragma: no cover - defensive: never raise into the app
                continue
        return self

    def _set_envelope(self, key: str, value: Any) -> None:
        if key == "metadata":
            if isinstance(value, dict):
                if self.metadata is None:
                    self.metadata = {}
                self.metadata.update(value)
        elif key == "tags":
            if isinstance(value, str):
                value = [value]
            self.tags = [str(t) for t in value] if value is not None else None
        elif key == "name":
            self.name = str(value)
        else:
            setattr(self, key, value if key in ("input", "output") or value is None else str(value))

    def score(self, name: str, value: float, comment: str | None = None) -> Span:
        """Attach a score (user feedback, a heuristic) to this span; stored next to evaluator results."""
        if self.scores is None:
            self.scores = []
        self.scores.append((str(name), value, comment))
        return self

    def add_event(self, name: str, attributes: dict[str, Any] | None = None) -> Span:
        if self.events is None:
            self.events = []
        self.events.append((str(name), time.time_ns(), attributes or {}))
        return self

    def set_status(self, code: str, message: str | None = None) -> Span:
        code = str(code).lower()
        if code in ("ok", "error", "unset"):
            self.status = code
            self.status_message = message
            if code == "error":
                self._trace.error = True
        return self

    def record_exception(self, exc: BaseException) -> Span:
        """Mark the span as failed with the exception's type, message and stack."""
        self.exception = exc
        self.status = "error"
        try:
            self.status_message = f"{type(exc).__name__}: {exc}"
        except Exception:
            self.status_message = type(exc).__name__
        self._trace.error = True
        return self

    def end(self, end_ns: int | None = None) -> None:
        """Finish the span and hand it to the exporter. A second call does nothing."""
        if self._ended:
            return
        self._ended = True
        self.end_ns = end_ns or time.time_ns()
        try:
            self._client._on_end(self)
        except Exception:  # pragma: no cover - the exporter never raises, but be sure
            pass

    def __repr__(self) -> str:
        return f"<Span {self.kind} {self.name!r} trace={self.trace_id:032x} span={self.span_id:016x}>"


class NoopSpan:
    """Returned when the SDK is disabled; accepts every call and does nothing."""

    trace_id_hex = "0" * 32
    span_id_hex = "0" * 16
    traceparent = ""
    is_recording = False

    def __getattr__(self, name: str) -> Any:
        def _noop(*args: Any, **kwargs: Any) -> NoopSpan:
            return self

        return _noop


NOOP_SPAN = NoopSpan()

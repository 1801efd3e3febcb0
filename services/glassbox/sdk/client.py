"""The SDK client: configuration, span creation, sampling and the hand-off to the exporter."""

from __future__ import annotations

import atexit
import contextvars
import os
import random
import sys
import threading
from typing import Any

from glassbox.common.sampling import keep_trace_int
from glassbox.common.settings import ConfigError, KafkaSettings, SdkSettings, load
from glassbox.sdk.capture import Capturer
from glassbox.sdk.processor import BatchSpanProcessor, Sender
from glassbox.sdk.redact import Redactor, from_settings
from glassbox.sdk.span import MAX_PENDING_UNSAMPLED, RemoteParent, Span, TraceState

CURRENT: contextvars.ContextVar[Span | RemoteParent | None] = contextvars.ContextVar("glassbox_span", default=None)
"""The active span (or remote parent) of the current thread / asyncio task."""

_rng = random.Random()


def _reseed() -> None:
    _rng.seed(int.from_bytes(os.urandom(16), "big"))


_reseed()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reseed)


def new_trace_id() -> int:
    value = _rng.getrandbits(128)
    return value or 1


def new_span_id() -> int:
    value = _rng.getrandbits(64)
    return value or 1


class Client:
    """Holds the settings, the capturer and the exporter. One per process (see :func:`glassbox.init`)."""

    def __init__(
        self,
        settings: SdkSettings,
        kafka: KafkaSettings,
        sender: Sender | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.settings = settings
        self.kafka = kafka
        self.enabled = settings.enabled
        self.sample_rate = settings.sample_rate
        self.keep_errors = settings.always_keep_errors
        self.capture_io = settings.capture_io
        self.resource = {
            "service.name": settings.service_name,
            "deployment.environment.name": settings.environment,
            "telemetry.sdk.name": "glassbox",
            "telemetry.sdk.version": _sdk_version(),
        }
        if settings.release:
            self.resource["service.version"] = settings.release
        if redactor is None:
            redactor = from_settings(settings.redact_builtin, settings.redact_fields)
        self.capturer = Capturer(settings.max_value_bytes, settings.max_depth, redactor, settings.max_attributes)
        if sender is None:
            from glassbox.sdk.kafka_sender import KafkaSender

            sender = KafkaSender(kafka, settings)
        self.processor = BatchSpanProcessor(self, sender, settings)
        self._lock = threading.Lock()
        self._shutdown = False
        self.sampled_out = 0
        self.kept_on_error = 0

    # ------------------------------------------------------------------ spans

    def start_span(
        self,
        name: str,
        kind: str = "span",
        parent: Span | RemoteParent | bool | None = None,
        new_trace: bool = False,
    ) -> Span:
        """Create a span under ``parent`` (default: the current span). It is not made current."""
        if parent is None and not new_trace:
            parent = CURRENT.get()
        if new_trace or parent is None or parent is False or parent is True:
            trace_id = new_trace_id()
            trace = TraceState(keep_trace_int(trace_id, self.sample_rate))
            return Span(self, trace, name, kind, trace_id, new_span_id(), None, True)
        if isinstance(parent, RemoteParent):
            trace = TraceState(parent.sampled or keep_trace_int(parent.trace_id, self.sample_rate))
            return Span(self, trace, name, kind, parent.trace_id, new_span_id(), parent.span_id, True)
        span = Span(self, parent._trace, name, kind, parent.trace_id, new_span_id(), parent.span_id, False)
        span.user_id = parent.user_id
        span.session_id = parent.session_id
        span.cohort = parent.cohort
        span.tags = parent.tags
        return span

    def _on_end(self, span: Span) -> None:
        """Route an ended span: export it, hold it back (unsampled trace), or drop it."""
        trace = span._trace
        if trace.sampled:
            self.processor.enqueue(span)
            return
        pending = trace.pending
        if self.keep_errors and pending is not None:
            if len(pending) < MAX_PENDING_UNSAMPLED:
                pending.append(span)
            else:
                self.sampled_out += 1
            if span._local_root:
                trace.pending = None
                if trace.error:
                    self.kept_on_error += len(pending)
                    for held in pending:
                        self.processor.enqueue(held)
                else:
                    self.sampled_out += len(pending)
        else:
            self.sampled_out += 1

    # ------------------------------------------------------------------ lifecycle

    def flush(self, timeout: float = 5.0) -> bool:
        """Send everything queued so far; True when all of it was acknowledged within the timeout."""
        return self.processor.flush(timeout)

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush and stop the exporter thread. Spans ended afterwards are dropped (and counted)."""
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
        self.processor.shutdown(self.settings.shutdown_timeout_s if timeout is None else timeout)

    def stats(self) -> dict[str, int]:
        """Counters: queued, delivered, dropped (by cause), sampled out, kept because of errors."""
        out = self.processor.stats()
        out["sampled_out"] = self.sampled_out
        out["kept_on_error"] = self.kept_on_error
        return out


def _sdk_version() -> str:
    try:
        from importlib.metadata import version

        return version("glassbox")
    except Exception:
        return "0"


# ---------------------------------------------------------------------- the process-wide client

_client: Client | None = None
_client_lock = threading.Lock()


def init(
    *,
    sender: Sender | None = None,
    redactor: Redactor | None = None,
    kafka: KafkaSettings | None = None,
    **overrides: Any,
) -> Client:
    """Configure the SDK for this process (settings from GLASSBOX_SDK_* / GLASSBOX_KAFKA_* plus overrides).

    A bad setting raises :class:`~glassbox.common.settings.ConfigError` naming it; that is the one
    place the SDK raises, at start-up, never from instrumented code. Calling init again replaces the
    client after flushing the previous one.
    """
    global _client
    kafka_overrides = {k[len("kafka_") :]: overrides.pop(k) for k in list(overrides) if k.startswith("kafka_")}
    settings = load(SdkSettings, **overrides)
    kafka_settings = kafka or load(KafkaSettings, **kafka_overrides)
    client = Client(settings, kafka_settings, sender=sender, redactor=redactor)
    with _client_lock:
        previous, _client = _client, client
    if previous is not None:
        previous.shutdown()
    return client


def get_client() -> Client:
    """The process-wide client, created from the environment on first use."""
    client = _client
    if client is not None:
        return client
    with _client_lock:
        if _client is None:
            try:
                settings = load(SdkSettings)
                kafka = load(KafkaSettings)
            except ConfigError as exc:
                import warnings

                warnings.warn(f"glassbox tracing disabled: {exc}", stacklevel=2)
                settings = SdkSettings(enabled=False)
                kafka = KafkaSettings()
            globals()["_client"] = Client(settings, kafka)
        return _client  # type: ignore[return-value]


def _atexit() -> None:
    client = _client
    if client is not None:
        try:
            litellm_capture = sys.modules.get("glassbox.sdk.litellm")
            logger = litellm_capture.installed() if litellm_capture is not None else None
            if logger is not None:
                logger.wait_idle(2.0)
            client.shutdown()
        except Exception:
            pass


atexit.register(_atexit)

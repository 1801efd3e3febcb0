"""Seeing the spans of our own calls: an SDK sender that keeps them (and forwards them), and local assembly.

An experiment or a replay traces every call through the ordinary SDK. :func:`capturing_client`
installs, for the duration of the run, an SDK client whose sender is a :class:`CaptureSender`:
it keeps each trace's span events in memory so the run can assemble the trace itself (with the
assembler's own :func:`~glassbox.assembler.metrics.assemble`) and evaluate it at once, and it
forwards them to Kafka when a pipeline is there to store them as normal traces. The app's own
client (if any) is put back afterwards.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from glassbox.common.settings import KafkaSettings, SdkSettings, load
from glassbox.models.span import parse_span, span_to_dict
from glassbox.models.trace import AssembledTrace

DEFAULT_SERVICE = "glassbox-experiments"


class CaptureSender:
    """An SDK Sender that keeps every event by trace id and forwards batches to ``forward`` when given."""

    def __init__(self, forward: Any = None) -> None:
        self.forward = forward
        self._lock = threading.Lock()
        self._events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._pending: deque[tuple[str, list[dict[str, Any]]]] = deque()
        self.captured = 0

    def ready(self) -> bool:
        return True

    def send(self, trace_id: str, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self._events[trace_id].extend(events)
            self.captured += len(events)
            if self.forward is not None:
                self._pending.append((trace_id, events))
        self._forward()

    def _forward(self) -> None:
        if self.forward is None or not self.forward.ready():
            return
        while True:
            with self._lock:
                if not self._pending:
                    return
                trace_id, events = self._pending.popleft()
            self.forward.send(trace_id, events)

    def take(self, trace_id: str) -> list[dict[str, Any]]:
        """The events captured for a trace so far (and forget them)."""
        with self._lock:
            return self._events.pop(trace_id, [])

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            self._forward()
            if self._pending:
                time.sleep(0.05)
        if self.forward is None:
            return True
        return not self._pending and bool(self.forward.flush(max(0.0, deadline - time.monotonic())))

    def close(self, timeout: float) -> None:
        self.flush(timeout)
        if self.forward is not None:
            self.forward.close(timeout)

    def stats(self) -> dict[str, int]:
        forwarded = self.forward.stats() if self.forward is not None else {}
        return {
            "delivered_spans": self.captured,
            "failed_spans": int(forwarded.get("failed_spans", 0)),
            "forwarded_spans": int(forwarded.get("delivered_spans", 0)),
        }


@contextmanager
def capturing_client(kafka: KafkaSettings | None, service_name: str | None = None) -> Iterator[CaptureSender]:
    """Trace through an SDK client that captures (and forwards to ``kafka`` when given) for the block's duration.

    The settings are the current client's (the app may have called ``glassbox.init``), with tracing
    on and every trace kept (sample rate 1); the previous client is restored afterwards.
    """
    from glassbox.sdk import client as client_mod

    previous = client_mod._client
    base = previous.settings if previous is not None else load(SdkSettings)
    name = service_name or (base.service_name if base.service_name != "unknown_service" else DEFAULT_SERVICE)
    settings = base.model_copy(update={"enabled": True, "sample_rate": 1.0, "service_name": name})
    forward = None
    if kafka is not None:
        from glassbox.sdk.kafka_sender import KafkaSender

        forward = KafkaSender(kafka, settings)
    sender = CaptureSender(forward)
    client = client_mod.Client(settings, kafka or KafkaSettings(), sender=sender)
    with client_mod._client_lock:
        client_mod._client = client
    try:
        yield sender
    finally:
        client.shutdown(10.0)
        with client_mod._client_lock:
            client_mod._client = previous


def assemble_events(events: list[dict[str, Any]]) -> AssembledTrace | None:
    """The assembled trace of one trace's captured span events (invalid events left out); None without any."""
    from glassbox.assembler.metrics import assemble

    spans = []
    for event in events:
        try:
            spans.append(span_to_dict(parse_span(event)))
        except ValidationError:
            continue
    if not spans:
        return None
    return AssembledTrace.model_validate(assemble(spans, version=1, complete=True, assembled_at_ns=time.time_ns()))


@contextmanager
def litellm_captured(enabled: bool = True) -> Iterator[None]:
    """Capture litellm calls as generation spans for the block (left installed if the app had installed it)."""
    if not enabled:
        yield
        return
    try:
        from glassbox.sdk import litellm as litellm_capture
    except ImportError:  # litellm is not installed: nothing to capture
        yield
        return
    before = litellm_capture.installed()
    litellm_capture.instrument()
    try:
        yield
    finally:
        if before is None:
            litellm_capture.uninstrument()

"""Bounded buffer between the application and the exporter thread.

The application thread only appends an ended span to a bounded deque (and
counts a drop when it is full). A daemon thread wakes every
``export_interval_ms`` (or early when ``export_batch_spans`` are queued),
turns spans into wire events, groups them by trace and hands one batch per
trace to the :class:`Sender`. While the sender has no usable connection, the
thread leaves spans in the buffer, so short outages cost nothing; long ones
fill the buffer and the drop policy applies. Drops are counted and reported
by a rate-limited warning from the exporter thread, never from the app.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.common.settings import DropPolicy, SdkSettings
from glassbox.sdk.wire import to_wire

if TYPE_CHECKING:
    from glassbox.sdk.client import Client
    from glassbox.sdk.span import Span

log = get_logger("glassbox.sdk")


class Sender(Protocol):
    """Delivers batches of wire events. Implementations never raise."""

    def ready(self) -> bool:
        """True when send() can be called now (a connection exists or can be made)."""

    def send(self, trace_id: str, events: list[dict[str, Any]]) -> None:
        """Send the events of one trace; count each as delivered or failed eventually."""

    def flush(self, timeout: float) -> bool:
        """Wait until everything sent was acknowledged or failed; True if nothing is left in flight."""

    def close(self, timeout: float) -> None: ...

    def stats(self) -> dict[str, int]: ...


class BatchSpanProcessor:
    def __init__(self, client: Client, sender: Sender, settings: SdkSettings) -> None:
        self._client = client
        self._sender = sender
        self._max = settings.max_queue_spans
        self._batch = settings.export_batch_spans
        self._interval = settings.export_interval_ms / 1000.0
        self._drop_oldest = settings.drop_policy == DropPolicy.DROP_OLDEST
        self._queue: deque[Span] = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._stopped = False
        self.dropped_queue_full = 0
        self.dropped_after_shutdown = 0
        self.dropped_unserializable = 0
        self.exported = 0
        self._warn = RateLimitedLog(log, settings.drop_warning_interval_s)
        self._reported_drops = 0
        _PROCESSORS.add(self)

    # ------------------------------------------------------------------ app thread

    def enqueue(self, span: Span) -> None:
        """Called on the application thread when a span ends. O(1), never blocks, never raises."""
        if self._stopped:
            self.dropped_after_shutdown += 1
            return
        queue = self._queue
        if len(queue) >= self._max:
            if self._drop_oldest:
                try:
                    queue.popleft()
                    self.dropped_queue_full += 1
                except IndexError:  # the exporter thread emptied it meanwhile
                    pass
            else:
                self.dropped_queue_full += 1
                return
        queue.append(span)
        if self._thread is None:
            self._start()
        if len(queue) == self._batch:
            self._wake.set()

    def _start(self) -> None:
        with self._thread_lock:
            if self._thread is None and not self._stopped:
                thread = threading.Thread(target=self._run, name="glassbox-exporter", daemon=True)
                self._thread = thread
                thread.start()

    # ------------------------------------------------------------------ exporter thread

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception as exc:  # pragma: no cover - keep the thread alive whatever happens
                log.warning("sdk.export_loop_error", error=repr(exc))
            self._report_drops()
            if self._stopped and not self._queue:
                self._idle.set()
                return

    def _drain(self) -> None:
        queue = self._queue
        while queue:
            if not self._sender.ready():
                self._idle.set()
                return
            self._idle.clear()
            batch: list[Span] = []
            limit = max(self._batch, 1) * 4
            try:
                while len(batch) < limit:
                    batch.append(queue.popleft())
            except IndexError:
                pass
            groups: dict[int, list[dict[str, Any]]] = {}
            capturer = self._client.capturer
            resource = self._client.resource
            for span in batch:
                try:
                    event = to_wire(span, capturer, resource)
                except Exception as exc:
                    self.dropped_unserializable += 1
                    log.debug("sdk.span_unserializable", error=repr(exc))
                    continue
                groups.setdefault(span.trace_id, []).append(event)
            for trace_id, events in groups.items():
                self._sender.send(f"{trace_id:032x}", events)
                self.exported += len(events)
        self._idle.set()

    def _report_drops(self) -> None:
        undeliverable = self._sender.stats().get("failed_spans", 0)
        dropped = self.dropped_queue_full + undeliverable
        if dropped > self._reported_drops and self._warn.warning(
            "glassbox spans dropped",
            dropped_total=dropped,
            queue_full=self.dropped_queue_full,
            undeliverable=undeliverable,
            queue_size=len(self._queue),
        ):
            self._reported_drops = dropped

    # ------------------------------------------------------------------ control

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self._thread is None and not self._queue:
            return self._sender.flush(max(0.0, timeout))
        while self._queue or not self._idle.is_set():
            if time.monotonic() >= deadline:
                return False
            self._wake.set()
            if not self._sender.ready():
                time.sleep(0.01)
                if self._queue and not self._sender.ready() and time.monotonic() >= deadline:
                    return False
                continue
            time.sleep(0.002)
        return self._sender.flush(max(0.0, deadline - time.monotonic())) and not self._queue

    def shutdown(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self.flush(timeout)
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))
        leftover = len(self._queue)
        if leftover:
            self.dropped_after_shutdown += leftover
            self._queue.clear()
        self._sender.close(max(0.1, deadline - time.monotonic()))

    def stats(self) -> dict[str, int]:
        sender = self._sender.stats()
        return {
            "queued": len(self._queue),
            "exported": self.exported,
            "delivered": sender.get("delivered_spans", 0),
            "dropped_queue_full": self.dropped_queue_full,
            "dropped_undeliverable": sender.get("failed_spans", 0),
            "dropped_unserializable": self.dropped_unserializable,
            "dropped_after_shutdown": self.dropped_after_shutdown,
            "dropped": self.dropped_queue_full
            + sender.get("failed_spans", 0)
            + self.dropped_unserializable
            + self.dropped_after_shutdown,
        }

    def _after_fork(self) -> None:
        """In a forked child the exporter thread does not exist: start fresh, lazily."""
        self._queue = deque()
        self._wake = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = None
        self._thread_lock = threading.Lock()
        reset = getattr(self._sender, "after_fork", None)
        if callable(reset):
            reset()


_PROCESSORS: weakref.WeakSet[BatchSpanProcessor] = weakref.WeakSet()


def _reset_after_fork() -> None:
    for processor in list(_PROCESSORS):
        processor._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_after_fork)

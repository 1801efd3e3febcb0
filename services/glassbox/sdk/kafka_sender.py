"""Delivers span batches to Kafka with kafka-python, from the exporter thread only.

One message per trace per export cycle: key = trace id, value = JSON array of
span events (split when it would exceed the message size cap). The producer is
idempotent with acks=all. Every span handed to :meth:`KafkaSender.send` ends up
counted exactly once, as delivered (acknowledged by the broker) or failed
(could not be sent, or expired unacknowledged). While no broker is reachable,
:meth:`ready` is false and the processor keeps spans in its buffer.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pydantic_core

from glassbox.common.logging import get_logger
from glassbox.common.settings import KafkaSettings, SdkSettings

log = get_logger("glassbox.sdk")

SPANS_TOPIC = "glassbox.spans"
"""Name of the spans topic (mirrors glassbox.models.topics.SPANS; the SDK avoids importing the models)."""
MAX_MESSAGE_BYTES = 900_000
"""Keep messages under Kafka's default 1 MB limit."""
_FATAL_RESET_AFTER = 3


class KafkaSender:
    def __init__(self, kafka: KafkaSettings, settings: SdkSettings, topic: str | None = None) -> None:
        self._kafka = kafka
        self._settings = settings
        self.topic = topic or f"{kafka.topic_prefix}{SPANS_TOPIC}"
        self._producer: Any = None
        self._next_attempt = 0.0
        self._backoff = 0.5
        self._lock = threading.Lock()
        self._create_lock = threading.Lock()
        self.delivered_spans = 0
        self.failed_spans = 0
        self.sent_messages = 0
        self._consecutive_fatal = 0
        self._in_flight_bytes = 0
        self._consecutive_failures = 0
        self._needs_reset = False
        self.last_error: str | None = None

    # ------------------------------------------------------------------ producer lifecycle

    def _create(self) -> Any:
        from kafka import KafkaProducer

        compression = self._settings.compression.value
        return KafkaProducer(
            bootstrap_servers=self._kafka.servers,
            acks="all",
            enable_idempotence=True,
            compression_type=None if compression == "none" else compression,
            linger_ms=self._settings.linger_ms,
            batch_size=256 * 1024,
            max_request_size=MAX_MESSAGE_BYTES + 100_000,
            max_block_ms=self._settings.max_block_ms,
            delivery_timeout_ms=self._settings.delivery_timeout_ms,
            request_timeout_ms=min(10_000, self._settings.delivery_timeout_ms - self._settings.linger_ms - 1),
            bootstrap_timeout_ms=2_000,
            reconnect_backoff_max_ms=2_000,
            metrics_enabled=False,
            **self._kafka.kafka_python_options(),
        )

    def ready(self) -> bool:
        if self._needs_reset:
            self._needs_reset = False
            log.info("sdk.kafka_producer_reset", reason=self.last_error)
            self._reset_producer()
        if self._producer is not None:
            # Bound what kafka-python holds unacknowledged; beyond it spans wait in (and drop from) our buffer.
            return self._in_flight_bytes < self._settings.buffer_memory_bytes
        now = time.monotonic()
        if now < self._next_attempt or not self._create_lock.acquire(blocking=False):
            return False
        try:
            if self._producer is not None:
                return True
            self._producer = self._create()
            self._backoff = 0.5
            log.info("sdk.kafka_connected", servers=self._kafka.bootstrap_servers, topic=self.topic)
            return True
        except Exception as exc:
            self.last_error = repr(exc)
            self._next_attempt = now + self._backoff
            self._backoff = min(self._backoff * 2, 2.0)
            log.debug("sdk.kafka_unavailable", error=repr(exc), retry_in_s=self._backoff)
            return False
        finally:
            self._create_lock.release()

    def _reset_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=0)
            except Exception:
                pass
        self._next_attempt = time.monotonic() + self._backoff

    # ------------------------------------------------------------------ sending

    def encode(self, events: list[dict[str, Any]]) -> list[tuple[bytes, int]]:
        """JSON arrays of at most MAX_MESSAGE_BYTES each, with the number of spans in each."""
        whole = pydantic_core.to_json(events)
        if len(whole) <= MAX_MESSAGE_BYTES:
            return [(whole, len(events))]
        chunks: list[tuple[bytes, int]] = []
        current: list[bytes] = []
        size = 2
        for item in (pydantic_core.to_json(e) for e in events):
            if current and size + len(item) + 1 > MAX_MESSAGE_BYTES:
                chunks.append((b"[" + b",".join(current) + b"]", len(current)))
                current, size = [], 2
            current.append(item)
            size += len(item) + 1
        if current:
            chunks.append((b"[" + b",".join(current) + b"]", len(current)))
        return chunks

    def send(self, trace_id: str, events: list[dict[str, Any]]) -> None:
        try:
            chunks = self.encode(events)
        except Exception as exc:
            self._count_failed(len(events), f"encode: {exc!r}")
            return
        key = trace_id.encode("ascii")
        for value, count in chunks:
            producer = self._producer
            if producer is None and not self.ready():
                self._count_failed(count, self.last_error or "no broker")
                continue
            producer = self._producer
            try:
                future = producer.send(self.topic, key=key, value=value)
            except Exception as exc:  # metadata timeout, buffer full, producer fenced ...
                self._count_failed(count, repr(exc))
                self._consecutive_fatal += 1
                if self._consecutive_fatal >= _FATAL_RESET_AFTER:
                    self._consecutive_fatal = 0
                    self._reset_producer()
                continue
            self.sent_messages += 1
            size = len(value)
            with self._lock:
                self._in_flight_bytes += size
            future.add_callback(self._on_delivered, count, size)
            future.add_errback(self._on_failed, count, size)

    def _on_delivered(self, count: int, size: int, _metadata: Any) -> None:
        with self._lock:
            self.delivered_spans += count
            self._in_flight_bytes -= size
            self._consecutive_fatal = 0
            self._consecutive_failures = 0

    def _on_failed(self, count: int, size: int, exc: BaseException) -> None:
        """Runs on kafka-python's I/O thread: count, and ask the exporter thread to rebuild a stuck producer.

        After a broker restart an idempotent producer can land in a fatal state (its producer id is
        unknown to the new broker) where every batch fails; a fresh producer recovers.
        """
        with self._lock:
            self._in_flight_bytes -= size
            self._consecutive_failures += 1
            if self._consecutive_failures >= _FATAL_RESET_AFTER:
                self._consecutive_failures = 0
                self._needs_reset = True
        self._count_failed(count, repr(exc))

    def _count_failed(self, count: int, error: str) -> None:
        with self._lock:
            self.failed_spans += count
            self.last_error = error

    # ------------------------------------------------------------------ control

    def flush(self, timeout: float) -> bool:
        producer = self._producer
        if producer is None:
            return True
        try:
            producer.flush(timeout=max(timeout, 0.001))
            return True
        except Exception:
            return False

    def close(self, timeout: float) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=timeout)
            except Exception:
                pass

    def stats(self) -> dict[str, int]:
        return {
            "delivered_spans": self.delivered_spans,
            "failed_spans": self.failed_spans,
            "sent_messages": self.sent_messages,
        }

    def after_fork(self) -> None:
        self._producer = None
        self._lock = threading.Lock()
        self._create_lock = threading.Lock()
        self._next_attempt = 0.0
        self._in_flight_bytes = 0

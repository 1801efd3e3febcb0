"""An in-process span destination for tests and notebooks: keeps wire events in memory.

``glassbox.init(sender=InMemorySender())`` records exactly what would have been
sent to Kafka (after capture, caps and redaction), one list entry per event.
"""

from __future__ import annotations

import threading
from typing import Any


class InMemorySender:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.batches: list[tuple[str, list[dict[str, Any]]]] = []

    @property
    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [event for _, batch in self.batches for event in batch]

    def by_name(self, name: str) -> dict[str, Any]:
        matches = [e for e in self.events if e["name"] == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} spans named {name!r}")
        return matches[0]

    def clear(self) -> None:
        with self._lock:
            self.batches.clear()

    def ready(self) -> bool:
        return True

    def send(self, trace_id: str, events: list[dict[str, Any]]) -> None:
        with self._lock:
            self.batches.append((trace_id, events))

    def flush(self, timeout: float) -> bool:
        return True

    def close(self, timeout: float) -> None:
        return None

    def stats(self) -> dict[str, int]:
        with self._lock:
            delivered = sum(len(b) for _, b in self.batches)
        return {"delivered_spans": delivered, "failed_spans": 0, "sent_messages": len(self.batches)}

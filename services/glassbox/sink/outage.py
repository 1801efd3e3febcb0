"""ClickHouse outages as the sink sees them: when to retry, what to pause, what to log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from glassbox.common.clickhouse import error_code, is_retryable
from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.sink.stats import Backoff, SinkStats

log = get_logger(__name__)
T = TypeVar("T")

MISSING_SCHEMA_CODES = frozenset({60, 81})
"""UNKNOWN_TABLE, UNKNOWN_DATABASE."""


class Outage:
    """Backoff schedule of a failing write (or offset load), with hooks to pause and resume consumption.

    The first failure calls ``on_start`` (the sink pauses every partition); each failure
    schedules the next attempt after an exponential, jittered delay capped at
    ``max_backoff_s``; :meth:`recovered` calls ``on_end``. One warning per ``log_interval_s``.
    """

    def __init__(
        self,
        stats: SinkStats,
        max_backoff_s: float,
        on_start: Callable[[], None],
        on_end: Callable[[], None],
        log_interval_s: float = 10.0,
    ) -> None:
        self._stats = stats
        self._backoff = Backoff(0.2, max_backoff_s)
        self._on_start = on_start
        self._on_end = on_end
        self._log = RateLimitedLog(log, log_interval_s)
        self.since: float | None = None
        self.retry_at = 0.0

    @property
    def active(self) -> bool:
        return self.since is not None

    def waiting(self, now: float | None = None) -> bool:
        """True while an outage is on and its next attempt is not due yet."""
        return self.since is not None and (time.monotonic() if now is None else now) < self.retry_at

    def failed(self, exc: BaseException, event: str | None = None, **fields: Any) -> None:
        """Record a failed attempt and schedule the next one (``event`` names the log line)."""
        if self.since is None:
            self.since = time.monotonic()
            self._stats.outages += 1
            self._on_start()
        self._stats.retries += 1
        delay = self._backoff.next_delay()
        self.retry_at = time.monotonic() + delay
        event = event or ("sink.clickhouse_unavailable" if is_retryable(exc) else "sink.write_failed")
        if error_code(exc) in MISSING_SCHEMA_CODES:
            fields["hint"] = "tables are missing: run `glassbox migrate`"
        self._log.warning(event, error=short_error(exc), attempt=self._backoff.attempts, retry_in_s=round(delay, 2),
                          **fields)  # fmt: skip

    def recovered(self) -> None:
        """End the outage (if any): reset the backoff and resume consumption."""
        if self.since is None:
            return
        down_s = time.monotonic() - self.since
        self.since = None
        self._backoff.reset()
        self._on_end()
        log.info("sink.clickhouse_recovered", down_s=round(down_s, 2), retries=self._stats.retries)


def short_error(exc: BaseException) -> str:
    """'Type: first line of the message', for log lines."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500]


async def retrying(
    what: str,
    attempt: Callable[[], Awaitable[T]],
    *,
    stopping: asyncio.Event,
    max_backoff_s: float,
    final: tuple[type[BaseException], ...],
    warn: RateLimitedLog,
) -> T | None:
    """Await ``attempt()`` until it succeeds (its result), or None once ``stopping`` is set.

    Errors of the ``final`` types propagate; any other is logged (rate-limited) and retried
    after an exponential, jittered delay capped at ``max_backoff_s``.
    """
    backoff = Backoff(0.2, max_backoff_s)
    while not stopping.is_set():
        try:
            return await attempt()
        except final:
            raise
        except Exception as exc:
            delay = backoff.next_delay()
            warn.warning(f"sink.{what}_unavailable", error=short_error(exc), retry_in_s=round(delay, 2))
            await sleep_unless(stopping, delay)
    return None


async def sleep_unless(stopping: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``stopping`` gets set meanwhile."""
    try:
        await asyncio.wait_for(stopping.wait(), timeout=max(0.0, seconds))
    except TimeoutError:
        pass

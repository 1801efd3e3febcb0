"""structlog, configured once per process.

Services call :func:`configure` at start-up: JSON lines with UTC ISO timestamps
on stderr, or a console renderer on a terminal. The SDK never configures
logging (it lives in somebody else's process); it only asks for a logger.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

import structlog

_configured = False


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written (not when logging was configured).

    A test runner or CLI harness may swap stderr and close its replacement; a logger bound to the
    closed stream would raise ``ValueError`` into the worker that merely wanted to log.
    """

    def write(self, text: str) -> int:
        try:
            return sys.stderr.write(text)
        except ValueError:  # closed by whoever swapped it: drop the line, never the caller
            return 0

    def flush(self) -> None:
        try:
            sys.stderr.flush()
        except ValueError:
            pass


def configure(level: str | None = None, *, json: bool | None = None) -> None:
    """Configure structlog and stdlib logging for a Glassbox service process."""
    global _configured
    level_name = (level or os.environ.get("GLASSBOX_LOG_LEVEL", "INFO")).upper()
    numeric = logging.getLevelName(level_name)
    if not isinstance(numeric, int):
        numeric = logging.INFO
    if json is None:
        json = os.environ.get("GLASSBOX_LOG_FORMAT", "").lower() == "json" or not sys.stderr.isatty()
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=_CurrentStderr()),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr, format="%(name)s %(message)s")
    _configured = True


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


class RateLimitedLog:
    """Emit at most one log line per ``interval_s`` for a recurring condition.

    Calls in between are counted and the count is reported with the next line,
    so nothing is hidden: ``suppressed=N`` says how many were folded in.
    """

    def __init__(self, logger: Any, interval_s: float) -> None:
        self._logger = logger
        self._interval = interval_s
        self._last = 0.0
        self._suppressed = 0

    def warning(self, event: str, **fields: Any) -> bool:
        now = time.monotonic()
        if now - self._last < self._interval and self._last:
            self._suppressed += 1
            return False
        self._last = now
        suppressed, self._suppressed = self._suppressed, 0
        try:
            self._logger.warning(event, suppressed=suppressed, **fields)
        except Exception:
            return False
        return True

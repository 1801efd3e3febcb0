"""Running faust workers: the assembler alone, or the whole pipeline in one process."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from glassbox.assembler.service import Assembler
from glassbox.common.faust_app import create_app
from glassbox.common.logging import get_logger
from glassbox.common.runtime import tune_gc
from glassbox.common.settings import KafkaSettings, PipelineSettings

log = get_logger("glassbox.worker")


def build_assembler_app(kafka: KafkaSettings, pipeline: PipelineSettings) -> tuple[Any, Assembler]:
    app = create_app(pipeline.assembler_group, kafka, pipeline, stream_wait_empty=False)
    assembler = Assembler(app, kafka, pipeline)
    return app, assembler


def make_worker(
    app: Any,
    services: Sequence[Any] = (),
    loglevel: str | None = None,
    before_stop: Callable[[], Awaitable[None]] | None = None,
) -> Any:
    """A faust worker for ``app`` (plus extra mode services), not started.

    ``before_stop`` runs when the signal arrives, while the app (its agents, tables and producer) is
    still running — the place to drain work before anything stops.
    """
    import faust

    class Worker(faust.Worker):
        async def _stop_on_signal(self, signal: Any) -> None:
            if before_stop is not None:
                try:
                    await before_stop()
                except Exception:
                    log.exception("worker.before_stop_failed")
            await super()._stop_on_signal(signal)

        def on_setup_root_logger(self, logger: Any, level: int) -> None:
            # faust's terminal spinner lowers the root logger to DEBUG so that every debug call spins it:
            # each message sent or received then builds a LogRecord (about 7 % of a busy worker's CPU).
            # No spinner; the root logger stays at the configured level.
            self.spinner = None

    level = (loglevel or os.environ.get("GLASSBOX_LOG_LEVEL", "warning")).lower()
    return Worker(app, *services, loglevel=level, quiet=True, redirect_stdouts=False)


def run_worker(
    app: Any,
    services: Sequence[Any] = (),
    loglevel: str | None = None,
    before_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Run a faust worker (see :func:`make_worker`) until SIGINT/SIGTERM; exits the process when done."""
    worker = make_worker(app, services, loglevel, before_stop)
    tune_gc()
    worker.execute_from_commandline()

"""Running faust workers: the assembler alone, or the whole pipeline in one process."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from glassbox.assembler.service import Assembler
from glassbox.common.faust_app import create_app
from glassbox.common.settings import KafkaSettings, PipelineSettings


def build_assembler_app(kafka: KafkaSettings, pipeline: PipelineSettings) -> tuple[Any, Assembler]:
    app = create_app(pipeline.assembler_group, kafka, pipeline)
    assembler = Assembler(app, kafka, pipeline)
    return app, assembler


def run_worker(app: Any, services: Sequence[Any] = (), loglevel: str | None = None) -> None:
    """Run a faust worker (plus extra mode services) until SIGINT/SIGTERM; exits the process when done."""
    import faust

    level = (loglevel or os.environ.get("GLASSBOX_LOG_LEVEL", "warning")).lower()
    worker = faust.Worker(app, *services, loglevel=level, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()

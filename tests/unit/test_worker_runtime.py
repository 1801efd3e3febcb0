"""The faust worker's process set-up: logging level and garbage-collector tuning."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator

import pytest

from glassbox.assembler.worker import build_assembler_app, make_worker
from glassbox.common.runtime import GC_THRESHOLDS, tune_gc
from glassbox.common.settings import KafkaSettings, PipelineSettings


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    root.setLevel(level)
    root.handlers[:] = handlers


def test_worker_keeps_the_root_logger_at_the_configured_level(restored_logging: None) -> None:
    """faust's spinner would lower the root logger to DEBUG, making every message build a LogRecord."""
    app, _ = build_assembler_app(KafkaSettings(bootstrap_servers="127.0.0.1:1"), PipelineSettings())
    worker = make_worker(app, loglevel="warning")
    worker._setup_logging()
    root = logging.getLogger()
    assert root.level == logging.WARNING
    assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
    assert worker.spinner is None


def test_tune_gc_freezes_start_up_objects_and_raises_the_young_threshold() -> None:
    before = gc.get_threshold()
    try:
        tune_gc()
        assert gc.get_threshold() == GC_THRESHOLDS
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)

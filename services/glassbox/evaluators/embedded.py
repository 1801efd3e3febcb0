"""The evaluators inside the embedded stack (`glassbox up`, `glassbox demo`): agents on the stack's faust app.

The stack calls :func:`embedded_services` with its own app; the returned service is started,
drained and stopped with the stack. The bindings file is GLASSBOX_EVAL_CONFIG or the default one.
"""

from __future__ import annotations

from typing import Any

from glassbox.common.settings import ClickHouseSettings, EvaluatorSettings, KafkaSettings, PipelineSettings, load
from glassbox.evaluators.config import load_config
from glassbox.evaluators.service import EvaluatorService


def embedded_services(
    app: Any, kafka: KafkaSettings, clickhouse: ClickHouseSettings, pipeline: PipelineSettings
) -> list[Any]:
    """The evaluator service registered on the stack's app (ClickHouse is not used: results go through Kafka)."""
    settings = load(EvaluatorSettings)
    return [EvaluatorService(app, kafka, pipeline, settings, load_config(settings.config))]

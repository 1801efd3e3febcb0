"""`glassbox evaluator`: the sampler and evaluator agents in a faust worker of their own consumer group."""

from __future__ import annotations

from typing import Any

from glassbox.common.faust_app import create_app
from glassbox.common.settings import EvaluatorSettings, KafkaSettings, PipelineSettings
from glassbox.evaluators.config import EvaluatorsConfig, load_config
from glassbox.evaluators.service import EvaluatorService


def build_evaluator_app(
    kafka: KafkaSettings,
    pipeline: PipelineSettings,
    settings: EvaluatorSettings,
    config: EvaluatorsConfig | None = None,
) -> tuple[Any, EvaluatorService]:
    """A faust app (id = the evaluator consumer group) with the evaluator service registered on it."""
    # stream_wait_empty off: on SIGTERM, requests whose judges are still out stay unacked (delivered again
    # on the next start) instead of holding the shutdown until they are acked.
    app = create_app(settings.group, kafka, pipeline, stream_wait_empty=False)
    service = EvaluatorService(app, kafka, pipeline, settings, config or load_config(settings.config))
    return app, service


def lifecycle(service: EvaluatorService) -> Any:
    """A mode service that starts the evaluator with the worker and drains it on SIGTERM."""
    import mode

    class EvaluatorLifecycle(mode.Service):
        async def on_start(self) -> None:
            await service.start()

        async def on_stop(self) -> None:
            await service.drain(grace_s=10.0)
            await service.stop()

    return EvaluatorLifecycle()


def run(kafka: KafkaSettings, pipeline: PipelineSettings, settings: EvaluatorSettings) -> None:
    """Run the evaluator worker until SIGINT/SIGTERM (blocking; exits the process when done)."""
    from glassbox.assembler.worker import run_worker

    app, service = build_evaluator_app(kafka, pipeline, settings)
    run_worker(app, [lifecycle(service)])

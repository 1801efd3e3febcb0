"""The pipeline worker: assembler, sink and (when installed) evaluators in one process.

Used by `glassbox worker` (against any Kafka and ClickHouse) and by the embedded
stack. With a chDB ClickHouse URL the process owns the data directory, so it can
also serve the read-only query endpoint other processes read through.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, cast

from glassbox.common.logging import get_logger
from glassbox.common.runtime import tune_gc
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings

log = get_logger("glassbox.pipeline")

ExtraServices = Callable[[Any, KafkaSettings, ClickHouseSettings, PipelineSettings], list[Any]]


def _service_class() -> Any:
    import mode

    class PipelineService(mode.Service):
        """Runs the sink (and extra services) beside the faust app; ``drain_all`` empties the pipeline."""

        def __init__(self, sink: Any, assembler: Any, extras: list[Any], on_ready: Callable[[], None]):
            super().__init__()
            self.sink, self.assembler, self.extras = sink, assembler, extras
            self.on_ready = on_ready
            self._task: asyncio.Task[None] | None = None

        async def on_start(self) -> None:
            self._task = asyncio.ensure_future(self.sink.run())
            for extra in self.extras:
                await extra.start()
            self.add_future(self._announce_when_ready())

        async def _announce_when_ready(self) -> None:
            await self.sink.started.wait()
            tune_gc()  # again, now that the sink's start-up objects exist too
            self.on_ready()

        async def drain_all(self) -> None:
            """Store everything before the in-memory broker goes away: in-flight traces (emitted now,
            incomplete when their root never came), their evaluations, then all the sink can read."""
            log.info("pipeline.draining")
            emitted = await _logged("assembler.flush_all", self.assembler.flush_all())
            log.info("pipeline.flushed_traces", traces=emitted)
            for extra in self.extras:  # the evaluators see the traces just flushed
                await _logged("extra.drain", extra.drain())
            drain = getattr(self.sink, "drain", None)
            if drain is not None:
                await _logged("sink.drain", drain())

        async def on_stop(self) -> None:
            for extra in self.extras:
                with contextlib.suppress(Exception):
                    await extra.stop()
            await self.sink.stop()
            if self._task is not None:
                with contextlib.suppress(Exception):
                    await self._task

    return PipelineService


async def _logged(what: str, step: Any) -> Any:
    """Await one shutdown step; a failure is logged and the shutdown goes on."""
    try:
        return await asyncio.wait_for(step, timeout=90)
    except Exception:
        log.exception("pipeline.drain_step_failed", step=what)
        return None


def run_pipeline(
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    pipeline: PipelineSettings,
    *,
    query_port: int | None = None,
    extra_services: ExtraServices | None = None,
    on_ready: Callable[[str | None], None] | None = None,
    drain: bool = False,
) -> None:
    """Migrate, then run assembler + sink (+ extras) until SIGINT/SIGTERM. Blocking."""
    from glassbox.assembler.service import Assembler
    from glassbox.assembler.worker import run_worker
    from glassbox.common.clickhouse import writer_client
    from glassbox.common.faust_app import create_app
    from glassbox.sink.consumer import Sink
    from glassbox.sink.migrations import migrate

    writer = writer_client(clickhouse)
    migrate(writer, clickhouse)
    query = None
    if query_port is not None and clickhouse.chdb_path is not None:
        from glassbox.embedded.query_server import QueryServer

        query = QueryServer(str(clickhouse.chdb_path), port=query_port).start()
    try:
        # the assembler holds events unacked while traces assemble (see glassbox.assembler.service)
        app = create_app(pipeline.assembler_group, kafka, pipeline, stream_wait_empty=False)
        assembler = Assembler(app, kafka, pipeline)
        extras = extra_services(app, kafka, clickhouse, pipeline) if extra_services else []
        if clickhouse.is_embedded:  # this process owns chDB: it stores what CLI commands send (datasets, ...)
            from glassbox.datasets.service import dataset_services

            extras += dataset_services(app, kafka, clickhouse, pipeline)
        sink = Sink(kafka, clickhouse, pipeline, client_factory=lambda: writer, collect_between_batches=True)

        def ready() -> None:
            log.info("pipeline.ready", query_url=query.url if query else None)
            if on_ready is not None:
                on_ready(query.url if query else None)

        service = _service_class()(sink, assembler, extras, ready)
        with contextlib.suppress(SystemExit):
            run_worker(app, [service], before_stop=service.drain_all if drain else None)
    finally:
        if query is not None:
            query.stop()


def default_extras() -> ExtraServices | None:
    """Evaluators join the pipeline process when their package is installed."""
    try:
        from glassbox.evaluators.embedded import embedded_services
    except ImportError:
        return None
    return cast(ExtraServices, embedded_services)

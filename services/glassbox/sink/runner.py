"""``glassbox sink``: run the sink in the foreground until SIGINT or SIGTERM, then stop gracefully."""

from __future__ import annotations

import asyncio
import signal

from glassbox.common.runtime import tune_gc
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.sink.consumer import Sink


def run_sink(
    kafka: KafkaSettings,
    clickhouse: ClickHouseSettings,
    pipeline: PipelineSettings,
    *,
    migrate: bool = True,
    query_port: int | None = None,
) -> None:
    """Blocking: apply pending migrations (unless ``migrate=False``), then consume and write until a signal.

    The first SIGINT/SIGTERM stops gracefully (flush, commit, leave the group). With a chDB URL and
    ``query_port``, this process (which owns the data directory) also serves the read-only query endpoint.
    """
    query_path = str(clickhouse.chdb_path) if query_port is not None and clickhouse.chdb_path else None
    sink = Sink(kafka, clickhouse, pipeline, migrate=migrate, collect_between_batches=True)
    asyncio.run(_main(sink, query_path, query_port))


async def _main(sink: Sink, query_path: str | None = None, query_port: int | None = None) -> None:
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stopping.append(loop.create_task(sink.stop())) if not stopping else None)
    task = asyncio.create_task(sink.run())
    started = asyncio.create_task(sink.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    query = None
    if query_path is not None and sink.started.is_set():
        from glassbox.embedded.query_server import QueryServer

        query = QueryServer(query_path, port=query_port or 0).start()
    tune_gc()  # this process is the sink's alone
    try:
        await task
    finally:
        if query is not None:
            query.stop()

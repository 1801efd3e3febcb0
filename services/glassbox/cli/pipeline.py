"""Production services: `glassbox topics`, `migrate`, `assembler`, `sink`, `worker`."""

from __future__ import annotations

import typer

from glassbox.common.logging import configure
from glassbox.common.settings import KafkaSettings, PipelineSettings, load


def register(app: typer.Typer) -> None:
    @app.command("topics")
    def topics() -> None:
        """Create the registry's Kafka topics with their partition counts (idempotent)."""
        from glassbox.common.kafka import ensure_topics

        configure()
        for state in ensure_topics(load(KafkaSettings), load(PipelineSettings)):
            typer.echo(f"{state.name}: {state.partitions} partitions ({'created' if state.created else 'exists'})")

    @app.command("assembler")
    def assembler() -> None:
        """Run the trace assembler (a faust worker): spans → assembled traces, invalid input → dead letters."""
        from glassbox.assembler.worker import build_assembler_app, run_worker

        configure()
        app_, _ = build_assembler_app(load(KafkaSettings), load(PipelineSettings))
        run_worker(app_)

    @app.command("worker")
    def worker(
        query_port: int | None = typer.Option(
            None, help="With a chdb:// ClickHouse URL: serve the read-only query endpoint on this loopback port."
        ),
        evaluators: bool = typer.Option(True, "--evaluators/--no-evaluators", help="Run the evaluators here too."),
    ) -> None:
        """Run the whole pipeline in one process: assembler, sink and evaluators (when installed)."""
        from glassbox.common.settings import ClickHouseSettings
        from glassbox.pipeline import default_extras, run_pipeline

        configure()
        run_pipeline(
            load(KafkaSettings),
            load(ClickHouseSettings),
            load(PipelineSettings),
            query_port=query_port,
            extra_services=default_extras() if evaluators else None,
        )

    @app.command("sink")
    def sink(
        query_port: int | None = typer.Option(
            None, help="With a chdb:// ClickHouse URL: serve the read-only query endpoint on this loopback port."
        ),
    ) -> None:
        """Run the sink: spans, traces, evaluation results and dead letters → ClickHouse (migrates first)."""
        from glassbox.common.settings import ClickHouseSettings
        from glassbox.sink.runner import run_sink

        configure()
        run_sink(load(KafkaSettings), load(ClickHouseSettings), load(PipelineSettings), query_port=query_port)

    @app.command("migrate")
    def migrate() -> None:
        """Apply pending ClickHouse migrations (idempotent) and print what was applied."""
        from glassbox.common.clickhouse import writer_client
        from glassbox.common.settings import ClickHouseSettings
        from glassbox.sink.migrations import migrate as apply

        configure()
        settings = load(ClickHouseSettings)
        applied = apply(writer_client(settings), settings)
        for name in applied:
            typer.echo(f"applied {name}")
        typer.echo(f"{len(applied)} migration(s) applied; database {settings.database} is up to date")

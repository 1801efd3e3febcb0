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

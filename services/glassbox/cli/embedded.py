"""`glassbox up`, `glassbox down`, `glassbox demo`: the embedded default on one machine."""

from __future__ import annotations

from pathlib import Path

import typer

from glassbox.common.settings import EmbeddedSettings, load


def register(app: typer.Typer) -> None:
    @app.command("up")
    def up(
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Where data lives (default .glassbox)."),
        kafka_port: int | None = typer.Option(None, help="Loopback port for Kafka (default: a free one)."),
        query_port: int | None = typer.Option(None, help="Loopback port of the read-only query endpoint."),
    ) -> None:
        """Run the whole pipeline on this machine: broker, assembler, sink, evaluators, ClickHouse, query endpoint."""
        from glassbox.common.logging import configure
        from glassbox.embedded.runtime import start_foreground

        configure()
        settings = load(EmbeddedSettings)
        start_foreground(
            data_dir or settings.data_dir,
            kafka_port=settings.kafka_port if kafka_port is None else kafka_port,
            query_port=settings.query_port if query_port is None else query_port,
        )

    @app.command("down")
    def down(data_dir: Path | None = typer.Option(None, "--data-dir")) -> None:
        """Stop the stack running on the data directory (it drains first)."""
        from glassbox.embedded.stack import stop_stack

        directory = data_dir or load(EmbeddedSettings).data_dir
        info = stop_stack(directory)
        typer.echo(f"stopped ({info.describe()})" if info else f"no stack is running on {directory}")

    @app.command("status")
    def status(data_dir: Path | None = typer.Option(None, "--data-dir")) -> None:
        """Say whether a stack is running on the data directory, and where its ports are."""
        from glassbox.embedded.stack import running_stack

        directory = data_dir or load(EmbeddedSettings).data_dir
        info = running_stack(directory)
        if info is None:
            typer.echo(f"no stack is running on {directory}")
            raise typer.Exit(1)
        typer.echo(f"running: {info.describe()}")

"""`glassbox dashboards generate` (the Grafana dashboards under deploy/grafana/dashboards) and `glassbox health`."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Grafana dashboards as code.")

    @group.command("generate")
    def generate(
        out: Path | None = typer.Option(None, "--out", help="Directory (default deploy/grafana/dashboards)."),
        check: bool = typer.Option(False, "--check", help="Fail when a checked-in dashboard is out of date."),
        datasource_uid: str = typer.Option("glassbox-clickhouse", help="Uid of the ClickHouse data source."),
        database: str = typer.Option("glassbox", help="Database of the trace view links."),
    ) -> None:
        """Generate overview, quality, agents-rag and pipeline-health dashboards from their Python definitions."""
        from glassbox.dashboards.generate import default_dir, stale, write

        directory = out or default_dir()
        if check:
            outdated = stale(directory)
            if outdated:
                typer.echo(f"out of date in {directory}: {', '.join(outdated)}; run `glassbox dashboards generate`",
                           err=True)  # fmt: skip
                raise typer.Exit(1)
            typer.echo(f"dashboards in {directory} are up to date")
            return
        written = write(directory, datasource_uid, database)
        for path in written:
            typer.echo(f"wrote {path}")
        typer.echo(f"{len(written)} dashboard(s) changed in {directory}")

    app.add_typer(group, name="dashboards")
    register_health(app)


def register_health(app: typer.Typer) -> None:
    @app.command("health")
    def health(
        stage: str = typer.Option(..., help="Stage that must have reported: assembler, sink, evaluator."),
        within: float = typer.Option(60.0, help="Seconds: the latest report must be this recent."),
        this_host: bool = typer.Option(False, "--this-host", help="Only count processes of this host (container)."),
    ) -> None:
        """Exit 0 when the stage reported its figures to pipeline_metrics recently (a container health check)."""
        import socket

        from glassbox.common.reader import open_reader

        try:
            client, _ = open_reader()
            result = client.query(
                "SELECT count(), max(Timestamp) FROM pipeline_metrics WHERE Stage = {stage:String} "
                "AND Timestamp > now64(3) - toIntervalMillisecond({ms:UInt64}) "
                "AND ({any:UInt8} OR startsWith(Instance, {host:String}))",
                parameters={"stage": stage, "ms": int(within * 1000), "any": int(not this_host),
                            "host": f"{socket.gethostname()}-"},
            )  # fmt: skip
        except Exception as exc:  # any failure to read means unhealthy
            typer.echo(f"unhealthy: cannot read pipeline_metrics: {exc}", err=True)
            raise typer.Exit(1) from None
        rows, latest = result.result_rows[0]
        if not rows:
            typer.echo(f"unhealthy: no report from {stage} in the last {within:g} s", err=True)
            raise typer.Exit(1)
        typer.echo(f"healthy: {stage} reported at {latest}")

"""`glassbox alerts check|sync|export|validate|metrics`: threshold alerts as code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

CONFIG_OPTION = typer.Option(
    None, "--config", "-c", help="Alerts file (default GLASSBOX_ALERTS_CONFIG or the shipped rules)."
)


def _load(config: Path | None) -> Any:
    from glassbox.alerts.config import AlertsConfigError, load_alerts
    from glassbox.common.settings import AlertSettings, load

    try:
        return load_alerts(config or load(AlertSettings).config)
    except AlertsConfigError as exc:
        typer.echo(f"glassbox: {exc}", err=True)
        raise typer.Exit(2) from None


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Threshold alerts: check them against ClickHouse, sync them to Grafana.")

    @group.command("check")
    def check(
        config: Path | None = CONFIG_OPTION,
        rule: list[str] = typer.Option([], "--rule", "-r", help="Check only this rule (repeatable)."),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="Embedded data directory (default .glassbox)."),
    ) -> None:
        """Evaluate every rule against ClickHouse now; exit 1 when one fires (a deploy gate), naming it and why."""
        from glassbox.alerts.check import evaluate
        from glassbox.common.clickhouse import ClickHouseUnavailableError
        from glassbox.common.reader import NoDataError, open_reader

        alerts = _load(config)
        unknown = set(rule) - {r.name for r in alerts.rules}
        if unknown:
            typer.echo(f"glassbox: no rule named {', '.join(sorted(unknown))}", err=True)
            raise typer.Exit(2)
        try:
            client, where = open_reader(data_dir)
        except (NoDataError, ClickHouseUnavailableError) as exc:
            typer.echo(f"glassbox: {exc}", err=True)
            raise typer.Exit(2) from None
        outcomes = evaluate(client, alerts, only=set(rule) or None)
        for outcome in outcomes:
            typer.echo(outcome.describe())
        firing = [o for o in outcomes if o.firing]
        rules = sorted({o.rule.name for o in firing})
        typer.echo(f"{len(firing)} firing ({', '.join(rules) or 'none'}) of {len(outcomes)} checked, data: {where}")
        if firing:
            raise typer.Exit(1)

    @group.command("sync")
    def sync(
        config: Path | None = CONFIG_OPTION,
        dry_run: bool = typer.Option(False, "--dry-run", help="Show what would change; write nothing."),
    ) -> None:
        """Create or update the rules (and folder, contact points, policy) in Grafana; delete removed ones."""
        from grafana_client.client import GrafanaException

        from glassbox.alerts.sync import connect
        from glassbox.alerts.sync import sync as run
        from glassbox.common.settings import GrafanaSettings, load

        alerts = _load(config)
        settings = load(GrafanaSettings)
        try:
            plan = run(connect(settings), alerts, settings, dry_run=dry_run)
        except GrafanaException as exc:
            typer.echo(f"glassbox: Grafana at {settings.url} refused: {exc}", err=True)
            raise typer.Exit(1) from None
        typer.echo(plan.describe())
        typer.echo("dry run: nothing written" if dry_run else f"synced {len(plan.writes)} change(s) to {settings.url}")

    @group.command("export")
    def export(
        config: Path | None = CONFIG_OPTION,
        out: Path | None = typer.Option(
            None, "--out", help="File to write (default deploy/grafana/provisioning/alerting/)."
        ),
        check: bool = typer.Option(False, "--check", help="Fail when the file is out of date instead of writing it."),
    ) -> None:
        """Write the rules as a Grafana alerting provisioning file (for Grafanas provisioned from files)."""
        from glassbox.alerts.provisioning import default_path, render
        from glassbox.common.settings import GrafanaSettings, load

        text = render(_load(config), load(GrafanaSettings))
        path = out or default_path()
        if check:
            if not path.exists() or path.read_text() != text:
                typer.echo(f"{path} is out of date: run `glassbox alerts export`", err=True)
                raise typer.Exit(1)
            typer.echo(f"{path} is up to date")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        typer.echo(f"wrote {path}")

    @group.command("validate")
    def validate(
        config: Path | None = CONFIG_OPTION, sql: bool = typer.Option(False, "--sql", help="Print each query.")
    ) -> None:
        """Validate the alerts file (exit 2 naming each bad field) and list its rules."""
        from glassbox.alerts.compile import rule_sql

        alerts = _load(config)
        for rule in alerts.rules:
            group_by = f" per {', '.join(rule.group_by)}" if rule.group_by else ""
            typer.echo(f"{rule.name}: {rule.metric} {rule.op} {rule.threshold:g} over {rule.window}{group_by}")
            if sql:
                typer.echo("  " + rule_sql(rule).replace("\n", "\n  "))
        typer.echo(f"{len(alerts.rules)} rule(s) valid")

    @group.command("metrics")
    def metrics() -> None:
        """List the metrics a rule can watch, with their dimensions."""
        from glassbox.alerts.metrics import METRICS

        for metric in METRICS.values():
            extra = {"required": " (evaluator: required)", "optional": " (evaluator: optional)"}.get(
                metric.evaluator_param, ""
            )
            quantile = " (quantile)" if metric.quantile else ""
            typer.echo(
                f"{metric.name}: {metric.description}{extra}{quantile}; dimensions: {', '.join(metric.dimensions)}"
            )

    app.add_typer(group, name="alerts")

"""`glassbox evaluator`, `glassbox evaluators check [FILE]`, `glassbox evaluate TRACE_ID`: the evaluators."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import typer

DATA_DIR_OPTION = typer.Option(None, "--data-dir", help="Embedded data directory (default GLASSBOX_EMBEDDED_DATA_DIR).")


def _config(file: Path | None) -> Any:
    from glassbox.common.settings import EvaluatorSettings, load
    from glassbox.evaluators.config import ConfigFileError, load_config

    try:
        return load_config(file or load(EvaluatorSettings).config)
    except ConfigFileError as exc:
        typer.echo(f"glassbox: {exc}", err=True)
        raise typer.Exit(2) from None


def _print_config(config: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    from glassbox.evaluators.registry import BUILTIN_TYPES, spec_for

    table = Table(title="bindings", header_style="bold", title_justify="left")
    for column in ("binding", "match", "sample", "on error", "delay", "evaluators"):
        table.add_column(column, overflow="fold")
    for b in config.bindings:
        match = ", ".join(f"{k}={v}" for k, v in b.match.model_dump(exclude_none=True).items()) or "every trace"
        table.add_row(
            b.name,
            match,
            f"{b.sample_rate:g}",
            "yes" if b.always_on_error else "no",
            f"{b.delay_s:g}s",
            ", ".join(b.evaluators),
        )
    evaluators = Table(title="evaluators", header_style="bold", title_justify="left")
    for column in ("name", "type", "failure category", "limits"):
        evaluators.add_column(column, overflow="fold")
    names = dict.fromkeys([*config.evaluators, *(n for b in config.bindings for n in b.evaluators)])
    for name in names:
        spec = spec_for(config, name)
        cls = BUILTIN_TYPES.get(spec.type) if spec else None
        category = spec.failure_category if spec and spec.failure_category else (cls.category if cls else "(custom)")
        limits = [
            f"{spec.rate_limit_per_min}/min" if spec and spec.rate_limit_per_min else "",
            f"${spec.budget_usd_per_hour:g}/h" if spec and spec.budget_usd_per_hour is not None else "",
            f"${spec.budget_usd_per_day:g}/day" if spec and spec.budget_usd_per_day is not None else "",
        ]
        evaluators.add_row(name, spec.type if spec else "?", str(category), " ".join(x for x in limits if x))
    console = Console()
    console.print(table)
    console.print(evaluators)


def register(app: typer.Typer) -> None:
    @app.command("evaluator")
    def evaluator() -> None:
        """Run the evaluator worker (faust): sample traces into evaluation requests, evaluate them, publish results."""
        from glassbox.common.logging import configure
        from glassbox.common.settings import EvaluatorSettings, KafkaSettings, PipelineSettings, load
        from glassbox.evaluators.worker import run

        configure()
        settings = load(EvaluatorSettings)
        _config(settings.config)
        run(load(KafkaSettings), load(PipelineSettings), settings)

    group = typer.Typer(help="Evaluator bindings: which evaluators run on which traces.")

    @group.command("check")
    def check(
        file: Path | None = typer.Argument(
            None, help="Bindings file (default GLASSBOX_EVAL_CONFIG or the built-in one)."
        ),
    ) -> None:
        """Validate a bindings file and print its bindings and evaluators (exit 2 naming the bad field)."""
        from glassbox.common.settings import EvaluatorSettings
        from glassbox.evaluators.build import build_runner
        from glassbox.evaluators.config import ConfigFileError

        config = _config(file)
        try:
            build_runner(config, EvaluatorSettings())
        except ConfigFileError as exc:
            typer.echo(f"glassbox: {exc}", err=True)
            raise typer.Exit(2) from None
        _print_config(config)
        typer.echo(f"ok: {len(config.bindings)} binding(s)")

    app.add_typer(group, name="evaluators")

    @app.command("evaluate")
    def evaluate(
        trace_id: str = typer.Argument(..., help="Trace id (or a unique prefix)."),
        evaluator: list[str] = typer.Option(
            [], "--evaluator", "-e", help="Run only these (default: every bound one whose binding matches)."
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Print the results without publishing them."),
        config_file: Path | None = typer.Option(None, "--config", help="Bindings file."),
        fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Run the configured evaluators on a stored trace, print the results and publish them (unless --dry-run)."""
        from glassbox.cli.inspect import _database, _reader
        from glassbox.cli.queries import resolve_trace_id_sql
        from glassbox.evaluators.stored import load_baseline, load_trace

        config = _config(config_file)
        client, _ = _reader(data_dir)
        db = _database()
        matches = [r[0] for r in client.query(resolve_trace_id_sql(db), parameters={"prefix": trace_id}).result_rows]
        if len(matches) != 1:
            typer.echo(f"glassbox: {'no' if not matches else 'several'} stored trace(s) match {trace_id!r}", err=True)
            raise typer.Exit(1)
        trace = load_trace(client, db, matches[0])
        if trace is None:
            typer.echo(f"glassbox: trace {matches[0]} has no stored spans", err=True)
            raise typer.Exit(1)
        names = list(evaluator) or _bound(config, trace)
        if not names:
            typer.echo("no binding matches this trace; name evaluators with --evaluator")
            raise typer.Exit(0)
        baseline = load_baseline(client, db, trace, config.baselines.window_s)
        results = asyncio.run(_run(config, trace, names, baseline))
        _print_results(results, fmt)
        if not dry_run:
            typer.echo(f"published {_publish(results, data_dir)} result(s)", err=fmt == "json")


def _bound(config: Any, trace: Any) -> list[str]:
    from glassbox.evaluators.sampler import CompiledMatch

    names: dict[str, None] = {}
    for binding in config.bindings:
        if CompiledMatch(binding.match)(trace):
            names.update(dict.fromkeys(binding.evaluators))
    return list(names)


async def _run(config: Any, trace: Any, names: list[str], baseline: Any) -> list[Any]:
    from glassbox.common.settings import EvaluatorSettings, load
    from glassbox.evaluators.build import build_runner

    runner, _ = build_runner(config, load(EvaluatorSettings))
    return await runner.evaluate(trace, names, baseline)


def _print_results(results: list[Any], fmt: str) -> None:
    from glassbox.cli.inspect import emit_rows

    columns = ["evaluator", "status", "category", "score", "span", "reason"]
    rows = [
        (
            r.evaluator,
            r.status.value,
            r.failure_category.value if r.failure_category else "",
            r.score,
            r.span_id or "",
            r.reason[:160],
        )
        for r in results
    ]
    emit_rows(columns, rows, fmt, title=f"trace {results[0].trace_id}" if results else None)


def _publish(results: list[Any], data_dir: Path | None) -> int:
    """Send results to the results topic (the running embedded stack's broker, else GLASSBOX_KAFKA_*)."""
    from kafka import KafkaProducer

    from glassbox.common.settings import EmbeddedSettings, KafkaSettings, load
    from glassbox.embedded.stack import running_stack
    from glassbox.models.topics import EVALUATION_RESULTS

    kafka = load(KafkaSettings)
    info = running_stack(data_dir or load(EmbeddedSettings).data_dir)
    servers = [info.kafka] if info is not None and info.kafka != "?" else kafka.servers
    producer = KafkaProducer(bootstrap_servers=servers, acks="all", **kafka.kafka_python_options())
    try:
        for result in results:
            producer.send(
                EVALUATION_RESULTS.full_name(kafka.topic_prefix),
                key=result.trace_id.encode(),
                value=result.model_dump_json(exclude_none=True).encode(),
            )
        producer.flush(30)
    finally:
        producer.close(5)
    return len(results)

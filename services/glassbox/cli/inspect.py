"""`glassbox traces`, `glassbox trace ID`, `glassbox query "SQL"`: looking at stored data (read-only)."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from glassbox.cli import queries

DATA_DIR_OPTION = typer.Option(None, "--data-dir", help="Embedded data directory (default GLASSBOX_EMBEDDED_DATA_DIR).")


def _reader(data_dir: Path | None) -> tuple[Any, str]:
    from glassbox.common.clickhouse import ClickHouseUnavailableError
    from glassbox.common.reader import NoDataError, open_reader

    try:
        return open_reader(data_dir)
    except (NoDataError, ClickHouseUnavailableError) as exc:
        typer.echo(f"glassbox: {exc}", err=True)
        raise typer.Exit(2) from None


def _database() -> str:
    from glassbox.common.settings import ClickHouseSettings, load

    return load(ClickHouseSettings).database


def _fail_query(exc: Exception) -> None:
    code = getattr(exc, "code", None)
    text = str(exc)
    if code == 164 or "READONLY" in text or "readonly mode" in text:
        typer.echo("glassbox query is read-only: writes, DDL and setting changes are refused.", err=True)
    else:
        typer.echo(f"glassbox: query failed: {text.strip().splitlines()[0][:500]}", err=True)
    raise typer.Exit(1)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def emit_rows(columns: list[str], rows: list[tuple[Any, ...]], fmt: str, title: str | None = None) -> None:
    """Print rows as a table, CSV or JSON lines."""
    if fmt == "json":
        for row in rows:
            sys.stdout.write(json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_cell(v) for v in row] for row in rows])
        sys.stdout.write(buffer.getvalue())
        return
    table = Table(title=title, header_style="bold", title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    Console().print(table)


TABLE_COLUMNS = ("trace_id", "start", "name", "service", "duration_ms", "spans", "llm_calls", "tokens", "cost_usd",
                 "errors", "user_id", "categories")  # fmt: skip


def compact_traces(columns: list[str], rows: list[tuple[Any, ...]]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The columns that fit a terminal, with short ids and times (CSV and JSON keep everything)."""
    index = {name: i for i, name in enumerate(columns)}
    out = []
    for row in rows:
        values = []
        for name in TABLE_COLUMNS:
            value = row[index[name]]
            if name == "trace_id":
                value = str(value)[:12]
            elif name == "start" and isinstance(value, datetime):
                value = value.strftime("%m-%d %H:%M:%S")
            elif name == "duration_ms":
                value = f"{float(value):.0f}"
            elif name == "cost_usd":
                value = f"{float(value):.5f}"
            elif name == "categories":
                value = ", ".join(value or ())
            values.append(value)
        out.append(tuple(values))
    return [c.replace("_ms", " ms").replace("_usd", " $").replace("llm_calls", "llm") for c in TABLE_COLUMNS], out


def register(app: typer.Typer) -> None:
    @app.command("query")
    def query(
        sql: str = typer.Argument(..., help="A SELECT (or SHOW/DESCRIBE/EXPLAIN) statement."),
        fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json (one object per line)."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Run a read-only SQL query against the stored spans, traces, evaluations and dead letters."""
        if fmt not in ("table", "csv", "json"):
            raise typer.BadParameter("--format must be table, csv or json")
        client, _ = _reader(data_dir)
        try:
            result = client.query(sql)
        except Exception as exc:
            _fail_query(exc)
            return
        emit_rows(list(result.column_names), list(result.result_rows), fmt)

    @app.command("traces")
    def traces(
        since: str = typer.Option("24h", help="Time window: 30m, 24h, 7d or all."),
        service: str | None = typer.Option(None, help="Only this service."),
        status: str | None = typer.Option(None, help="ok, error, complete or incomplete."),
        category: str | None = typer.Option(None, help=f"Failure category: {', '.join(queries.CATEGORIES)}."),
        failing: bool = typer.Option(False, "--failing", help="Only traces with an error or a failed evaluation."),
        user: str | None = typer.Option(None, help="Only this user id."),
        session: str | None = typer.Option(None, help="Only this session id."),
        model: str | None = typer.Option(None, help="Only traces that called this model."),
        name: str | None = typer.Option(None, help="Only traces whose root span has this name."),
        sort: str = typer.Option("time", help=f"Order: {', '.join(queries.SORTS)}."),
        limit: int = typer.Option(20, min=1, max=10_000),
        fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """List recent traces with latency, tokens, cost, errors and failure categories."""
        try:
            flt = queries.TraceFilter(
                since_s=queries.parse_since(since),
                service=service,
                status=status,
                category=category,
                failing=failing,
                user=user,
                session=session,
                model=model,
                name=name,
                sort=sort,
                limit=limit,
            )
            sql, params = queries.traces_sql(_database(), flt)
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        client, where = _reader(data_dir)
        try:
            result = client.query(sql, parameters=params)
        except Exception as exc:
            _fail_query(exc)
            return
        rows = list(result.result_rows)
        columns = list(result.column_names)
        if fmt == "table":
            columns, rows = compact_traces(columns, rows)
        emit_rows(columns, rows, fmt, title=f"{len(rows)} trace(s) from {where}")

    @app.command("trace")
    def trace(
        trace_id: str = typer.Argument(..., help="Trace id (a unique prefix is enough)."),
        fmt: str = typer.Option("waterfall", "--format", "-f", help="waterfall or json."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Show one trace as a waterfall: span tree, timing bars, tokens, cost, errors, documents, tool calls."""
        from glassbox.cli.waterfall import render_trace

        db = _database()
        trace_id = trace_id.strip().lower()
        client, _ = _reader(data_dir)
        try:
            if len(trace_id) < 32:
                ids = [
                    r[0]
                    for r in client.query(queries.resolve_trace_id_sql(db), parameters={"prefix": trace_id}).result_rows
                ]
                if len(ids) != 1:
                    typer.echo(
                        f"glassbox: {len(ids)} traces match {trace_id!r}{': ' + ', '.join(ids) if ids else ''}",
                        err=True,
                    )
                    raise typer.Exit(1)
                trace_id = ids[0]
            params = {"trace_id": trace_id}
            head = client.query(queries.trace_sql(db), parameters=params)
            spans = client.query(queries.spans_sql(db), parameters=params)
            evals = client.query(queries.evaluations_sql(db), parameters=params)
        except typer.Exit:
            raise
        except Exception as exc:
            _fail_query(exc)
            return
        span_rows = [dict(zip(spans.column_names, r, strict=True)) for r in spans.result_rows]
        if not head.result_rows:
            if span_rows:
                typer.echo(
                    f"trace {trace_id} is still being assembled ({len(span_rows)} spans stored so far)", err=True
                )
            else:
                typer.echo(f"glassbox: no trace {trace_id}", err=True)
            raise typer.Exit(1)
        trace_row = dict(zip(head.column_names, head.result_rows[0], strict=True))
        eval_rows = [dict(zip(evals.column_names, r, strict=True)) for r in evals.result_rows]
        if fmt == "json":
            doc = {"trace": trace_row, "spans": span_rows, "evaluations": eval_rows}
            sys.stdout.write(json.dumps(doc, default=str, ensure_ascii=False, indent=2) + "\n")
            return
        Console().print(render_trace(trace_row, span_rows, eval_rows))

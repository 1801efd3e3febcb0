"""`glassbox dataset ...`: golden datasets built from traces, queries and JSONL files (and the other
debugging-loop commands: `prompt`, `experiment`, `replay`, registered from here).

Exit codes: 0 done, 2 bad input or nothing found (the message says which).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from glassbox.datasets.backend import Backend

DATA_DIR_OPTION = typer.Option(None, "--data-dir", help="Embedded data directory (default GLASSBOX_EMBEDDED_DATA_DIR).")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"glassbox: {message}", err=True)
    return typer.Exit(code)


@contextmanager
def storage(data_dir: Path | None, *, write: bool = False) -> Iterator[Backend]:
    """Open the backend (see glassbox.datasets.backend); storage and lookup errors exit 2 with their message."""
    from glassbox.common.clickhouse import ClickHouseUnavailableError
    from glassbox.common.logging import configure
    from glassbox.common.reader import NoDataError
    from glassbox.datasets.backend import BackendError, open_backend

    configure(os.environ.get("GLASSBOX_LOG_LEVEL", "WARNING"))
    try:
        backend = open_backend(data_dir, write=write)
    except (BackendError, NoDataError, ClickHouseUnavailableError) as exc:
        raise fail(str(exc)) from None
    try:
        yield backend
    except (LookupError, ValueError, BackendError) as exc:
        raise fail(str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)) from None
    finally:
        backend.close()


def _print_items(name: str, version: int, items: list[Any], limit: int) -> None:
    from glassbox.datasets.report import short
    from glassbox.datasets.terminal import table

    rows = [[i.item_id, short(i.input, 70), short(i.context, 50) if i.context is not None else "—",
             short(i.expected, 60) if i.expected is not None else "—", ", ".join(i.tags), i.source_trace_id[:16]]
            for i in items[:limit]]  # fmt: skip
    title = f"{name}@{version}: {len(items)} item(s)" + (f" (first {limit})" if len(items) > limit else "")
    Console().print(table(title, ["item", "input", "context", "expected", "tags", "source trace"], rows))


def _version_items(ref: str, data_dir: Path | None) -> tuple[str, Any, list[Any]]:
    """NAME or NAME@VERSION → the dataset name, its resolved version and that version's items."""
    from glassbox.datasets.models import split_ref
    from glassbox.datasets.store import DatasetStore

    with storage(data_dir) as backend:
        name, number = split_ref(ref, "dataset")
        store = DatasetStore(backend)
        version = store.resolve(name, number)
        return name, version, store.items(name, version.version)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Golden datasets: failing cases from traces, queries and JSONL files, in versions.",
                        no_args_is_help=True)  # fmt: skip

    @group.command("list")
    def list_(data_dir: Path | None = DATA_DIR_OPTION) -> None:
        """List datasets with their latest version and item count."""
        from glassbox.datasets.store import DatasetStore
        from glassbox.datasets.terminal import table

        with storage(data_dir) as backend:
            rows = [
                [v.dataset, str(v.version), str(v.item_count), v.note[:80]] for v in DatasetStore(backend).datasets()
            ]
        Console().print(table(f"{len(rows)} dataset(s)", ["dataset", "latest version", "items", "last change"], rows))

    @group.command("versions")
    def versions(name: str = typer.Argument(...), data_dir: Path | None = DATA_DIR_OPTION) -> None:
        """List the versions of a dataset and what changed in each."""
        from glassbox.datasets.store import DatasetStore
        from glassbox.datasets.terminal import table

        with storage(data_dir) as backend:
            found = DatasetStore(backend).versions(name)
        if not found:
            raise fail(f"no dataset {name!r}")
        rows = [[str(v.version), str(v.parent_version or "—"), str(v.item_count), v.note] for v in found]
        Console().print(table(name, ["version", "from", "items", "change"], rows))

    @group.command("show")
    def show(
        ref: str = typer.Argument(..., help="NAME or NAME@VERSION (default: the latest version)."),
        fmt: str = typer.Option("table", "--format", "-f", help="table or json (one item per line)."),
        limit: int = typer.Option(50, min=1, help="Items shown in the table."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Show the items of a dataset version."""
        from glassbox.datasets.jsonl import write_items

        name, version, items = _version_items(ref, data_dir)
        if fmt == "json":
            write_items(sys.stdout, items, name, version.version)
        else:
            _print_items(name, version.version, items, limit)

    @group.command("add")
    def add(
        name: str = typer.Argument(..., help="Dataset name (created when new)."),
        trace: list[str] = typer.Option([], "--trace", "-t", help="Trace id or unique prefix (repeatable)."),
        query: str | None = typer.Option(None, "--query", "-q", help="Read-only SQL returning trace ids."),
        no_expected: bool = typer.Option(False, "--no-expected", help="Leave the expected output empty."),
        expected: str | None = typer.Option(None, "--expected", help="The right output (JSON or text)."),
        tag: list[str] = typer.Option([], "--tag", help="Tag for the new items (repeatable)."),
        note: str = typer.Option("", "--note", help="What this change is (shown by `dataset versions`)."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Add failing cases from stored traces: root input, retrieved documents as context, the output as
        expected (or none with --no-expected, or --expected). Makes a new dataset version."""
        from glassbox.datasets.from_traces import load_items, trace_ids_from_query
        from glassbox.datasets.store import DatasetStore

        if not trace and not query:
            raise fail("give --trace ID (repeatable) and/or --query SQL")
        with storage(data_dir, write=True) as backend:
            ids = list(trace) + (trace_ids_from_query(backend, query) if query else [])
            if not ids:
                raise fail("the query returned no trace ids; nothing added", 1)
            wanted = _parse_value(expected) if expected is not None else None
            items = load_items(backend, ids, keep_expected=not no_expected, expected=wanted, tags=list(tag))
            text = (
                note or f"added {len(items)} item(s) from trace(s) {', '.join(i.source_trace_id[:12] for i in items)}"
            )
            version, added, replaced = DatasetStore(backend).add(name, items, text)
        typer.echo(f"{name}@{version.version}: {added} added, {replaced} replaced, {version.item_count} item(s)")

    @group.command("import")
    def import_(
        name: str = typer.Argument(...),
        file: Path = typer.Argument(..., help="JSONL file ('-' for stdin), one item per line."),
        tag: list[str] = typer.Option([], "--tag", help="Tag added to every imported item."),
        note: str = typer.Option("", "--note"),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Import items from JSON lines (the format `dataset export` writes). Makes a new dataset version."""
        from glassbox.datasets.jsonl import JsonlError, read_items
        from glassbox.datasets.store import DatasetStore

        try:
            lines = sys.stdin.readlines() if str(file) == "-" else file.read_text(encoding="utf-8").splitlines()
            items = read_items(lines, str(file))
        except (OSError, JsonlError) as exc:
            raise fail(str(exc)) from None
        if tag:
            items = [i.model_copy(update={"tags": list(dict.fromkeys([*i.tags, *tag]))}) for i in items]
        with storage(data_dir, write=True) as backend:
            version, added, replaced = DatasetStore(backend).add(name, items, note or f"imported {file.name}")
        typer.echo(f"{name}@{version.version}: {added} added, {replaced} replaced, {version.item_count} item(s)")

    @group.command("export")
    def export(
        ref: str = typer.Argument(..., help="NAME or NAME@VERSION."),
        output: Path | None = typer.Option(None, "--output", "-o", help="File to write (default stdout)."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Export a dataset version as JSON lines."""
        from glassbox.datasets.jsonl import write_items

        name, version, items = _version_items(ref, data_dir)
        if output is None:
            write_items(sys.stdout, items, name, version.version)
            return
        with output.open("w", encoding="utf-8") as handle:
            count = write_items(handle, items, name, version.version)
        typer.echo(f"wrote {count} item(s) of {name}@{version.version} to {output}", err=True)

    @group.command("remove")
    def remove(
        name: str = typer.Argument(...),
        item_ids: list[str] = typer.Argument(..., help="Item ids to remove."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Remove items (a new version without them; earlier versions keep them)."""
        from glassbox.datasets.store import DatasetStore

        with storage(data_dir, write=True) as backend:
            version, removed = DatasetStore(backend).remove(name, item_ids)
        typer.echo(f"{name}@{version.version}: {removed} removed, {version.item_count} item(s)")

    app.add_typer(group, name="dataset")
    from glassbox.cli import experiments, prompts, replay

    prompts.register(app)
    experiments.register(app)
    replay.register(app)


def _parse_value(text: str) -> Any:
    """JSON when the text is JSON, else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text

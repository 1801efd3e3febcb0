"""Where datasets, prompts and experiments are read from and written to.

Three situations, decided from the settings and the data directory:

- **server** — ``GLASSBOX_CLICKHOUSE_URL=http(s)://...``: reads and writes go straight to the
  ClickHouse server (the tables come from ``glassbox migrate``). The traces of experiments and
  replays go through Kafka to the pipeline when ``GLASSBOX_KAFKA_BOOTSTRAP_SERVERS`` is set, and
  are inserted directly otherwise.
- **embedded** — the embedded data directory (or ``chdb:///path``) with no stack running on it:
  this process opens chDB itself, applies pending migrations (as ``glassbox up`` would) and
  writes directly.
- **stack** — ``glassbox up`` (or ``glassbox demo --keep-running``) owns the data directory:
  chDB admits one process, so this one reads through the stack's read-only endpoint and sends
  its writes as records on the ``glassbox.dataset-records`` topic of the stack's broker; the
  stack's dataset-records service stores them (see :mod:`glassbox.datasets.service`), and the
  writer waits until they are visible. When the stack does not store them (it runs without that
  service), the write fails with :class:`StackWriteError` saying to stop the stack or use a server.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from glassbox.common.settings import ClickHouseSettings, EmbeddedSettings, KafkaSettings, load
from glassbox.datasets.tables import COLUMNS, Row, as_list

Mode = Literal["embedded", "stack", "server"]
MY_TABLES = tuple(COLUMNS)


class BackendError(RuntimeError):
    """Storage cannot be used as asked; the message says why and what to do."""


class StackWriteError(BackendError):
    """A running stack owns the data and did not store the records sent to it."""


class RecordWriter(Protocol):
    """Stores rows of this package's tables (directly, or through the process that owns ClickHouse)."""

    def write(self, table: str, rows: list[Row]) -> None:
        """Store ``rows``; when it returns they are visible to readers."""

    def close(self) -> None: ...


class DirectWriter:
    """Inserts rows with a clickhouse-connect client (explicit column names, one insert per call)."""

    def __init__(self, client: Any, database: str) -> None:
        self.client = client
        self.database = database

    def write(self, table: str, rows: list[Row]) -> None:
        if rows:
            self.client.insert(
                table, [as_list(r, table) for r in rows], column_names=list(COLUMNS[table]), database=self.database
            )

    def close(self) -> None:
        return None


@dataclass
class Backend:
    """A read client, a writer (None when opened read-only) and what runs' traces go through."""

    client: Any
    """Runs SELECTs (read-only in stack mode)."""
    database: str
    mode: Mode
    where: str
    writer: RecordWriter | None = None
    kafka: KafkaSettings | None = None
    """Where SDK spans and evaluation results of runs go (the stack's or a configured broker); None: stored here."""
    direct_client: Any = None
    """A writer client on ClickHouse (embedded and server modes): runs store their traces with it when no Kafka."""
    settings: ClickHouseSettings | None = None
    """Opens the read-only client for user SQL (embedded and server modes)."""
    closers: list[Any] = field(default_factory=list)
    _readonly: Any = None

    def rows(self, sql: str, parameters: dict[str, Any] | None = None) -> list[Row]:
        """Result rows as dicts; ``{db}`` in ``sql`` is the quoted database."""
        from clickhouse_connect.driver.binding import quote_identifier

        result = self.client.query(sql.replace("{db}", quote_identifier(self.database)), parameters=parameters or {})
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    def readonly_client(self) -> Any:
        """A client that refuses writes and DDL (readonly=2): user-given SQL runs on it, never on a writer."""
        if self.mode == "stack":
            return self.client
        if self.settings is None:
            raise BackendError("no read-only client available for user SQL")
        if self._readonly is None:
            from glassbox.common.clickhouse import reader_client

            self._readonly = reader_client(self.settings)
            self.closers.append(self._readonly)
        return self._readonly

    def write(self, table: str, rows: list[Row]) -> None:
        if self.writer is None:
            raise BackendError("storage was opened read-only")
        self.writer.write(table, rows)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        for item in self.closers:
            try:
                item.close()
            except Exception:
                pass


def direct(
    client: Any,
    settings: ClickHouseSettings,
    *,
    mode: Mode = "embedded",
    where: str = "",
    kafka: KafkaSettings | None = None,
) -> Backend:
    """A backend over an open writer client on ``settings`` (tests, or a caller that manages its own client)."""
    writer = DirectWriter(client, settings.database)
    return Backend(client, settings.database, mode, where or settings.database, writer, kafka, client, settings)


def _check_tables(client: Any, database: str) -> None:
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows
    missing = [t for t in MY_TABLES if t not in {r[0] for r in rows}]
    if missing:
        raise BackendError(
            f"the ClickHouse database {database!r} has no {', '.join(missing)} table(s): run `glassbox migrate` first"
        )


def _explicit_kafka() -> KafkaSettings | None:
    return load(KafkaSettings) if os.environ.get("GLASSBOX_KAFKA_BOOTSTRAP_SERVERS") else None


def open_backend(data_dir: Path | str | None = None, *, write: bool = False) -> Backend:
    """Open storage for reading (and writing when ``write``); see the module docstring for the three modes."""
    from glassbox.common.clickhouse import reader_client, writer_client
    from glassbox.embedded.stack import embedded_clickhouse, files, running_stack

    ch = load(ClickHouseSettings)
    explicit = os.environ.get("GLASSBOX_CLICKHOUSE_URL")
    if explicit and not ch.is_embedded:
        client = writer_client(ch) if write else reader_client(ch)
        _check_tables(client, ch.database)
        backend = Backend(client, ch.database, "server", ch.url, kafka=_explicit_kafka(), settings=ch)
        if write:
            backend.writer = DirectWriter(client, ch.database)
            backend.direct_client = client
        backend.closers.append(client)
        return backend
    directory = Path(data_dir) if data_dir else load(EmbeddedSettings).data_dir
    if explicit and ch.chdb_path is not None:
        target, stack_dir = ch, ch.chdb_path.parent
    else:
        target, stack_dir = embedded_clickhouse(directory, ch), directory
    info = running_stack(stack_dir)
    if info is not None:
        return _stack_backend(info, ch, stack_dir, write)
    path = target.chdb_path
    if path is None or (not write and not path.exists()):
        raise BackendError(
            f"no Glassbox data under {files(stack_dir).data_dir}: run `glassbox demo` or `glassbox up` first, "
            "or point GLASSBOX_CLICKHOUSE_URL at your ClickHouse server"
        )
    from glassbox.sink.migrations import migrate

    client = writer_client(target)
    migrate(client, target)
    # This process owns the data: runs store their traces here. A GLASSBOX_KAFKA_BOOTSTRAP_SERVERS left in the
    # environment names a broker whose pipeline writes elsewhere (or a stopped stack's), so it is not used.
    backend = direct(client, target, where=f"embedded data at {path}")
    backend.closers.append(client)
    return backend


def _stack_backend(info: Any, ch: ClickHouseSettings, stack_dir: Path, write: bool) -> Backend:
    from glassbox.common.reader import open_reader

    if info.pid <= 0 or info.kafka in ("", "?"):
        raise BackendError(f"a Glassbox stack is starting on {stack_dir}; try again in a moment")
    client, where = open_reader(stack_dir)
    kafka = load(KafkaSettings).model_copy(update={"bootstrap_servers": info.kafka, "topic_prefix": ""})
    backend = Backend(client, ch.database, "stack", where, kafka=kafka)
    backend.closers.append(client)
    if write:
        from glassbox.datasets.kafka_writer import KafkaRecordWriter

        backend.writer = KafkaRecordWriter(kafka, client, ch.database, stack=info.describe())
    return backend

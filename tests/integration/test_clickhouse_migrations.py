"""Migrations on chDB: applied once, safe to re-run, immutable once applied, retention taking effect."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glassbox.common.clickhouse import Client, reader_client
from glassbox.common.paths import migrations_dir
from glassbox.common.settings import ClickHouseSettings
from glassbox.sink.migrations import (
    ChecksumMismatchError,
    MigrationError,
    load_migrations,
    migrate,
    render,
    split_statements,
)
from glassbox.sink.tables import TABLES
from tests.support.clickhouse import scalar

EXPECTED_TABLES = {
    "glassbox_migrations", "spans", "spans_check", "spans_trace_id_ts", "spans_trace_id_ts_mv", "otel_traces",
    "otel_traces_trace_id_ts", "traces", "traces_check", "evaluations", "evaluations_check", "dead_letters",
    "dead_letters_check", "sink_offsets", "spans_offsets_mv", "traces_offsets_mv", "evaluations_offsets_mv",
    "dead_letters_offsets_mv", "spans_1m", "spans_1m_mv", "traces_1m", "traces_1m_mv", "evaluations_1m",
    "evaluations_1m_mv", "pipeline_metrics", "pipeline_metrics_check", "pipeline_metrics_offsets_mv",
    "dataset_items", "dataset_versions", "prompts", "prompt_labels", "experiments", "experiment_items",
}  # fmt: skip


def _tables(client: Client, database: str) -> set[str]:
    rows = client.query("SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database})
    return {r[0] for r in rows.result_rows}


def test_second_run_applies_nothing(ch_client: Client, ch_settings: ClickHouseSettings) -> None:
    """The first run applies every file in order and creates every table; the second applies none."""
    names = [m.name for m in load_migrations()]
    assert migrate(ch_client, ch_settings) == names
    assert names[0] == "0000_glassbox_migrations.sql" and names[-1] == "R__retention.sql"
    assert _tables(ch_client, ch_settings.database) == EXPECTED_TABLES
    assert migrate(ch_client, ch_settings) == []
    assert scalar(ch_client, f"SELECT count() FROM {ch_settings.database}.glassbox_migrations FINAL") == len(names)


def test_every_statement_runs_twice_without_error(ch_client: Client, ch_settings: ClickHouseSettings) -> None:
    """Each statement of each file can run again (IF NOT EXISTS), so a run interrupted half-way can simply restart."""
    for migration in load_migrations():
        for statement in split_statements(render(migration.sql, ch_settings)):
            ch_client.command(statement)
            ch_client.command(statement)
    assert _tables(ch_client, ch_settings.database) == EXPECTED_TABLES


def test_a_changed_applied_migration_is_refused(
    ch_client: Client, ch_settings: ClickHouseSettings, tmp_path: Path
) -> None:
    """Editing a file after it was applied stops the runner with an error naming the file; nothing more is applied."""
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    migrate(ch_client, ch_settings, directory=directory)
    edited = directory / "0002_traces.sql"
    edited.write_text(edited.read_text() + "\n-- an innocent-looking edit\n")
    (directory / "0007_more.sql").write_text("CREATE TABLE IF NOT EXISTS {database}.later (x UInt8) ENGINE = Log;")
    with pytest.raises(ChecksumMismatchError, match=r"0002_traces\.sql was changed after it was applied"):
        migrate(ch_client, ch_settings, directory=directory)
    assert "later" not in _tables(ch_client, ch_settings.database)


def test_a_database_from_a_newer_version_is_refused(
    ch_client: Client, ch_settings: ClickHouseSettings, tmp_path: Path
) -> None:
    """A database that recorded a migration this code does not have is not touched."""
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    (directory / "0099_future.sql").write_text("SELECT 1;")
    migrate(ch_client, ch_settings, directory=directory)
    with pytest.raises(MigrationError, match=r"0099_future\.sql"):
        migrate(ch_client, ch_settings)


def test_retention_change_is_applied_once(ch_client: Client, ch_settings: ClickHouseSettings) -> None:
    """A new GLASSBOX_CLICKHOUSE_RETENTION_DAYS re-applies the TTLs on the next run, and only then."""
    migrate(ch_client, ch_settings)
    shorter = ch_settings.model_copy(update={"retention_days": 7, "dead_letter_retention_days": 14})
    assert migrate(ch_client, shorter) == ["R__retention.sql"]
    assert migrate(ch_client, shorter) == []
    db = ch_settings.database
    assert "toIntervalDay(7)" in scalar(ch_client, f"SELECT create_table_query FROM system.tables "
                                                   f"WHERE database = '{db}' AND name = 'spans'")  # fmt: skip
    assert "toIntervalDay(14)" in scalar(ch_client, f"SELECT create_table_query FROM system.tables "
                                                    f"WHERE database = '{db}' AND name = 'dead_letters'")  # fmt: skip


def test_sink_column_lists_match_the_tables(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """Every column the sink writes exists, and every column it leaves out has a default."""
    for table in TABLES:
        rows = migrated.query(
            "SELECT name, default_kind FROM system.columns WHERE database = {db:String} AND table = {t:String}",
            parameters={"db": ch_settings.database, "t": table.name},
        ).result_rows
        columns = dict(rows)
        assert set(table.columns) <= set(columns), table.name
        assert {name for name, kind in columns.items() if name not in table.columns and not kind} == set(), table.name


def test_reader_client_is_read_only_while_the_writer_writes(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """The reader (readonly=2) can SELECT but not INSERT or CREATE; the writer in the same process keeps writing."""
    reader = reader_client(ch_settings)
    try:
        db = ch_settings.database
        with pytest.raises(Exception, match="readonly"):
            reader.command(f"INSERT INTO {db}.glassbox_migrations (Name, Checksum, Kind) VALUES ('x', 'y', 'z')")
        with pytest.raises(Exception, match="readonly"):
            reader.command(f"CREATE TABLE {db}.nope (x UInt8) ENGINE = Log")
        migrated.command(f"INSERT INTO {db}.glassbox_migrations (Name, Checksum, Kind) VALUES ('x', 'y', 'z')")
        assert scalar(reader, "SELECT count() FROM glassbox_migrations WHERE Name = 'x'") == 1
    finally:
        reader.close()


def test_a_second_process_on_the_same_data_directory_gets_a_clear_error(
    chdb_path: Path, ch_settings: ClickHouseSettings
) -> None:
    """chDB allows one process per data directory: another process gets ClickHouseLockedError naming the owner."""
    script = textwrap.dedent(
        f"""
        from glassbox.common.clickhouse import ClickHouseLockedError, writer_client
        from glassbox.common.settings import ClickHouseSettings
        try:
            writer_client(ClickHouseSettings(url="chdb://{chdb_path}", database="x"))
        except ClickHouseLockedError as exc:
            print("LOCKED:", exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert "LOCKED:" in done.stdout, done.stderr[-2000:]
    assert "in use by another Glassbox process" in done.stdout
    assert "PID" in done.stdout

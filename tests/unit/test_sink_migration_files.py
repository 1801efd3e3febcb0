"""Migration files without an engine: naming, order, placeholder rendering and statement splitting."""

from __future__ import annotations

from pathlib import Path

import pytest

from glassbox.common.settings import ClickHouseSettings
from glassbox.sink.migrations import MigrationError, load_migrations, render, split_statements


def test_the_shipped_migrations_load_in_number_order_with_repeatables_last() -> None:
    """Versioned files come by number from 0000; R__ files follow; every file has SQL after comments."""
    migrations = load_migrations()
    versioned = [m.name for m in migrations if not m.repeatable]
    assert versioned == sorted(versioned) and versioned[0].startswith("0000_")
    assert [m.name for m in migrations if m.repeatable] == ["R__retention.sql"]
    assert all(split_statements(m.sql) for m in migrations)


def test_placeholders_are_rendered_from_settings_and_nothing_else() -> None:
    """{database} becomes a quoted identifier, retention placeholders numbers; other braces are left alone."""
    settings = ClickHouseSettings(url="chdb:///tmp/x", database="gb", retention_days=7, dead_letter_retention_days=9)
    sql = "ALTER TABLE {database}.t MODIFY TTL d + toIntervalDay({retention_days}); -- {dead_letter_retention_days} {x}"
    assert render(sql, settings) == "ALTER TABLE `gb`.t MODIFY TTL d + toIntervalDay(7); -- 9 {x}"


def test_statements_split_on_semicolons_outside_quotes_and_comments() -> None:
    """Semicolons in strings, identifiers and comments do not split; comments and empty statements disappear."""
    sql = """
        -- a comment; with a semicolon
        CREATE TABLE a (s String DEFAULT 'x;y', `we;ird` UInt8) ENGINE = Log;
        /* block; comment */ SELECT "col;name", 'it\\'s;' FROM a;;
        SELECT 1
    """
    assert split_statements(sql) == [
        "CREATE TABLE a (s String DEFAULT 'x;y', `we;ird` UInt8) ENGINE = Log",
        "SELECT \"col;name\", 'it\\'s;' FROM a",
        "SELECT 1",
    ]


@pytest.mark.parametrize("name", ["1_short.sql", "0001-dash.sql", "R_single.sql", "0001_Upper.sql"])
def test_misnamed_sql_files_are_refused(tmp_path: Path, name: str) -> None:
    """A .sql file that is neither NNNN_name.sql nor R__name.sql stops the runner before anything runs."""
    (tmp_path / "0000_ok.sql").write_text("SELECT 1;")
    (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="migration files are named"):
        load_migrations(tmp_path)


def test_two_files_with_one_number_are_refused(tmp_path: Path) -> None:
    """Two versioned files sharing a number would make the order ambiguous."""
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0001_b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="two migrations numbered 0001"):
        load_migrations(tmp_path)

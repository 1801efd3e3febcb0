"""The ClickHouse migration runner: numbered SQL files applied once, in order, and recorded.

Files live in ``schemas/clickhouse/migrations`` (:func:`glassbox.common.paths.migrations_dir`):

* ``NNNN_name.sql`` — versioned. Applied once, in number order, then recorded in
  ``glassbox_migrations`` with the SHA-256 of the file. Changing an applied file is
  refused with :class:`ChecksumMismatchError`: add a new numbered file instead.
* ``R__name.sql`` — repeatable. Applied after the versioned files whenever its
  *rendered* text differs from the last applied one (retention lives there, so a
  changed ``GLASSBOX_CLICKHOUSE_RETENTION_DAYS`` takes effect on the next run).

Placeholders ``{database}``, ``{retention_days}`` and ``{dead_letter_retention_days}``
are substituted from the settings. Every statement is written to be safe to run
twice (IF NOT EXISTS), so a run interrupted half-way can simply run again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.binding import quote_identifier

from glassbox.common.clickhouse import Client, ensure_database
from glassbox.common.logging import get_logger
from glassbox.common.paths import migrations_dir
from glassbox.common.settings import ClickHouseSettings

log = get_logger(__name__)

MIGRATIONS_TABLE = "glassbox_migrations"
_VERSIONED = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
_REPEATABLE = re.compile(r"^R__[a-z0-9_]+\.sql$")
_PLACEHOLDER = re.compile(r"\{(database|retention_days|dead_letter_retention_days)\}")


class MigrationError(RuntimeError):
    """The migrations directory or the database's migration history is inconsistent."""


class ChecksumMismatchError(MigrationError):
    """An applied versioned migration file was edited afterwards."""


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str
    repeatable: bool

    @property
    def checksum(self) -> str:
        """SHA-256 of the file as written (versioned files are checked against it)."""
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """Versioned files in number order, then repeatable files by name. Misnamed .sql files are an error."""
    root = directory or migrations_dir()
    if not root.is_dir():
        raise MigrationError(f"migrations directory {root} does not exist")
    versioned: dict[int, Migration] = {}
    repeatable: list[Migration] = []
    for path in sorted(root.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        match = _VERSIONED.match(path.name)
        if match:
            number = int(match.group(1))
            if number in versioned:
                raise MigrationError(f"two migrations numbered {number:04d}: {versioned[number].name}, {path.name}")
            versioned[number] = Migration(path.name, text, repeatable=False)
        elif _REPEATABLE.match(path.name):
            repeatable.append(Migration(path.name, text, repeatable=True))
        else:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql or R__name.sql")
    return [versioned[n] for n in sorted(versioned)] + repeatable


def render(sql: str, settings: ClickHouseSettings) -> str:
    """Substitute the placeholders; the database name is quoted as an identifier."""
    values = {
        "database": quote_identifier(settings.database),
        "retention_days": str(settings.retention_days),
        "dead_letter_retention_days": str(settings.dead_letter_retention_days),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], sql)


def split_statements(sql: str) -> list[str]:
    """Split on semicolons outside quotes and comments; comments are dropped, empty statements skipped."""
    statements: list[str] = []
    current: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"`":
            end = i + 1
            while end < n and sql[end] != ch:
                end += 2 if sql[end] == "\\" else 1
            current.append(sql[i : end + 1])
            i = end + 1
        elif sql.startswith("--", i):
            newline = sql.find("\n", i)
            i = n if newline < 0 else newline
        elif sql.startswith("/*", i):
            close = sql.find("*/", i + 2)
            i = n if close < 0 else close + 2
        elif ch == ";":
            statements.append("".join(current).strip())
            current = []
            i += 1
        else:
            current.append(ch)
            i += 1
    statements.append("".join(current).strip())
    return [s for s in statements if s]


def applied_migrations(client: Client, database: str) -> dict[str, str]:
    """Name → checksum of every migration recorded as applied."""
    table = f"{quote_identifier(database)}.{MIGRATIONS_TABLE}"
    result = client.query(f"SELECT Name, Checksum FROM {table} FINAL")
    return {str(name): str(checksum) for name, checksum in result.result_rows}


def migrate(client: Client, settings: ClickHouseSettings, *, directory: Path | None = None) -> list[str]:
    """Apply what is pending and return the names applied (empty when up to date).

    Raises :class:`ChecksumMismatchError` when an applied versioned file changed, and
    :class:`MigrationError` when the database has migrations this code does not know.
    """
    migrations = load_migrations(directory)
    ensure_database(client, settings.database)
    bookkeeping = next((m for m in migrations if not m.repeatable), None)
    if bookkeeping is None:
        raise MigrationError("no versioned migration found (the first one creates the bookkeeping table)")
    _execute(client, render(bookkeeping.sql, settings))
    applied = applied_migrations(client, settings.database)
    _check_history(migrations, applied)
    done: list[str] = []
    for migration in migrations:
        rendered = render(migration.sql, settings)
        checksum = hashlib.sha256(rendered.encode()).hexdigest() if migration.repeatable else migration.checksum
        if applied.get(migration.name) == checksum:
            continue
        _execute(client, rendered)
        _record(client, settings.database, migration, checksum)
        log.info("migrations.applied", migration=migration.name, database=settings.database)
        done.append(migration.name)
    return done


def _check_history(migrations: list[Migration], applied: dict[str, str]) -> None:
    known = {m.name: m for m in migrations}
    unknown = sorted(name for name in applied if name not in known)
    if unknown:
        raise MigrationError(
            f"the database has migrations this version of Glassbox does not know: {', '.join(unknown)} "
            "(it was migrated by a newer version)"
        )
    for migration in migrations:
        recorded = applied.get(migration.name)
        if not migration.repeatable and recorded is not None and recorded != migration.checksum:
            raise ChecksumMismatchError(
                f"migration {migration.name} was changed after it was applied "
                f"(applied checksum {recorded[:12]}, file checksum {migration.checksum[:12]}); "
                "applied migrations are immutable: restore the file and add a new numbered migration"
            )


def _execute(client: Client, rendered: str) -> None:
    for statement in split_statements(rendered):
        client.command(statement)


def _record(client: Client, database: str, migration: Migration, checksum: str) -> None:
    client.insert(
        MIGRATIONS_TABLE,
        [[migration.name, checksum, "repeatable" if migration.repeatable else "versioned"]],
        column_names=["Name", "Checksum", "Kind"],
        database=database,
    )

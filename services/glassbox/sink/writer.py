"""Blocking ClickHouse writes for the sink (called from one executor thread).

A batch goes in as ONE insert with a deduplication token, so a retry after an unknown
outcome (timeout) is dropped by ClickHouse instead of counted twice, rollups included.

When ClickHouse refuses a batch for its data (:func:`is_bad_data`), the refused rows are
found without writing anything: sub-batches are trial-inserted into the table's Null-engine
twin (``<table>_check``), halving the failing ranges down to single rows. The refused rows
are written to ``dead_letters`` (error type 'storage'), then the good rows in one insert.
Any other error propagates for the caller to retry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.insert import InsertContext

from glassbox.common.clickhouse import Client, is_bad_data
from glassbox.common.logging import get_logger
from glassbox.sink.batch import Batch
from glassbox.sink.process import PendingRow, storage_failure_row
from glassbox.sink.tables import BY_NAME, DEAD_LETTERS, TableSpec

log = get_logger(__name__)

DEDUP_SETTINGS = {"deduplicate_blocks_in_dependent_materialized_views": 1}

LogKey = tuple[str, str, int]
"""(log id, topic, partition)."""


class UnexplainedBadDataError(RuntimeError):
    """ClickHouse refused a batch for its data, but every row passes on its own: retry the batch."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    """Rows stored in the batch's table."""
    refused: int = 0
    """Rows ClickHouse refused, now in dead_letters."""
    dead_letters: int = 0
    """Rows written to dead_letters for the refused ones."""
    dropped: int = 0
    """Dead letters that could not be stored either (logged)."""
    probes: int = 0
    """Trial inserts into the Null twin needed to find the refused rows."""


class BatchWriter:
    """Inserts batches into one database, reusing one insert context per table."""

    def __init__(self, client: Client, database: str) -> None:
        self.client = client
        self.database = database
        self._contexts: dict[str, InsertContext] = {}

    def write(self, batch: Batch) -> WriteResult:
        """Store a batch: all rows, or the good rows plus a dead letter for each refused one."""
        spec = BY_NAME[batch.table]
        rows = [p.row for p in batch.rows]
        try:
            self.insert(spec.name, spec.columns, rows, token=batch.token)
            return WriteResult(inserted=len(rows))
        except Exception as exc:
            if not is_bad_data(exc):
                raise
            first_error = exc
        probes, bad = self._find_refused(spec, rows)
        if not bad:
            raise UnexplainedBadDataError(f"{spec.name}: {first_error}") from first_error
        refused = dict(bad)
        letters = [storage_failure_row(spec.name, batch.rows[i], error) for i, error in bad]
        log.warning("sink.rows_refused", table=spec.name, refused=len(bad), rows=len(rows), error=bad[0][1])
        stored, dropped = self._write_dead_letters(letters, token=f"{batch.token}:refused")
        good = [row for i, row in enumerate(rows) if i not in refused]
        if good:
            self.insert(spec.name, spec.columns, good, token=f"{batch.token}:good")
        return WriteResult(len(good), refused=len(bad), dead_letters=stored, dropped=dropped, probes=probes)

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, token: str | None) -> None:
        """One INSERT of ``rows``; with a token, a repeat of the same insert is deduplicated by ClickHouse."""
        context = self._context(table, columns)
        if token is None:
            context.settings.pop("insert_deduplication_token", None)
        else:
            context.settings["insert_deduplication_token"] = token
        self.client.insert(data=rows, context=context)

    def stored_offsets(self, keys: Iterable[LogKey]) -> dict[LogKey, dict[str, int]]:
        """Highest stored offset per table for each (log id, topic, partition), from ``sink_offsets``."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        result = self.client.query(
            f"SELECT ClusterId, Topic, Partition, `Table`, max(MaxOffset) "
            f"FROM {quote_identifier(self.database)}.sink_offsets "
            "WHERE (ClusterId, Topic, Partition) IN {keys:Array(Tuple(String, String, Int32))} "
            "GROUP BY ClusterId, Topic, Partition, `Table`",
            parameters={"keys": wanted},
        )
        out: dict[LogKey, dict[str, int]] = {}
        for cluster, topic, partition, table, offset in result.result_rows:
            out.setdefault((cluster, topic, int(partition)), {})[table] = int(offset)
        return out

    def close(self) -> None:
        self._contexts.clear()
        self.client.close()

    def _context(self, table: str, columns: Sequence[str]) -> InsertContext:
        context = self._contexts.get(table)
        if context is None:
            spec = BY_NAME.get(table)
            settings = {**DEDUP_SETTINGS, **dict(spec.insert_settings if spec is not None else ())}
            context = self.client.create_insert_context(table, list(columns), database=self.database, settings=settings)
            self._contexts[table] = context
        return context

    def _find_refused(self, spec: TableSpec, rows: list[list[Any]]) -> tuple[int, list[tuple[int, str]]]:
        """Indexes (with the error) of the rows the Null twin refuses, by halving failing ranges."""
        bad: list[tuple[int, str]] = []
        probes = 0
        ranges = [(0, len(rows))]
        while ranges:
            lo, hi = ranges.pop()
            probes += 1
            try:
                self.insert(spec.check_table, spec.columns, rows[lo:hi], token=None)
            except Exception as exc:
                if not is_bad_data(exc):
                    raise
                if hi - lo == 1:
                    bad.append((lo, _describe(exc)))
                else:
                    mid = (lo + hi) // 2
                    ranges.extend([(mid, hi), (lo, mid)])
        return probes, sorted(bad)

    def _write_dead_letters(self, letters: list[PendingRow], *, token: str) -> tuple[int, int]:
        """Insert dead letters; returns (stored, dropped). Only dead letters that are themselves refused drop."""
        try:
            self.insert(DEAD_LETTERS.name, DEAD_LETTERS.columns, [p.row for p in letters], token=token)
            return len(letters), 0
        except Exception as exc:
            if not is_bad_data(exc):
                raise
            log.error("sink.dead_letters_refused", rows=len(letters), error=_describe(exc))
            return 0, len(letters)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:2000]

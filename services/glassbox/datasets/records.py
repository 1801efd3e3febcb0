"""Dataset records on Kafka: how a process that does not own ClickHouse asks the one that does to store rows.

Topic ``glassbox.dataset-records`` (in the topic registry; the envelope's contract is
:class:`glassbox.models.records.DatasetRecord`). One partition, so records are stored in the order
they were sent: a dataset version's items before its version row. A message is one table's rows::

    {"schema_version": 1, "table": "dataset_items", "rows": [{"Dataset": "golden", "Version": 3, ...}]}

keyed by the table name. Only this package's tables are accepted, and every row must have exactly
the table's columns; anything else is refused with a reason (the consumer dead-letters it).
Delivery is at least once; the tables are ReplacingMergeTree keyed by the rows' ids, so a
redelivered record replaces what it wrote the first time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from glassbox.datasets.tables import COLUMNS, Row
from glassbox.models.records import MAX_ROWS_PER_RECORD
from glassbox.models.topics import DATASET_RECORDS

__all__ = ["DATASET_RECORDS", "MAX_ROWS_PER_RECORD", "Record", "RecordError", "decode", "encode"]


class RecordError(ValueError):
    """A record that cannot be stored as it is (the message says why)."""


@dataclass(frozen=True, slots=True)
class Record:
    table: str
    rows: list[Row]


def encode(table: str, rows: list[Row]) -> list[bytes]:
    """Message values for ``rows`` of ``table`` (several when there are many rows)."""
    if table not in COLUMNS:
        raise RecordError(f"unknown table {table!r}")
    out = []
    for start in range(0, len(rows), MAX_ROWS_PER_RECORD):
        chunk = rows[start : start + MAX_ROWS_PER_RECORD]
        doc = {"schema_version": 1, "table": table, "rows": chunk}
        out.append(json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode())
    return out


def decode(value: bytes | None) -> Record:
    """The record in a message value; RecordError when it is not one this version can store."""
    if not value:
        raise RecordError("empty message")
    try:
        doc: Any = json.loads(value)
    except ValueError as exc:
        raise RecordError(f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise RecordError("not a version 1 dataset record")
    table, rows = doc.get("table"), doc.get("rows")
    if table not in COLUMNS:
        raise RecordError(f"unknown table {table!r}")
    if (
        not isinstance(rows, list)
        or not 0 < len(rows) <= MAX_ROWS_PER_RECORD
        or not all(isinstance(r, dict) for r in rows)
    ):
        raise RecordError(f"rows must be a list of 1 to {MAX_ROWS_PER_RECORD} objects")
    wanted = set(COLUMNS[table])
    for i, row in enumerate(rows):
        if set(row) != wanted:
            missing, extra = sorted(wanted - set(row)), sorted(set(row) - wanted)
            raise RecordError(f"rows[{i}] of {table}: missing {missing}, unexpected {extra}")
    return Record(table, rows)

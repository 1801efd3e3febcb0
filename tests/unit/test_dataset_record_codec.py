"""Dataset records on Kafka without a broker: encoding, validation, and the visibility check of the writer."""

from __future__ import annotations

import json

import pytest

from glassbox.datasets.kafka_writer import visibility_query
from glassbox.datasets.models import DatasetVersion
from glassbox.datasets.records import MAX_ROWS_PER_RECORD, RecordError, decode, encode
from glassbox.datasets.tables import COLUMNS, version_row


def _version(n: int) -> dict[str, object]:
    return version_row(DatasetVersion(dataset="golden", version=n, item_count=n, created_at_ms=1000 + n))


def test_rows_encode_into_records_that_decode_back_in_order() -> None:
    """Many rows split into messages of at most MAX_ROWS_PER_RECORD; decoding gives the same rows in order."""
    rows = [_version(n) for n in range(1, MAX_ROWS_PER_RECORD + 3)]
    messages = encode("dataset_versions", rows)
    assert len(messages) == 2
    decoded = [decode(m) for m in messages]
    assert {d.table for d in decoded} == {"dataset_versions"}
    assert [r for d in decoded for r in d.rows] == rows


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "empty message"),
        (b"{oops", "not valid JSON"),
        (b'{"schema_version": 2, "table": "prompts", "rows": []}', "not a version 1"),
        (b'{"schema_version": 1, "table": "spans", "rows": []}', "unknown table 'spans'"),
        (b'{"schema_version": 1, "table": "prompts", "rows": {}}', "rows must be a list"),
        (
            b'{"schema_version": 1, "table": "prompt_labels", "rows": [{"Name": "p", "Label": "x", "Version": 1, '
            b'"UpdatedAt": 1, "Extra": 1}]}',
            "unexpected \\['Extra'\\]",
        ),
        (b'{"schema_version": 1, "table": "prompt_labels", "rows": [{"Name": "p"}]}', "missing \\['Label'"),
    ],
)
def test_records_that_cannot_be_stored_are_refused_with_a_reason(value: bytes, reason: str) -> None:
    """Only version 1 records of this package's tables, with exactly the table's columns, are accepted."""
    with pytest.raises(RecordError, match=reason):
        decode(value)


def test_only_known_tables_can_be_encoded() -> None:
    """Encoding rows for a table this package does not own is refused before anything is sent."""
    with pytest.raises(RecordError, match="unknown table"):
        encode("traces", [{}])


def test_the_visibility_query_matches_the_row_key_and_a_version_at_least_as_new() -> None:
    """The writer waits for a stored row with the same key and a version column no older than what it sent."""
    sql, params = visibility_query("glassbox", "dataset_versions", _version(3))
    assert sql == (
        "SELECT count() FROM `glassbox`.dataset_versions WHERE Dataset = {k0:String} AND Version = {k1:Int64} "
        "AND toUnixTimestamp64Milli(CreatedAt) >= {v:Int64}"
    )
    assert params == {"k0": "golden", "k1": 3, "v": 1003}
    assert set(json.loads(encode("dataset_versions", [_version(1)])[0])["rows"][0]) == set(COLUMNS["dataset_versions"])


def test_the_registry_contract_names_exactly_the_tables_a_record_may_write() -> None:
    """The DatasetRecord model (and its JSON Schema) admits the tables the consumer stores, no more, no fewer;
    an encoded record validates against the model."""
    from typing import get_args

    from glassbox.models.records import DatasetRecord, DatasetTable

    assert set(get_args(DatasetTable)) == set(COLUMNS)
    (message,) = encode("dataset_versions", [_version(1)])
    assert DatasetRecord.model_validate_json(message).table == "dataset_versions"


async def test_a_clickhouse_outage_at_shutdown_leaves_records_uncommitted_never_dead_lettered() -> None:
    """Stopping while ClickHouse is unreachable: the insert gives up (raises, so the batch is not committed and is
    stored after the restart) instead of dead-lettering good records as if their values were refused."""
    from types import SimpleNamespace

    from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
    from glassbox.datasets.records import Record
    from glassbox.datasets.service import DatasetRecordsService

    class Unreachable:
        def write(self, table: str, rows: list[dict[str, object]]) -> None:
            raise ConnectionError("connection refused")

    service = DatasetRecordsService(KafkaSettings(), ClickHouseSettings(), PipelineSettings())
    service._writer = Unreachable()  # type: ignore[assignment]
    service._stopping.set()
    message = SimpleNamespace(topic="glassbox.dataset-records", partition=0, offset=3, key=b"x", value=b"{}")
    with pytest.raises(ConnectionError):
        await service._insert([(message, Record("dataset_versions", [_version(1)]))])
    assert service.dead_letters == 0 and service.stored_rows == 0

"""Writing through the running stack: rows go to the dataset-records topic, then we wait until they are stored.

Used when ``glassbox up`` owns the embedded data (see :mod:`glassbox.datasets.backend`). Each
:meth:`KafkaRecordWriter.write` sends the rows (acks=all), then polls the stack's read-only
endpoint until the last row is visible, so the next command reads what this one wrote. A stack
without the records topic (one started by a Glassbox that predates dataset records) cannot store
them, so the first write fails at once with :class:`~glassbox.datasets.backend.StackWriteError` naming the
two ways out; rows that are sent but not stored within ``timeout_s`` fail the same way.
"""

from __future__ import annotations

import time
from typing import Any

from clickhouse_connect.driver.binding import quote_identifier

from glassbox.common.settings import KafkaSettings
from glassbox.datasets.backend import StackWriteError
from glassbox.datasets.records import DATASET_RECORDS, encode
from glassbox.datasets.tables import Row

VISIBLE_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "dataset_items": (("Dataset", "Version", "ItemId"), "UpdatedAt"),
    "dataset_versions": (("Dataset", "Version"), "CreatedAt"),
    "prompts": (("Name", "Version"), "CreatedAt"),
    "prompt_labels": (("Name", "Label"), "UpdatedAt"),
    "experiments": (("ExperimentId",), "UpdatedAt"),
    "experiment_items": (("ExperimentId", "ItemId"), "CreatedAt"),
}
"""Per table: the columns that identify a row, and its version column (a newer write has a later one)."""
WAYS_OUT = "Stop it (`glassbox down`) and run this again, or point GLASSBOX_CLICKHOUSE_URL at a ClickHouse server."


def visibility_query(database: str, table: str, row: Row) -> tuple[str, dict[str, Any]]:
    """SQL counting stored rows with ``row``'s key and at least its version. Pure."""
    keys, version = VISIBLE_KEYS[table]
    where, params = [], {}
    for i, key in enumerate(keys):
        value = row[key]
        kind = "Int64" if isinstance(value, int) else "String"
        where.append(f"{key} = {{k{i}:{kind}}}")
        params[f"k{i}"] = value
    where.append(f"toUnixTimestamp64Milli({version}) >= {{v:Int64}}")
    params["v"] = int(row[version])
    sql = f"SELECT count() FROM {quote_identifier(database)}.{table} WHERE {' AND '.join(where)}"
    return sql, params


class KafkaRecordWriter:
    """Sends rows to the stack and waits until its read endpoint shows them."""

    def __init__(
        self, kafka: KafkaSettings, reader: Any, database: str, *, stack: str = "", timeout_s: float = 20.0
    ) -> None:
        self.kafka = kafka
        self.reader = reader
        self.database = database
        self.stack = stack
        self.timeout_s = timeout_s
        self.topic = DATASET_RECORDS.full_name(kafka.topic_prefix)
        self._producer: Any = None

    def _open(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer

            if not self._topic_exists():
                raise StackWriteError(
                    f"the running Glassbox stack ({self.stack}) does not store dataset records (it has no "
                    f"{self.topic} topic: it was started by an older Glassbox). {WAYS_OUT}"
                )
            self._producer = KafkaProducer(
                bootstrap_servers=self.kafka.servers, acks="all", linger_ms=5, **self.kafka.kafka_python_options()
            )
        return self._producer

    def _topic_exists(self) -> bool:
        """Stacks create every registry topic, this one included, when they start; no topic, no service."""
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=self.kafka.servers, request_timeout_ms=10_000, **self.kafka.kafka_python_options()
        )
        try:
            return self.topic in set(admin.list_topics())
        finally:
            admin.close()

    def write(self, table: str, rows: list[Row]) -> None:
        if not rows:
            return
        producer = self._open()
        futures = [producer.send(self.topic, key=table.encode(), value=value) for value in encode(table, rows)]
        producer.flush(30)
        for future in futures:
            future.get(timeout=30)
        self._wait_visible(table, rows[-1])

    def _wait_visible(self, table: str, row: Row) -> None:
        sql, params = visibility_query(self.database, table, row)
        deadline = time.monotonic() + self.timeout_s
        while True:
            if int(self.reader.query(sql, parameters=params).result_rows[0][0]) > 0:
                return
            if time.monotonic() > deadline:
                raise StackWriteError(
                    f"the running Glassbox stack ({self.stack}) did not store the {table} rows sent to it within "
                    f"{self.timeout_s:.0f}s (it runs without the dataset-records service?). {WAYS_OUT}"
                )
            time.sleep(0.1)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(5)
            self._producer = None

"""Writing while a stack owns ClickHouse: rows go through Kafka (Tansu) to the dataset-records service (chDB)."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path

import pytest

from glassbox.common.clickhouse import Client
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.datasets.backend import Backend, StackWriteError, open_backend
from glassbox.datasets.kafka_writer import KafkaRecordWriter
from glassbox.datasets.models import DatasetItem
from glassbox.datasets.prompts import PromptRegistry
from glassbox.datasets.records import DATASET_RECORDS
from glassbox.datasets.service import DatasetRecordsService
from glassbox.datasets.store import DatasetStore
from glassbox.embedded.broker import EmbeddedBroker
from tests.support.clickhouse import produce


def items(*keys: str) -> list[DatasetItem]:
    return [DatasetItem(item_id=f"item-{k}", input={"q": k}, expected=k.upper()) for k in keys]


async def started(service: DatasetRecordsService) -> AsyncIterator[DatasetRecordsService]:
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


@pytest.fixture
async def service(
    topics: KafkaSettings, ch_settings: ClickHouseSettings, pipeline_settings: PipelineSettings, migrated: Client
) -> AsyncIterator[DatasetRecordsService]:
    """The dataset-records service on the test's topic prefix (the registry's topics exist, as in a stack)."""
    async for running in started(DatasetRecordsService(topics, ch_settings, pipeline_settings)):
        yield running


async def test_rows_sent_through_kafka_are_stored_and_visible_when_the_write_returns(
    service: DatasetRecordsService, kafka_settings: KafkaSettings, migrated: Client, ch_settings: ClickHouseSettings
) -> None:
    """A dataset version written through the records topic is readable as soon as add() returns; an invalid
    record is dead-lettered and the records after it are still stored."""
    writer = KafkaRecordWriter(kafka_settings, migrated, ch_settings.database, stack="test", timeout_s=30)
    store = DatasetStore(Backend(migrated, ch_settings.database, "stack", "test", writer=writer))
    version, added, _ = await asyncio.to_thread(store.add, "golden", items("a", "b"))
    assert (version.version, added) == (1, 2)
    assert [i.item_id for i in store.items("golden", 1)] == ["item-a", "item-b"]
    topic = DATASET_RECORDS.full_name(kafka_settings.topic_prefix)
    await asyncio.to_thread(produce, kafka_settings.bootstrap_servers, [(topic, b"prompts", b'{"schema_version": 1}')])
    version, added, _ = await asyncio.to_thread(store.add, "golden", items("c"))
    assert (version.version, added, version.item_count) == (2, 1, 3)
    assert service.dead_letters == 1
    assert service.stored_rows == 2 + 1 + 3 + 1
    await asyncio.to_thread(writer.close)


async def test_without_the_service_a_write_fails_saying_what_to_do(
    kafka_settings: KafkaSettings,
    pipeline_settings: PipelineSettings,
    migrated: Client,
    ch_settings: ClickHouseSettings,
) -> None:
    """No records topic (the service creates it): the first write fails at once; a topic nobody consumes: the
    write gives up after its timeout. Both name `glassbox down` and the server URL."""
    from glassbox.common.kafka import ensure_topics

    writer = KafkaRecordWriter(kafka_settings, migrated, ch_settings.database, stack="pid 1", timeout_s=1.0)
    backend = Backend(migrated, ch_settings.database, "stack", "test", writer=writer)
    with pytest.raises(StackWriteError, match=r"does not store dataset records .*glassbox down.*GLASSBOX_CLICKHOUSE"):
        await asyncio.to_thread(DatasetStore(backend).add, "golden", items("a"))
    await asyncio.to_thread(ensure_topics, kafka_settings, pipeline_settings, (DATASET_RECORDS,))
    with pytest.raises(StackWriteError, match=r"did not store the dataset_items rows .*within 1s"):
        await asyncio.to_thread(DatasetStore(backend).add, "golden", items("a"))
    await asyncio.to_thread(writer.close)


async def test_open_backend_writes_through_a_running_stack(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    broker: EmbeddedBroker,
    chdb_path: Path,
    migrated: Client,
    ch_settings: ClickHouseSettings,
    pipeline_settings: PipelineSettings,
) -> None:
    """With a stack holding the data directory (its lock, its stack.json, its read endpoint, its records
    service), open_backend reads through the endpoint and writes through Kafka: datasets and prompts land."""
    from glassbox.embedded.query_server import QueryServer
    from glassbox.embedded.stack import StackInfo, stack_lock

    monkeypatch.delenv("GLASSBOX_CLICKHOUSE_URL", raising=False)
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_DATABASE", ch_settings.database)
    stack_kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    query = QueryServer(str(chdb_path)).start()
    try:
        with stack_lock(tmp_path) as paths:
            info = StackInfo(os.getpid(), str(paths.data_dir), broker.bootstrap_servers, query.url, 0.0)
            paths.info.write_text(json.dumps(asdict(info)))
            async for _ in started(DatasetRecordsService(stack_kafka, ch_settings, pipeline_settings)):
                backend = await asyncio.to_thread(open_backend, tmp_path, write=True)
                try:
                    assert (backend.mode, backend.where) == ("stack", f"running stack at {query.url}")
                    assert backend.kafka is not None and backend.kafka.servers == [broker.bootstrap_servers]
                    version, _, _ = await asyncio.to_thread(DatasetStore(backend).add, "golden", items("x", "y"))
                    assert DatasetStore(backend).resolve("golden").item_count == 2 == version.item_count
                    registry = PromptRegistry(backend)
                    messages = [{"role": "user", "content": "{{q}}"}]
                    prompt, created = await asyncio.to_thread(registry.add, "p", messages)
                    assert (prompt.ref, created) == ("p@1", True)
                    assert registry.get("p").variables == ["q"]
                finally:
                    await asyncio.to_thread(backend.close)
    finally:
        query.stop()
    assert [
        r[0]
        for r in migrated.query(
            f"SELECT ItemId FROM {ch_settings.database}.dataset_items FINAL ORDER BY ItemId"
        ).result_rows
    ] == ["item-x", "item-y"]

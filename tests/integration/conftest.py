"""Storage fixtures: one chDB data path per test session, a fresh database per test.

chDB hosts one engine (one data path) per process, so every test shares the session path
and isolates itself in a randomly named database, dropped afterwards. A keeper client stays
open for the whole session so the engine starts once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from glassbox.common.clickhouse import Client, writer_client
from glassbox.common.kafka import ensure_topics
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.embedded.broker import EmbeddedBroker
from glassbox.sink.migrations import migrate


@pytest.fixture(scope="session")
def chdb_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The session's chDB data directory, with the engine kept open."""
    path = tmp_path_factory.mktemp("chdb")
    keeper = writer_client(ClickHouseSettings(url=f"chdb://{path}", database="default"))
    yield path
    keeper.close()


@pytest.fixture
def ch_settings(chdb_path: Path, unique: str) -> ClickHouseSettings:
    """Settings pointing at a fresh database (glassbox_<unique>) on the session's chDB path."""
    return ClickHouseSettings(url=f"chdb://{chdb_path}", database=f"glassbox_{unique}")


@pytest.fixture
def ch_client(ch_settings: ClickHouseSettings) -> Iterator[Client]:
    """A writer client on the test's database; the database is dropped afterwards."""
    client = writer_client(ch_settings)
    yield client
    client.command(f"DROP DATABASE IF EXISTS `{ch_settings.database}`")
    client.close()


@pytest.fixture
def migrated(ch_client: Client, ch_settings: ClickHouseSettings) -> Client:
    """The writer client, with every migration applied."""
    migrate(ch_client, ch_settings)
    return ch_client


@pytest.fixture
def kafka_settings(broker: EmbeddedBroker, unique: str) -> KafkaSettings:
    """Kafka settings on the session broker with a per-test topic prefix."""
    return KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=f"t{unique}.")


@pytest.fixture
def pipeline_settings(unique: str) -> PipelineSettings:
    """Small, fast batches and a per-test consumer group; the sink's own health rows are off (hourly),
    so row counts are those of the data (tests of pipeline_metrics set a short interval)."""
    return PipelineSettings(
        metrics_interval_s=3600.0,
        spans_partitions=2,
        sink_group=f"sink-{unique}",
        sink_batch_seconds=0.2,
        sink_batch_rows=5_000,
        sink_max_backoff_s=0.5,
        session_timeout_s=6.0,
    )


@pytest.fixture
def topics(kafka_settings: KafkaSettings, pipeline_settings: PipelineSettings) -> KafkaSettings:
    """The registry's topics, created under the test's prefix."""
    ensure_topics(kafka_settings, pipeline_settings)
    return kafka_settings

"""Configuration: validated at start-up, errors name the environment variable, security options pass through."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

import glassbox
from glassbox.common.kafka import aiokafka_options
from glassbox.common.settings import ClickHouseSettings, ConfigError, KafkaSettings, SdkSettings, load


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A sample rate above 1 and a non-numeric queue size fail with the variables' names and values."""
    monkeypatch.setenv("GLASSBOX_SDK_SAMPLE_RATE", "1.5")
    monkeypatch.setenv("GLASSBOX_SDK_MAX_QUEUE_SPANS", "lots")
    with pytest.raises(ConfigError) as info:
        load(SdkSettings)
    message = str(info.value)
    assert "GLASSBOX_SDK_SAMPLE_RATE" in message and "1.5" in message
    assert "GLASSBOX_SDK_MAX_QUEUE_SPANS" in message and "lots" in message


def test_init_raises_a_clear_error_but_decorators_never_do(monkeypatch: pytest.MonkeyPatch) -> None:
    """glassbox.init() refuses bad configuration loudly (at start-up, the one place the SDK raises)."""
    with pytest.raises(ConfigError, match="GLASSBOX_SDK_DROP_POLICY"):
        glassbox.init(drop_policy="drop_everything")


def test_delivery_timeout_must_exceed_linger() -> None:
    with pytest.raises(ConfigError, match="GLASSBOX_SDK_DELIVERY_TIMEOUT_MS"):
        load(SdkSettings, linger_ms=2000, delivery_timeout_ms=2100)


def test_clickhouse_url_picks_the_backend() -> None:
    """http(s) URLs are servers, chdb:/// paths the embedded engine; anything else is refused."""
    assert not load(ClickHouseSettings, url="https://ch.example:8443").is_embedded
    embedded = load(ClickHouseSettings, url="chdb:///var/data/ch")
    assert embedded.is_embedded and embedded.chdb_path == Path("/var/data/ch")
    with pytest.raises(ConfigError, match="GLASSBOX_CLICKHOUSE_URL"):
        load(ClickHouseSettings, url="tcp://ch:9000")


def test_sasl_requires_a_mechanism() -> None:
    with pytest.raises(ConfigError, match="sasl_mechanism is required"):
        load(KafkaSettings, security_protocol="SASL_SSL")


def test_sasl_ssl_options_reach_both_kafka_clients(tmp_path: Path) -> None:
    """SASL credentials and TLS files are handed to kafka-python (SDK) and aiokafka (services) as they expect."""
    settings = load(
        KafkaSettings,
        bootstrap_servers="k1:9093,k2:9093",
        security_protocol="sasl_ssl",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="glassbox",
        sasl_password="s3cret",
    )
    kp = settings.kafka_python_options()
    assert kp["security_protocol"] == "SASL_SSL"
    assert (kp["sasl_mechanism"], kp["sasl_plain_username"], kp["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "glassbox",
        "s3cret",
    )
    ak = aiokafka_options(settings)
    assert ak["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    assert ak["sasl_mechanism"] == "SCRAM-SHA-512" and ak["sasl_plain_password"] == "s3cret"
    assert isinstance(ak["ssl_context"], ssl.SSLContext)

"""Kafka plumbing shared by the services: topic setup and client options."""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass
from typing import Any

from glassbox.common.logging import get_logger
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.models.topics import REGISTRY, TopicSpec, partitions_for

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TopicState:
    name: str
    partitions: int
    created: bool


def topic_name(spec: TopicSpec, kafka: KafkaSettings) -> str:
    return spec.full_name(kafka.topic_prefix)


def ensure_topics(
    kafka: KafkaSettings,
    pipeline: PipelineSettings,
    specs: tuple[TopicSpec, ...] = REGISTRY,
    timeout_s: float = 30.0,
) -> list[TopicState]:
    """Create the registry's topics that do not exist yet. Idempotent: existing topics are left as they are."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=kafka.servers, request_timeout_ms=10_000, **kafka.kafka_python_options()
            )
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise
            log.warning("topics.broker_unavailable", error=str(exc))
            time.sleep(1.0)
    try:
        existing = set(admin.list_topics())
        states: list[TopicState] = []
        for spec in specs:
            name = topic_name(spec, kafka)
            partitions = partitions_for(spec, pipeline.spans_partitions)
            if name in existing:
                states.append(TopicState(name, partitions, False))
                continue
            config = {"retention.ms": str(spec.retention_ms), "cleanup.policy": spec.cleanup_policy}
            try:
                admin.create_topics([NewTopic(name, partitions, pipeline.replication_factor, topic_configs=config)])
                states.append(TopicState(name, partitions, True))
                log.info("topics.created", topic=name, partitions=partitions)
            except TopicAlreadyExistsError:
                states.append(TopicState(name, partitions, False))
        return states
    finally:
        admin.close()


def aiokafka_consumer_options(kafka: KafkaSettings) -> dict[str, Any]:
    """:func:`aiokafka_options` plus the consumer's fetch wait (see ``KafkaSettings.fetch_max_wait_ms``)."""
    return {**aiokafka_options(kafka), "fetch_max_wait_ms": kafka.fetch_max_wait_ms}


def aiokafka_options(kafka: KafkaSettings) -> dict[str, Any]:
    """Security options in aiokafka's spelling."""
    opts: dict[str, Any] = {
        "bootstrap_servers": kafka.servers,
        "security_protocol": kafka.security_protocol,
        "client_id": kafka.client_id,
    }
    if kafka.sasl_mechanism:
        opts["sasl_mechanism"] = kafka.sasl_mechanism
        opts["sasl_plain_username"] = kafka.sasl_username
        opts["sasl_plain_password"] = kafka.sasl_password
    if kafka.security_protocol in ("SSL", "SASL_SSL"):
        opts["ssl_context"] = ssl_context(kafka)
    return opts


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    if kafka.ssl_certfile:
        ctx.load_cert_chain(str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None)
    return ctx

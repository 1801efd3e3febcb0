"""Which Kafka log an offset belongs to: '<cluster id>/<topic id>'.

Offsets only mean something within one log. A cluster id alone is not enough: the
embedded broker (Tansu, in memory) reports the same cluster id on every start while its
topics start again at offset 0, and a deleted and re-created Kafka topic restarts too.
The topic id (a UUID the broker gives each topic at creation, Metadata v10+) tells
those logs apart, so offsets stored for an earlier log are never applied to a new one.
"""

from __future__ import annotations

from collections.abc import Iterable

from glassbox.common.settings import KafkaSettings

_NO_TOPIC_ID = {"", "AAAAAAAAAAAAAAAAAAAAAA", "00000000-0000-0000-0000-000000000000"}


def log_id(cluster_id: str, topic_id: str | None) -> str:
    """The log id of a topic; with an unknown topic id it falls back to the cluster id alone."""
    topic = "" if topic_id is None or str(topic_id) in _NO_TOPIC_ID else str(topic_id)
    return f"{cluster_id}/{topic}"


def describe_logs(kafka: KafkaSettings, topics: Iterable[str], timeout_ms: int = 10_000) -> dict[str, str]:
    """Topic → log id for existing topics (blocking: run it in a thread)."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=kafka.servers, request_timeout_ms=timeout_ms, **kafka.kafka_python_options()
    )
    try:
        cluster_id = str(admin.describe_cluster().get("cluster_id") or "")
        described = admin.describe_topics(sorted(set(topics)))
    finally:
        admin.close()
    return {
        str(topic["name"]): log_id(cluster_id, topic.get("topic_id"))
        for topic in described
        if not topic.get("error_code")
    }

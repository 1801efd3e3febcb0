"""The topic registry: every Kafka topic Glassbox uses, its key, partitions, retention and contract.

``schemas/topics/*.yaml`` is generated from this registry (``glassbox schemas export``)
and a test fails when the checked-in files drift from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from glassbox.models.deadletter import DeadLetter
from glassbox.models.evaluation import EvaluationRequest, EvaluationResult
from glassbox.models.metrics import PipelineMetrics
from glassbox.models.records import DatasetRecord
from glassbox.models.span import SCHEMA_VERSION, SpanEvent
from glassbox.models.trace import AssembledTrace

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    """Topic name (a prefix from GLASSBOX_KAFKA_TOPIC_PREFIX goes in front)."""
    key: str
    """What the message key is."""
    partitions: int
    """Default partition count; trace-keyed topics follow GLASSBOX_PIPELINE_SPANS_PARTITIONS."""
    keyed_by_trace: bool
    retention_ms: int
    schema_name: str
    """File stem of the JSON Schema in schemas/events/."""
    schema_version: int
    description: str
    cleanup_policy: str = "delete"

    def full_name(self, prefix: str = "") -> str:
        return f"{prefix}{self.name}"


SPANS = TopicSpec(
    name="glassbox.spans",
    key="trace id (32 hex digits)",
    partitions=6,
    keyed_by_trace=True,
    retention_ms=7 * DAY_MS,
    schema_name="span-message",
    schema_version=SCHEMA_VERSION,
    description="Span events from instrumented apps: one span event (object) or a batch of one trace (array).",
)
TRACES = TopicSpec(
    name="glassbox.traces",
    key="trace id",
    partitions=6,
    keyed_by_trace=True,
    retention_ms=7 * DAY_MS,
    schema_name="assembled-trace",
    schema_version=1,
    description="Assembled traces with their metrics; a late span produces a higher version of the same trace.",
)
EVALUATION_REQUESTS = TopicSpec(
    name="glassbox.evaluation-requests",
    key="trace id",
    partitions=6,
    keyed_by_trace=True,
    retention_ms=3 * DAY_MS,
    schema_name="evaluation-request",
    schema_version=1,
    description="Sampled traces with the evaluators to run on them.",
)
EVALUATION_RESULTS = TopicSpec(
    name="glassbox.evaluation-results",
    key="trace id",
    partitions=6,
    keyed_by_trace=True,
    retention_ms=7 * DAY_MS,
    schema_name="evaluation-result",
    schema_version=1,
    description="Scores, verdicts and failure categories with evidence; skipped and errored runs too.",
)
DEAD_LETTERS = TopicSpec(
    name="glassbox.dead-letters",
    key="source topic",
    partitions=2,
    keyed_by_trace=False,
    retention_ms=30 * DAY_MS,
    schema_name="dead-letter",
    schema_version=1,
    description="Messages no stage could accept: raw bytes (base64), reason, source topic, partition and offset.",
)

PIPELINE_METRICS = TopicSpec(
    name="glassbox.pipeline-metrics",
    key="stage",
    partitions=1,
    keyed_by_trace=False,
    retention_ms=3 * DAY_MS,
    schema_name="pipeline-metrics",
    schema_version=1,
    description="Each stage's own figures (throughput, dead letters, lag) every reporting interval; "
    "the sink stores them in pipeline_metrics.",
)

DATASET_RECORDS = TopicSpec(
    name="glassbox.dataset-records",
    key="table name",
    partitions=1,
    keyed_by_trace=False,
    retention_ms=7 * DAY_MS,
    schema_name="dataset-record",
    schema_version=1,
    description="Rows of the dataset, prompt and experiment tables sent by CLI processes while the embedded "
    "stack owns ClickHouse; its dataset-records service stores them (one partition: stored in the order sent).",
)

REGISTRY: tuple[TopicSpec, ...] = (
    SPANS,
    TRACES,
    EVALUATION_REQUESTS,
    EVALUATION_RESULTS,
    DEAD_LETTERS,
    PIPELINE_METRICS,
    DATASET_RECORDS,
)

SCHEMA_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "span-event": TypeAdapter(SpanEvent),
    "span-message": TypeAdapter(SpanEvent | list[SpanEvent]),
    "assembled-trace": TypeAdapter(AssembledTrace),
    "evaluation-request": TypeAdapter(EvaluationRequest),
    "evaluation-result": TypeAdapter(EvaluationResult),
    "dead-letter": TypeAdapter(DeadLetter),
    "pipeline-metrics": TypeAdapter(PipelineMetrics),
    "dataset-record": TypeAdapter(DatasetRecord),
}


def partitions_for(spec: TopicSpec, spans_partitions: int) -> int:
    """Trace-keyed topics share the spans topic's partition count, so a trace maps to the same partition."""
    return spans_partitions if spec.keyed_by_trace else spec.partitions


def by_name(name: str) -> TopicSpec:
    for spec in REGISTRY:
        if spec.name == name:
            return spec
    raise KeyError(name)

"""Storing the traces that experiments and replays make, so they show up as normal traces.

- With a pipeline (the running stack, or ``GLASSBOX_KAFKA_BOOTSTRAP_SERVERS`` set): the SDK already
  forwarded the spans to the spans topic (see :mod:`glassbox.datasets.capture`), where the
  assembler and the sink store them; the run's own evaluation results are published on the
  evaluation-results topic, which the sink stores too.
- Without one (this process owns ClickHouse): the spans, the assembled trace and the evaluation
  results are inserted here, as the sink would store them (its own row functions), marked with
  the source ``glassbox-datasets`` instead of a Kafka offset.

Rows are idempotent either way: spans, traces and evaluations are ReplacingMergeTree tables keyed
by their ids, so a trace stored both ways, or twice, is one trace.
"""

from __future__ import annotations

from typing import Any

from glassbox.datasets.backend import Backend
from glassbox.models.evaluation import EvaluationResult
from glassbox.models.trace import AssembledTrace

SOURCE_LOG = "glassbox-datasets"


class TraceWriter:
    """Stores run traces and their evaluation results for one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._producer: Any = None
        self.published = 0
        self.inserted_spans = 0

    @property
    def through_pipeline(self) -> bool:
        return self.backend.kafka is not None

    def store(self, trace: AssembledTrace, results: list[EvaluationResult]) -> None:
        if self.through_pipeline:
            self._publish(results)
        elif self.backend.direct_client is not None:
            self._insert(trace, results)

    def _insert(self, trace: AssembledTrace, results: list[EvaluationResult]) -> None:
        from glassbox.sink.rows import evaluation_row, trace_row
        from glassbox.sink.span_rows import span_row
        from glassbox.sink.tables import EVALUATIONS, SPANS, TRACES, Source

        source = Source(SOURCE_LOG, "", -1, 0)
        client, database = self.backend.direct_client, self.backend.database
        spans = [span_row(span, source) for span in trace.spans]
        client.insert(SPANS.name, spans, column_names=list(SPANS.columns), database=database)
        client.insert(TRACES.name, [trace_row(trace, source)], column_names=list(TRACES.columns), database=database)
        if results:
            rows = [evaluation_row(r, source) for r in results]
            client.insert(EVALUATIONS.name, rows, column_names=list(EVALUATIONS.columns), database=database)
        self.inserted_spans += len(spans)

    def _publish(self, results: list[EvaluationResult]) -> None:
        if not results:
            return
        from glassbox.models.topics import EVALUATION_RESULTS

        kafka = self.backend.kafka
        assert kafka is not None
        if self._producer is None:
            from kafka import KafkaProducer

            self._producer = KafkaProducer(
                bootstrap_servers=kafka.servers, acks="all", linger_ms=5, **kafka.kafka_python_options()
            )
        topic = EVALUATION_RESULTS.full_name(kafka.topic_prefix)
        for result in results:
            value = result.model_dump_json(exclude_none=True).encode()
            self._producer.send(topic, key=result.trace_id.encode(), value=value)
        self._producer.flush(30)
        self.published += len(results)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(5)
            self._producer = None

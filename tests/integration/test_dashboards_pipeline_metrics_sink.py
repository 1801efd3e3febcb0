"""Pipeline health data end to end: the sink stores its own figures and the stages' reports (Tansu + chDB)."""

from __future__ import annotations

from glassbox.common.clickhouse import Client
from glassbox.common.kafka import topic_name
from glassbox.common.metrics import MetricsReporter
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
from glassbox.models import topics as registry
from glassbox.sink.consumer import Sink
from tests.support.clickhouse import produce, running, scalar, span_message, trace_of_every_kind, wait_for


async def test_sink_writes_its_own_figures_and_the_reports_of_other_stages(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, ch_settings: ClickHouseSettings, migrated: Client
) -> None:
    """With a short interval the sink records rows inserted per table, batch latency samples and consumer lag
    (Stage 'sink'), and stores an assembler report published on the pipeline-metrics topic point by point."""
    pipeline = pipeline_settings.model_copy(update={"metrics_interval_s": 0.5})
    spans = trace_of_every_kind()
    totals = {"messages": 3, "spans": 12, "dead_letters": 1, "by_reason": {"malformed_json": 1}}
    reporter = MetricsReporter("assembler", lambda: totals, instance="assembler-test", interval_s=10.0)
    report, _ = reporter.record()
    produce(topics.bootstrap_servers, [
        (topic_name(registry.SPANS, topics), spans[0].trace_id.encode(), span_message(spans)),
        (topic_name(registry.PIPELINE_METRICS, topics), b"assembler", report.model_dump_json().encode()),
    ])  # fmt: skip
    db = ch_settings.database
    sink = Sink(topics, ch_settings, pipeline)

    def stored() -> bool:
        sink_rows = scalar(
            migrated,
            "SELECT countIf(Stage = 'sink' AND Name = 'rows_inserted' AND Labels['table'] = 'spans' AND Value > 0) "
            f"FROM {db}.pipeline_metrics",
        )
        assembler = scalar(migrated, f"SELECT countIf(Stage = 'assembler') FROM {db}.pipeline_metrics")
        lag = scalar(migrated, f"SELECT countIf(Name = 'consumer_lag') FROM {db}.pipeline_metrics")
        return bool(sink_rows and assembler and lag)

    async with running(sink):
        assert await wait_for(stored, within=40)

    points = migrated.query(
        f"SELECT Name, Kind, Value, Labels, Instance, _topic FROM {db}.pipeline_metrics WHERE Stage = 'assembler' "
        "ORDER BY Name, Labels['key']"
    ).result_rows
    topic = topic_name(registry.PIPELINE_METRICS, topics)
    assert points == [
        ("by_reason", "counter", 1.0, {"key": "malformed_json"}, "assembler-test", topic),
        ("dead_letters", "counter", 1.0, {}, "assembler-test", topic),
        ("messages", "counter", 3.0, {}, "assembler-test", topic),
        ("spans", "counter", 12.0, {}, "assembler-test", topic),
    ]
    spans_rows = scalar(migrated, f"SELECT sum(Value) FROM {db}.pipeline_metrics WHERE Stage = 'sink' "
                                  "AND Name = 'rows_inserted' AND Labels['table'] = 'spans'")  # fmt: skip
    assert spans_rows == len(spans)
    latency = migrated.query(f"SELECT Kind, Labels['table'], Value FROM {db}.pipeline_metrics "
                             "WHERE Name = 'batch_latency_ms' AND Labels['table'] = 'spans'").result_rows  # fmt: skip
    assert latency and all(kind == "sample" and value > 0 for kind, _, value in latency)
    partitions = {r[0] for r in migrated.query(f"SELECT Labels['topic'] FROM {db}.pipeline_metrics "
                                                "WHERE Name = 'consumer_lag'").result_rows}  # fmt: skip
    assert topic_name(registry.SPANS, topics) in partitions
    assert scalar(migrated, f"SELECT count() FROM {db}.sink_offsets WHERE `Table` = 'pipeline_metrics'") == 1

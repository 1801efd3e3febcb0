"""The stages' health reports (pipeline-metrics topic) and the sink's own figures, as rows (no engines)."""

from __future__ import annotations

import asyncio
import json

from glassbox.common.metrics import MetricsReporter, flatten
from glassbox.models.metrics import PipelineMetrics
from glassbox.sink.metrics import SELF_SOURCE, SinkMetrics
from glassbox.sink.process import TopicRole, process_message
from glassbox.sink.stats import SinkStats
from glassbox.sink.tables import PIPELINE_METRICS, Source


def test_flatten_turns_nested_counts_into_labelled_points() -> None:
    """Numbers are points, mappings give one point per key, everything else is ignored."""
    values = {"spans": 5, "by_reason": {"malformed_json": 2, "invalid": 1}, "ok": True, "name": "x", "none": None}
    assert flatten(values) == [("spans", {}, 5.0), ("by_reason", {"key": "malformed_json"}, 2.0),
                               ("by_reason", {"key": "invalid"}, 1.0)]  # fmt: skip


def test_counters_are_reported_as_increases_and_gauges_as_readings() -> None:
    """The second report carries what happened since the first; a gauge is its value; lag is a labelled gauge."""
    totals = {"spans": 10, "inflight": 4}
    reporter = MetricsReporter("evaluator", lambda: totals, gauges={"inflight"}, instance="w-1",
                               lags=lambda: {("glassbox.traces", 2): 7})  # fmt: skip
    first, sent = reporter.record()
    reporter.mark_sent(sent)
    totals.update(spans=25, inflight=1)
    second, _ = reporter.record()
    points = {(p.name, p.kind.value): (p.value, p.labels) for p in second.points}
    assert points == {("spans", "counter"): (15.0, {}), ("inflight", "gauge"): (1.0, {}),
                      ("consumer_lag", "gauge"): (7.0, {"topic": "glassbox.traces", "partition": "2"})}  # fmt: skip
    assert first.points[0].value == 10.0 and second.instance == "w-1" and second.stage == "evaluator"


def test_a_failed_send_is_counted_and_reported_again_next_time() -> None:
    """publish never raises; the increase that was not sent goes out with the next record."""
    totals = {"spans": 3}
    reporter = MetricsReporter("assembler", lambda: totals)
    sent: list[bytes] = []

    async def broken(key: bytes, value: bytes) -> None:
        raise ConnectionError("broker down")

    async def working(key: bytes, value: bytes) -> None:
        sent.append(value)

    assert asyncio.run(reporter.publish(broken)) is None and reporter.failed == 1
    totals["spans"] = 5
    report = asyncio.run(reporter.publish(working))
    assert report is not None and report.points[0].value == 5.0
    assert PipelineMetrics.model_validate_json(sent[0]).points[0].value == 5.0


def test_a_report_becomes_one_row_per_point() -> None:
    """The sink stores a report from the topic as pipeline_metrics rows with the source metadata."""
    report = MetricsReporter("assembler", lambda: {"spans": 2, "by_reason": {"invalid": 1}}, instance="a-1").record()[0]
    source = Source("c/t", "glassbox.pipeline-metrics", 0, 42, b"assembler")
    out = process_message(TopicRole.METRICS, report.model_dump_json().encode(), source, max_bytes=1 << 20)
    rows = [dict(zip(PIPELINE_METRICS.columns, p.row, strict=True)) for p in out.rows[PIPELINE_METRICS.name]]
    assert [(r["Stage"], r["Name"], r["Kind"], r["Value"], r["Labels"], r["_offset"]) for r in rows] == [
        ("assembler", "spans", "counter", 2.0, {}, 42),
        ("assembler", "by_reason", "counter", 1.0, {"key": "invalid"}, 42),
    ]


def test_an_invalid_report_is_a_dead_letter() -> None:
    """A report that fails validation becomes a dead letter, like any invalid message on Glassbox's topics."""
    bad = json.dumps({"schema_version": 1, "stage": "x", "instance": "i", "interval_s": 0, "recorded_at_unix_nano": 1})
    out = process_message(TopicRole.METRICS, bad.encode(), Source("c", "t", 0, 1), max_bytes=1 << 20)
    assert out.invalid and list(out.rows) == ["dead_letters"]


def test_sink_figures_become_counters_samples_and_lag_gauges() -> None:
    """Rows inserted per table (increase), one latency sample per batch, one lag gauge per partition."""
    metrics, stats = SinkMetrics(10.0, instance="sink-1"), SinkStats()
    stats.count_rows("spans", 100)
    stats.retries = 1
    metrics.observe_batch("spans", 100, 0.025)
    metrics.rows(stats, {})
    stats.count_rows("spans", 40)
    metrics.observe_batch("spans", 40, 0.010)
    rows = [dict(zip(PIPELINE_METRICS.columns, p.row, strict=True)) for p in metrics.rows(stats, {("t", 1): 9})]
    by_name = {(r["Name"], r["Labels"].get("table", "")): r for r in rows}
    assert by_name[("rows_inserted", "spans")]["Value"] == 40.0
    assert by_name[("retries", "")]["Value"] == 0.0
    assert by_name[("batch_latency_ms", "spans")]["Kind"] == "sample"
    assert by_name[("batch_latency_ms", "spans")]["Value"] == 10.0
    assert by_name[("consumer_lag", "")]["Labels"] == {"topic": "t", "partition": "1"}
    assert all(r["Stage"] == "sink" and r["_topic"] == SELF_SOURCE.topic == "" for r in rows)

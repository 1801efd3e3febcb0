"""Rows through the batch writer into chDB: values per span kind, Grafana's trace query, rollups, refused rows."""

from __future__ import annotations

import time
from typing import Any

from glassbox.common.clickhouse import Client
from glassbox.common.settings import ClickHouseSettings
from glassbox.models.span import SpanBase
from glassbox.sink.batch import Batch
from glassbox.sink.process import PendingRow
from glassbox.sink.rows import evaluation_row, trace_row
from glassbox.sink.span_rows import span_row
from glassbox.sink.tables import Source
from glassbox.sink.writer import BatchWriter, WriteResult
from tests.support.clickhouse import (
    make_result,
    make_span,
    make_trace,
    new_trace_id,
    scalar,
    span_message,
    trace_of_every_kind,
)

LOG = "cluster/topic-id"


def _span_batch(spans: list[SpanBase], *, partition: int = 0, first_offset: int = 0) -> Batch:
    """One message per span, at consecutive offsets."""
    rows = []
    for i, span in enumerate(spans):
        source = Source(LOG, "glassbox.spans", partition, first_offset + i, span.trace_id.encode())
        rows.append(PendingRow(span_row(span, source), source, 0, span_message([span])))
    return Batch("spans", rows, {("glassbox.spans", partition): first_offset})


def _batch(table: str, rows: list[list[Any]], topic: str) -> Batch:
    source = Source(LOG, topic, 0, 0)
    return Batch(table, [PendingRow(row, source, -1, b"") for row in rows], {})


def test_every_span_kind_reads_back_with_its_values(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """One span of each kind: OTel columns, typed columns and SpanAttributes hold the span's values."""
    spans = trace_of_every_kind()
    writer = BatchWriter(migrated, ch_settings.database)
    assert writer.write(_span_batch(spans)) == WriteResult(inserted=len(spans))
    db = ch_settings.database
    rows = migrated.query(
        f"SELECT Kind, SpanKind, Operation, Model, Provider, InputTokens, OutputTokens, CachedTokens, ReasoningTokens, "
        f"TtftMs, PromptName, ToolName, IsError, ServiceName, Environment, Release "
        f"FROM {db}.spans ORDER BY Kind"
    ).result_rows
    common = ("support-bot", "production", "2026.11.3")
    assert rows == [
        ("agent", "Internal", "invoke_agent", "", "", 0, 0, 0, 0, None, "", "", False, *common),
        ("embedding", "Client", "embeddings", "text-embedding-3-small", "openai", 40, 0, 0, 0, None, "", "", False,
         *common),
        ("generation", "Client", "chat", "gpt-4o-mini-2024-07-18", "openai", 412, 23, 256, 7, 420.5, "support-answer",
         "", False, *common),
        ("guardrail", "Internal", "guardrail", "", "", 0, 0, 0, 0, None, "", "", False, *common),
        ("retrieval", "Client", "retrieval", "", "", 0, 0, 0, 0, None, "", "", False, *common),
        ("span", "Internal", "", "", "", 0, 0, 0, 0, None, "", "", False, *common),
        ("tool", "Internal", "execute_tool", "", "", 0, 0, 0, 0, None, "", "lookup_order", False, *common),
    ]  # fmt: skip
    attributes = dict(
        migrated.query(f"SELECT Kind, SpanAttributes FROM {db}.spans WHERE Kind IN ('generation', 'tool')").result_rows
    )
    assert attributes["generation"]["gen_ai.usage.input_tokens"] == "412"
    assert attributes["generation"]["gen_ai.request.temperature"] == "0.2"
    assert attributes["generation"]["gen_ai.input.messages"] == '[{"role":"user","content":"hi"}]'
    assert attributes["tool"]["gen_ai.tool.call.arguments"] == '{"order_id":"A4160"}'
    assert attributes["tool"]["glassbox.span.kind"] == "tool"
    timing = migrated.query(
        f"SELECT toUnixTimestamp64Nano(Timestamp), Duration FROM {db}.spans WHERE SpanId = '{spans[0].span_id}'"
    ).result_rows
    assert timing == [(spans[0].start_time_unix_nano, spans[0].duration_ns)]


def test_grafana_trace_view_query_runs_on_spans_and_on_the_otel_view(
    migrated: Client, ch_settings: ClickHouseSettings
) -> None:
    """The query Grafana's ClickHouse plugin builds for a trace id (OTel mode, *_trace_id_ts lookup) finds the trace."""
    error_event = {"name": "exception", "time_unix_nano": time.time_ns(), "attributes": {"exception.type": "KeyError"}}
    spans = trace_of_every_kind()
    spans.append(make_span("tool", trace_id=spans[0].trace_id, parent=spans[0].span_id, name="failing-tool",
                           status={"code": "error", "message": "boom"}, events=[error_event]))  # fmt: skip
    BatchWriter(migrated, ch_settings.database).write(_span_batch(spans))
    for table in ("spans", "otel_traces"):
        query = f"""
            WITH '{spans[0].trace_id}' as trace_id,
              (SELECT min(Start) FROM "{ch_settings.database}"."{table}_trace_id_ts" WHERE TraceId = trace_id) as trace_start,
              (SELECT max(End) + 1 FROM "{ch_settings.database}"."{table}_trace_id_ts" WHERE TraceId = trace_id) as trace_end
            SELECT "TraceId" as traceID, "SpanId" as spanID, "ParentSpanId" as parentSpanID, "ServiceName" as serviceName,
              "SpanName" as operationName, multiply(toUnixTimestamp64Nano("Timestamp"), 0.000001) as startTime,
              multiply("Duration", 0.000001) as duration,
              arrayMap(key -> map('key', key, 'value',"SpanAttributes"[key]), mapKeys("SpanAttributes")) as tags,
              arrayMap(key -> map('key', key, 'value',"ResourceAttributes"[key]), mapKeys("ResourceAttributes")) as serviceTags,
              if("StatusCode" IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) as statusCode,
              arrayMap((name, timestamp, attributes) -> tuple(name, toString(toUnixTimestamp64Milli(timestamp)),
                arrayMap( key -> map('key', key, 'value', attributes[key]), mapKeys(attributes)))::Tuple(name String,
                timestamp String, fields Array(Map(String, String))), "Events".Name, "Events".Timestamp,
                "Events".Attributes) AS logs,
              "SpanKind" as kind, "StatusMessage" as statusMessage, "ScopeName" as instrumentationLibraryName
            FROM "{ch_settings.database}"."{table}"
            WHERE traceID = trace_id AND "Timestamp" >= trace_start AND "Timestamp" <= trace_end
            ORDER BY startTime ASC LIMIT 1000
        """  # noqa: E501
        result = migrated.query(query)
        assert len(result.result_rows) == len(spans), table
        by_name = {row[4]: dict(zip(result.column_names, row, strict=True)) for row in result.result_rows}
        failing = by_name["failing-tool"]
        assert (failing["statusCode"], failing["statusMessage"], by_name["tool-step"]["statusCode"]) == (2, "boom", 0)
        assert [log["name"] for log in failing["logs"]] == ["exception"], table
        assert by_name["answer_question"]["parentSpanID"] == "" and by_name["answer_question"]["kind"] == "Internal"
        assert {"key": "service.name", "value": "support-bot"} in by_name["answer_question"]["serviceTags"]


def test_rollups_hold_what_was_inserted(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """spans_1m: token, cost sums and duration/TTFT digests; traces_1m: first emissions; evaluations_1m: scores."""
    writer = BatchWriter(migrated, ch_settings.database)
    spans = trace_of_every_kind() + trace_of_every_kind()
    writer.write(_span_batch(spans))
    traces = [make_trace(spans[:7]), make_trace(spans[:7], version=2), make_trace(spans[7:], max_repeated_tool_calls=3)]
    writer.write(_batch("traces", [trace_row(t, Source(LOG, "traces", 0, i)) for i, t in enumerate(traces)], "traces"))
    results = [make_result(new_trace_id(), score=s, status="passed") for s in (0.5, 1.0)]
    writer.write(_batch("evaluations", [evaluation_row(r, Source(LOG, "r", 0, 0)) for r in results], "r"))
    db = ch_settings.database
    generation = migrated.query(
        f"SELECT sum(Spans), sum(InputTokens), sum(CachedTokens), round(sum(CostUsd), 9), "
        f"quantileTDigestMerge(0.5)(TtftQuantiles), quantileTDigestMerge(0.5)(DurationQuantiles) "
        f"FROM {db}.spans_1m WHERE Kind = 'generation'"
    ).result_rows
    assert generation == [(2, 824, 512, 0.0001512, 420.5, 25_000_000.0)]
    assert scalar(migrated, f"SELECT sum(Spans) FROM {db}.spans_1m") == 14
    assert migrated.query(f"SELECT sum(Traces), sum(LoopingTraces), sum(Spans) FROM {db}.traces_1m").result_rows == [
        (2, 1, 14)
    ]
    assert migrated.query(
        f"SELECT sum(Evaluations), sum(ScoreSum) / sum(Scored) FROM {db}.evaluations_1m WHERE Status = 'passed'"
    ).result_rows == [(2, 0.75)]
    latest = migrated.query(f"SELECT Version FROM {db}.traces FINAL WHERE TraceId = '{spans[0].trace_id}'")
    assert latest.result_rows == [(2,)]


def test_a_retried_batch_is_stored_once_rollups_included(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """Writing the same batch again (an insert whose outcome was unknown) is deduplicated by its token."""
    writer = BatchWriter(migrated, ch_settings.database)
    batch = _span_batch(trace_of_every_kind())
    writer.write(batch)
    writer.write(batch)
    db = ch_settings.database
    assert scalar(migrated, f"SELECT count() FROM {db}.spans") == 7
    assert scalar(migrated, f"SELECT sum(Spans) FROM {db}.spans_1m") == 7


def test_a_span_sent_twice_in_one_batch_collapses_in_final_not_on_insert(
    migrated: Client, ch_settings: ClickHouseSettings
) -> None:
    """Spans inserts skip the insert-time collapse (optimize_on_insert = 0): a span an application sent twice is
    two rows until a merge, like a repeat in two batches; FINAL (and OPTIMIZE) count it once."""
    writer = BatchWriter(migrated, ch_settings.database)
    spans = trace_of_every_kind()
    assert writer.write(_span_batch([*spans, spans[0]])) == WriteResult(inserted=len(spans) + 1)
    db = ch_settings.database
    assert scalar(migrated, f"SELECT count() FROM {db}.spans") == len(spans) + 1
    assert scalar(migrated, f"SELECT count() FROM {db}.spans FINAL") == len(spans)
    assert scalar(migrated, f"SELECT count() FROM {db}.otel_traces") == len(spans)
    migrated.command(f"OPTIMIZE TABLE {db}.spans FINAL")
    assert scalar(migrated, f"SELECT count() FROM {db}.spans") == len(spans)


def test_refused_rows_are_isolated_without_partial_inserts(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """Two rows that do not fit their columns, among twenty: 18 stored in one insert, 2 dead letters with offsets."""
    trace_id = new_trace_id()
    spans = [make_span("span", trace_id=trace_id, name=f"ok-{i}") for i in range(20)]
    for index in (3, 17):
        spans[index] = make_span("generation", trace_id=trace_id, name=f"bad-{index}",
                                 payload={"gen_ai.usage.output_tokens": 2**64 + index})  # fmt: skip
    batch = _span_batch(spans, partition=1, first_offset=100)
    result = BatchWriter(migrated, ch_settings.database).write(batch)
    assert (result.inserted, result.refused, result.dead_letters, result.dropped) == (18, 2, 2, 0)
    assert result.probes < 20
    db = ch_settings.database
    assert scalar(migrated, f"SELECT count() FROM {db}.spans WHERE SpanName LIKE 'ok-%'") == 18
    letters = migrated.query(
        f"SELECT SourcePartition, SourceOffset, ErrorType, Stage FROM {db}.dead_letters ORDER BY SourceOffset"
    ).result_rows
    assert letters == [(1, 103, "storage", "sink"), (1, 117, "storage", "sink")]
    stored = BatchWriter(migrated, db).stored_offsets([(LOG, "glassbox.spans", 1), (LOG, "other", 0)])
    assert stored == {(LOG, "glassbox.spans", 1): {"spans": 119, "dead_letters": 117}}

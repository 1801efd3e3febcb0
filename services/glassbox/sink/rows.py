"""Assembled traces (their summaries), EvaluationResult, DeadLetter and PipelineMetrics → rows of their tables.

Pure functions: a validated model in, column values out in the order of the
table's column list in :mod:`glassbox.sink.tables`. Spans are in :mod:`glassbox.sink.span_rows`.
"""

from __future__ import annotations

from typing import Any

from glassbox.models.deadletter import DeadLetter
from glassbox.models.evaluation import EvaluationResult
from glassbox.models.metrics import PipelineMetrics
from glassbox.models.trace import TraceSummary
from glassbox.sink.convert import json_text, preview
from glassbox.sink.tables import Source


def trace_row(trace: TraceSummary, source: Source) -> list[Any]:
    """One ``traces`` row; the span list is not stored here (the spans table has every span)."""
    m = trace.metrics
    return [
        trace.trace_id,
        trace.version,
        trace.status.value,
        trace.root_span_id or "",
        trace.name,
        trace.service_name,
        trace.environment or "",
        trace.release or "",
        trace.session_id or "",
        trace.user_id or "",
        trace.cohort or "",
        list(trace.tags),
        list(trace.models),
        list(trace.prompt_versions),
        trace.start_time_unix_nano,
        trace.end_time_unix_nano,
        m.duration_ns,
        m.span_count,
        m.depth,
        m.llm_calls,
        m.input_tokens,
        m.output_tokens,
        m.cached_input_tokens,
        m.reasoning_tokens,
        m.cost_usd,
        m.first_ttft_ms,
        m.llm_time_ns,
        m.error_count,
        m.tool_calls,
        m.tool_errors,
        m.retrievals,
        m.empty_retrievals,
        m.embeddings,
        m.guardrail_failures,
        m.agent_steps,
        m.max_repeated_tool_calls,
        m.repeated_tool or "",
        m.orphan_spans,
        list(m.critical_path),
        list(m.critical_path_names),
        trace.has_error,
        json_text(trace.input),
        json_text(trace.output),
        trace.spans_truncated,
        trace.assembled_at_unix_nano,
        *source.metadata(),
    ]


def evaluation_row(result: EvaluationResult, source: Source) -> list[Any]:
    """One ``evaluations`` row; evidence as JSON text."""
    return [
        result.evaluation_id,
        result.trace_id,
        result.trace_version,
        result.span_id or "",
        result.evaluator,
        result.evaluator_version,
        result.evaluator_type.value,
        result.status.value,
        result.score,
        result.label or "",
        result.reason,
        result.failure_category.value if result.failure_category else "",
        json_text(result.evidence),
        result.service_name,
        result.environment or "",
        list(result.prompt_versions),
        result.judge_model or "",
        result.judge_input_tokens,
        result.judge_output_tokens,
        result.judge_cost_usd,
        result.latency_ms,
        result.created_at_unix_nano,
        *source.metadata(),
    ]


def dead_letter_row(letter: DeadLetter, source: Source) -> list[Any]:
    """One ``dead_letters`` row: raw bytes as they were, plus a UTF-8-safe preview."""
    raw = letter.raw
    return [
        letter.id,
        letter.stage,
        letter.source_topic,
        letter.partition,
        letter.offset,
        letter.index,
        letter.key or "",
        letter.error_type.value,
        letter.reason,
        raw,
        letter.raw_size,
        preview(raw),
        letter.created_at_unix_nano,
        *source.metadata(),
    ]


def metrics_rows(report: PipelineMetrics, source: Source) -> list[list[Any]]:
    """One ``pipeline_metrics`` row per point of a stage's report (timestamp in milliseconds)."""
    millis = report.recorded_at_unix_nano // 1_000_000
    return [
        [
            millis,
            report.stage,
            report.instance,
            point.name,
            point.kind.value,
            point.value,
            dict(point.labels),
            report.interval_s,
            *source.metadata(),
        ]
        for point in report.points
    ]

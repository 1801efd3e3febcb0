"""The metrics an alert rule can watch: where each one is read from and how it is computed.

Every metric reads one table over the rule's window: the per-minute rollups where they answer
exactly (rates, quantiles, cost), the raw tables with FINAL where a replaced row must count once
(evaluations, dead letters). ``dimensions`` are what a rule may group by or filter on.
"""

from __future__ import annotations

from dataclasses import dataclass

_SPAN_DIMS = {
    "service": "ServiceName",
    "environment": "Environment",
    "model": "Model",
    "prompt_version": "if(PromptVersion = '', PromptName, concat(PromptName, '@', PromptVersion))",
    "cohort": "Cohort",
}
_TRACE_DIMS = {"service": "ServiceName", "environment": "Environment", "cohort": "Cohort"}
_EVAL_DIMS = {"service": "ServiceName", "environment": "Environment", "evaluator": "Evaluator",
              "category": "FailureCategory"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Metric:
    """How a metric is computed. ``{q}`` in ``value`` is the rule's quantile; ``{window_s}`` its window."""

    name: str
    description: str
    table: str
    time_column: str
    value: str
    count: str
    """How many observations the value rests on (compared with a rule's min_count)."""
    dimensions: dict[str, str]
    conditions: tuple[str, ...] = ()
    evaluator_param: str = "none"
    """'none', 'optional' or 'required': whether the rule names an evaluator."""
    quantile: bool = False
    default_min_count: int = 1
    unit: str = ""


def _metrics() -> dict[str, Metric]:
    spans, traces, evals = "spans_1m", "traces_1m", "evaluations FINAL"
    items = [
        Metric("trace_error_rate", "share of traces with an error span", traces, "Minute",
               "sum(ErrorTraces) / nullIf(sum(Traces), 0)", "sum(Traces)", _TRACE_DIMS, unit="ratio"),
        Metric("tool_error_rate", "share of tool calls that ended in an error", spans, "Minute",
               "sum(Errors) / nullIf(sum(Spans), 0)", "sum(Spans)", _SPAN_DIMS, ("Kind = 'tool'",), unit="ratio"),
        Metric("llm_error_rate", "share of LLM calls that ended in an error", spans, "Minute",
               "sum(Errors) / nullIf(sum(Spans), 0)", "sum(Spans)", _SPAN_DIMS, ("Kind = 'generation'",),
               unit="ratio"),
        Metric("trace_latency_ms", "quantile of trace duration (ms)", traces, "Minute",
               "quantileTDigestMerge({q})(DurationQuantiles) / 1e6", "sum(Traces)", _TRACE_DIMS, quantile=True,
               unit="ms"),
        Metric("llm_latency_ms", "quantile of LLM call duration (ms)", spans, "Minute",
               "quantileTDigestMerge({q})(DurationQuantiles) / 1e6", "sum(Spans)", _SPAN_DIMS,
               ("Kind = 'generation'",), quantile=True, unit="ms"),
        Metric("ttft_ms", "quantile of time to first token (ms)", spans, "Minute",
               "quantileTDigestMerge({q})(TtftQuantiles)", "sum(Spans)", _SPAN_DIMS, ("Kind = 'generation'",),
               quantile=True, unit="ms"),
        Metric("cost_usd_per_hour", "provider cost per hour (USD)", spans, "Minute",
               "sum(CostUsd) * 3600 / {window_s}", "sum(Spans)", _SPAN_DIMS, default_min_count=0, unit="USD/h"),
        Metric("cost_usd", "provider cost over the window (USD)", spans, "Minute", "sum(CostUsd)", "sum(Spans)",
               _SPAN_DIMS, default_min_count=0, unit="USD"),
        Metric("empty_retrieval_rate", "share of retrievals that returned no document", traces, "Minute",
               "sum(EmptyRetrievals) / nullIf(sum(Retrievals), 0)", "sum(Retrievals)", _TRACE_DIMS, unit="ratio"),
        Metric("loop_rate", "share of traces that repeated an identical tool call", traces, "Minute",
               "sum(LoopingTraces) / nullIf(sum(Traces), 0)", "sum(Traces)", _TRACE_DIMS, unit="ratio"),
        Metric("mean_score", "mean evaluation score (0..1)", evals, "CreatedAt", "avg(Score)", "count()",
               _EVAL_DIMS, ("Status IN ('passed', 'failed')", "Score IS NOT NULL"), evaluator_param="required"),
        Metric("pass_rate", "share of evaluations that passed", evals, "CreatedAt",
               "countIf(Status = 'passed') / nullIf(count(), 0)", "count()", _EVAL_DIMS,
               ("Status IN ('passed', 'failed')",), evaluator_param="optional", unit="ratio"),
        Metric("failed_evaluations", "failed evaluations over the window", evals, "CreatedAt", "count()", "count()",
               _EVAL_DIMS, ("Status = 'failed'",), evaluator_param="optional", default_min_count=0),
        Metric("judge_error_rate", "share of LLM judge runs that errored", evals, "CreatedAt",
               "countIf(Status = 'error') / nullIf(count(), 0)", "count()", _EVAL_DIMS,
               ("EvaluatorType = 'llm_judge'",), evaluator_param="optional", unit="ratio"),
        Metric("judge_cost_usd_per_hour", "LLM judge cost per hour (USD)", "evaluations_1m", "Minute",
               "sum(JudgeCostUsd) * 3600 / {window_s}", "sum(Evaluations)",
               {"service": "ServiceName", "environment": "Environment", "evaluator": "Evaluator"},
               ("EvaluatorType = 'llm_judge'",), evaluator_param="optional", default_min_count=0, unit="USD/h"),
        Metric("dead_letters", "dead letters over the window", "dead_letters FINAL", "CreatedAt", "count()",
               "count()", {"stage": "Stage", "error_type": "ErrorType", "topic": "SourceTopic"},
               default_min_count=0),
        Metric("consumer_lag", "largest consumer lag of one partition (messages)", "pipeline_metrics", "Timestamp",
               "max(Value)", "count()", {"stage": "Stage", "topic": "Labels['topic']"},
               ("Name = 'consumer_lag'",), default_min_count=1),
    ]  # fmt: skip
    return {m.name: m for m in items}


METRICS: dict[str, Metric] = _metrics()

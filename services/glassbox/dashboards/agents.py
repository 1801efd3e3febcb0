"""Agents and RAG: tool errors and latency, loops and iterations; retrieval latency, scores, empty retrievals."""

from __future__ import annotations

from glassbox.dashboards.filters import VARIABLES, where
from glassbox.dashboards.model import Dashboard, Panel, PanelKind, Row

TS, STAT, TABLE, BAR = PanelKind.TIMESERIES, PanelKind.STAT, PanelKind.TABLE, PanelKind.BARCHART
ROLLUP_NOTE = " Per-minute trace rollup: filtered by service, environment and cohort (not model or prompt version)."
SPAN_ROLLUP_NOTE = (
    " Per-minute span rollup: filtered by service, environment and cohort (model and prompt version are "
    "properties of LLM calls)."
)

_TOOLS_1M = where("tool_spans_1m", "Minute", "Kind = 'tool'")
_RETRIEVAL_1M = where("tool_spans_1m", "Minute", "Kind = 'retrieval'")
_T1M = where("traces_1m", "Minute")
_TOOL_SPANS = where("tool_spans", "Timestamp", "Kind = 'tool'")
_RETRIEVAL_SPANS = where("tool_spans", "Timestamp", "Kind = 'retrieval'")
_DOC_SCORES = (
    "arrayMap(d -> JSONExtractFloat(d, 'score'), JSONExtractArrayRaw(SpanAttributes['glassbox.retrieval.documents']))"
)

AGENTS = Row(
    "Agents and tools",
    (
        Panel("Tool error rate", STAT,
              f"SELECT sum(Errors) / nullIf(sum(Spans), 0) AS tool_error_rate\nFROM spans_1m\nWHERE {_TOOLS_1M}",
              ("tool_error_rate",), "Share of tool calls that ended in an error." + SPAN_ROLLUP_NOTE,
              unit="percentunit", width=6, height=4),
        Panel("Looping traces", STAT,
              f"SELECT sum(LoopingTraces) / nullIf(sum(Traces), 0) AS looping_rate\nFROM traces_1m\nWHERE {_T1M}",
              ("looping_rate",), "Share of traces that repeated an identical tool call." + ROLLUP_NOTE,
              unit="percentunit", width=6, height=4),
        Panel("Tool calls", STAT, f"SELECT sum(Spans) AS tool_calls\nFROM spans_1m\nWHERE {_TOOLS_1M}",
              ("tool_calls",), "Tool calls in the range." + SPAN_ROLLUP_NOTE, unit="short", width=6, height=4),
        Panel("Iterations per agent trace", STAT,
              f"SELECT avg(AgentSteps) AS iterations\nFROM traces FINAL\nWHERE {where('traces', 'Start')}\n"
              "  AND AgentSteps > 0",
              ("iterations",), "Mean agent steps of traces that ran an agent.", unit="short", width=6, height=4,
              decimals=1),
        Panel("Tool error rate over time", TS,
              "SELECT $__timeInterval(Minute) AS time, sum(Errors) / nullIf(sum(Spans), 0) AS tool_error_rate\n"
              f"FROM spans_1m\nWHERE {_TOOLS_1M}\nGROUP BY time\nORDER BY time",
              ("time", "tool_error_rate"), "Share of tool calls that ended in an error." + SPAN_ROLLUP_NOTE,
              unit="percentunit", min_interval="1m"),
        Panel("Tool latency p50 / p95", TS,
              "SELECT $__timeInterval(Minute) AS time,\n"
              "  quantileTDigestMerge(0.5)(DurationQuantiles) / 1e6 AS p50_ms,\n"
              "  quantileTDigestMerge(0.95)(DurationQuantiles) / 1e6 AS p95_ms\n"
              f"FROM spans_1m\nWHERE {_TOOLS_1M}\nGROUP BY time\nORDER BY time",
              ("time", "p50_ms", "p95_ms"), "Duration of tool calls." + SPAN_ROLLUP_NOTE, unit="ms",
              min_interval="1m"),
        Panel("Tools", TABLE,
              "SELECT ToolName AS tool, count() AS calls, countIf(IsError) AS errors,\n"
              "  countIf(IsError) / count() AS error_rate,\n"
              "  quantile(0.5)(Duration) / 1e6 AS p50_ms, quantile(0.95)(Duration) / 1e6 AS p95_ms\n"
              f"FROM spans\nWHERE {_TOOL_SPANS}\nGROUP BY tool\nORDER BY calls DESC",
              ("tool", "calls", "errors", "error_rate", "p50_ms", "p95_ms"),
              "Per tool: calls, errors and latency (raw spans)."),
        Panel("Iterations per trace", BAR,
              "SELECT toString(AgentSteps) AS iterations, count() AS traces\n"
              f"FROM traces FINAL\nWHERE {where('traces', 'Start')}\n  AND (AgentSteps > 0 OR ToolCalls > 0)\n"
              "GROUP BY AgentSteps\nORDER BY AgentSteps",
              ("iterations", "traces"), "How many agent steps traces with tools or agents took.",
              unit="short", x_field="iterations"),
        Panel("Looping traces over time", TS,
              "SELECT $__timeInterval(Minute) AS time, sum(LoopingTraces) AS looping_traces,\n"
              "  sum(LoopingTraces) / nullIf(sum(Traces), 0) AS looping_rate\n"
              f"FROM traces_1m\nWHERE {_T1M}\nGROUP BY time\nORDER BY time",
              ("time", "looping_traces", "looping_rate"),
              "Traces that repeated an identical tool call." + ROLLUP_NOTE, min_interval="1m", width=24),
        Panel("Traces with loops or tool errors", TABLE,
              "SELECT TraceId, ServiceName AS service, Name AS name, RepeatedTool AS repeated_tool,\n"
              "  MaxRepeatedToolCalls AS repeats, ToolCalls AS tool_calls, ToolErrors AS tool_errors,\n"
              "  AgentSteps AS iterations, Start AS start\n"
              f"FROM traces FINAL\nWHERE {where('traces', 'Start')}\n"
              "  AND (MaxRepeatedToolCalls > 1 OR ToolErrors > 0)\n"
              "ORDER BY repeats DESC, tool_errors DESC, start DESC\nLIMIT 25",
              ("TraceId", "service", "name", "repeated_tool", "repeats", "tool_calls", "tool_errors", "iterations",
               "start"),
              "Click a trace id for its waterfall.", width=24, trace_column="TraceId"),
    ),
)  # fmt: skip

RAG = Row(
    "Retrieval",
    (
        Panel("Retrieval latency p50 / p95", TS,
              "SELECT $__timeInterval(Minute) AS time,\n"
              "  quantileTDigestMerge(0.5)(DurationQuantiles) / 1e6 AS p50_ms,\n"
              "  quantileTDigestMerge(0.95)(DurationQuantiles) / 1e6 AS p95_ms\n"
              f"FROM spans_1m\nWHERE {_RETRIEVAL_1M}\nGROUP BY time\nORDER BY time",
              ("time", "p50_ms", "p95_ms"), "Duration of retrieval calls." + SPAN_ROLLUP_NOTE, unit="ms",
              min_interval="1m"),
        Panel("Empty retrievals", TS,
              "SELECT $__timeInterval(Minute) AS time, sum(EmptyRetrievals) AS empty_retrievals,\n"
              "  sum(EmptyRetrievals) / nullIf(sum(Retrievals), 0) AS empty_rate\n"
              f"FROM traces_1m\nWHERE {_T1M}\nGROUP BY time\nORDER BY time",
              ("time", "empty_retrievals", "empty_rate"), "Retrievals that returned no document." + ROLLUP_NOTE,
              min_interval="1m"),
        Panel("Retrieval scores", TS,
              f"SELECT $__timeInterval(Timestamp) AS time, avg(arrayMax(scores)) AS top_score,\n"
              "  avg(arrayAvg(scores)) AS mean_score\n"
              f"FROM (SELECT Timestamp, {_DOC_SCORES} AS scores\n      FROM spans\n      WHERE {_RETRIEVAL_SPANS})\n"
              "WHERE notEmpty(scores)\nGROUP BY time\nORDER BY time",
              ("time", "top_score", "mean_score"), "Similarity scores of the retrieved documents (top and mean).",
              min_interval="1m"),
        Panel("Traces with empty retrievals", TABLE,
              "SELECT TraceId, ServiceName AS service, Name AS name, Retrievals AS retrievals,\n"
              "  EmptyRetrievals AS empty_retrievals, HasError AS error, Start AS start\n"
              f"FROM traces FINAL\nWHERE {where('traces', 'Start')}\n  AND EmptyRetrievals > 0\n"
              "ORDER BY start DESC\nLIMIT 25",
              ("TraceId", "service", "name", "retrievals", "empty_retrievals", "error", "start"),
              "Click a trace id for its waterfall.", trace_column="TraceId"),
    ),
)  # fmt: skip

AGENTS_RAG = Dashboard(
    uid="glassbox-agents-rag",
    title="Glassbox · Agents & RAG",
    description="Tool error rate, loops, iterations and tool latency; retrieval latency, scores and empty retrievals.",
    rows=(AGENTS, RAG),
    variables=VARIABLES,
)

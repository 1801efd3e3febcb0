"""Overview: traffic, errors, latency, time to first token, tokens and cost, slowest and costliest traces."""

from __future__ import annotations

from glassbox.dashboards.filters import VARIABLES, where
from glassbox.dashboards.model import Dashboard, Panel, PanelKind, Row

TS, STAT, TABLE, BAR = PanelKind.TIMESERIES, PanelKind.STAT, PanelKind.TABLE, PanelKind.BARCHART
ROLLUP_NOTE = " Per-minute trace rollup: filtered by service, environment and cohort (not model or prompt version)."

_T1M = where("traces_1m", "Minute")
_S1M = where("spans_1m", "Minute")
_GEN = where("spans_1m", "Minute", "Kind = 'generation'")
_RANGE_S = "greatest(1, dateDiff('second', $__fromTime, $__toTime))"

HEADLINES = Row(
    "Traffic and errors",
    (
        Panel("Traces / s", STAT, f"SELECT sum(Traces) / {_RANGE_S} AS traces_per_s\nFROM traces_1m\nWHERE {_T1M}",
              ("traces_per_s",), "Traces started per second over the range." + ROLLUP_NOTE, unit="reqps",
              width=4, height=4, decimals=2),
        Panel("Error rate", STAT,
              f"SELECT sum(ErrorTraces) / nullIf(sum(Traces), 0) AS error_rate\nFROM traces_1m\nWHERE {_T1M}",
              ("error_rate",), "Share of traces with an error span." + ROLLUP_NOTE, unit="percentunit",
              width=4, height=4),
        Panel("p95 latency", STAT,
              f"SELECT quantileTDigestMerge(0.95)(DurationQuantiles) / 1e6 AS p95_ms\nFROM traces_1m\nWHERE {_T1M}",
              ("p95_ms",), "95th percentile of trace duration." + ROLLUP_NOTE, unit="ms", width=4, height=4),
        Panel("TTFT p95", STAT,
              f"SELECT quantileTDigestMerge(0.95)(TtftQuantiles) AS ttft_p95_ms\nFROM spans_1m\nWHERE {_GEN}",
              ("ttft_p95_ms",), "95th percentile of time to first token of streamed LLM calls.", unit="ms",
              width=4, height=4),
        Panel("Tokens", STAT,
              f"SELECT sum(InputTokens) + sum(OutputTokens) AS tokens\nFROM spans_1m\nWHERE {_S1M}",
              ("tokens",), "Input plus output tokens of LLM and embedding calls.", unit="short", width=4, height=4),
        Panel("Cost", STAT, f"SELECT sum(CostUsd) AS cost_usd\nFROM spans_1m\nWHERE {_S1M}",
              ("cost_usd",), "Provider cost of LLM and embedding calls.", unit="currencyUSD", width=4, height=4,
              decimals=2),
        Panel("Traces per second", TS,
              f"SELECT $__timeInterval(Minute) AS time, sum(Traces) / $__interval_s AS traces_per_s\n"
              f"FROM traces_1m\nWHERE {_T1M}\nGROUP BY time\nORDER BY time",
              ("time", "traces_per_s"), "Throughput of the instrumented apps." + ROLLUP_NOTE, unit="reqps",
              min_interval="1m"),
        Panel("Error rate over time", TS,
              f"SELECT $__timeInterval(Minute) AS time, sum(ErrorTraces) / nullIf(sum(Traces), 0) AS error_rate\n"
              f"FROM traces_1m\nWHERE {_T1M}\nGROUP BY time\nORDER BY time",
              ("time", "error_rate"), "Share of traces with an error span." + ROLLUP_NOTE, unit="percentunit",
              min_interval="1m"),
        Panel("Trace latency p50 / p95 / p99", TS,
              "SELECT $__timeInterval(Minute) AS time,\n"
              "  quantileTDigestMerge(0.5)(DurationQuantiles) / 1e6 AS p50_ms,\n"
              "  quantileTDigestMerge(0.95)(DurationQuantiles) / 1e6 AS p95_ms,\n"
              "  quantileTDigestMerge(0.99)(DurationQuantiles) / 1e6 AS p99_ms\n"
              f"FROM traces_1m\nWHERE {_T1M}\nGROUP BY time\nORDER BY time",
              ("time", "p50_ms", "p95_ms", "p99_ms"), "End-to-end trace duration." + ROLLUP_NOTE, unit="ms",
              min_interval="1m"),
        Panel("Time to first token p50 / p95", TS,
              "SELECT $__timeInterval(Minute) AS time,\n"
              "  quantileTDigestMerge(0.5)(TtftQuantiles) AS ttft_p50_ms,\n"
              "  quantileTDigestMerge(0.95)(TtftQuantiles) AS ttft_p95_ms\n"
              f"FROM spans_1m\nWHERE {_GEN}\nGROUP BY time\nORDER BY time",
              ("time", "ttft_p50_ms", "ttft_p95_ms"), "Streamed LLM calls: time until the first token.", unit="ms",
              min_interval="1m"),
    ),
)  # fmt: skip

SPEND = Row(
    "Tokens and cost",
    (
        Panel("Tokens by model", TS,
              "SELECT $__timeInterval(Minute) AS time, Model AS model, sum(InputTokens) + sum(OutputTokens) AS tokens\n"
              f"FROM spans_1m\nWHERE {_S1M}\n  AND Model != ''\nGROUP BY time, model\nORDER BY time",
              ("time", "model", "tokens"), "Input plus output tokens per model.", unit="short", min_interval="1m"),
        Panel("Cost by model", TS,
              "SELECT $__timeInterval(Minute) AS time, Model AS model, sum(CostUsd) AS cost_usd\n"
              f"FROM spans_1m\nWHERE {_S1M}\n  AND Model != ''\nGROUP BY time, model\nORDER BY time",
              ("time", "model", "cost_usd"), "Provider cost per model.", unit="currencyUSD", min_interval="1m"),
        Panel("Cost by service", BAR,
              "SELECT ServiceName AS service, sum(CostUsd) AS cost_usd\n"
              f"FROM spans_1m\nWHERE {_S1M}\nGROUP BY service\nORDER BY cost_usd DESC",
              ("service", "cost_usd"), "Provider cost per instrumented service.", unit="currencyUSD", width=8,
              x_field="service"),
        Panel("Cost by cohort", BAR,
              "SELECT if(Cohort = '', '(none)', Cohort) AS cohort, sum(CostUsd) AS cost_usd\n"
              f"FROM spans_1m\nWHERE {_S1M}\nGROUP BY cohort\nORDER BY cost_usd DESC",
              ("cohort", "cost_usd"), "Provider cost per user cohort.", unit="currencyUSD", width=8,
              x_field="cohort"),
        Panel("Tokens and cost by model", TABLE,
              "SELECT Model AS model, sum(Spans) AS calls, sum(InputTokens) AS input_tokens,\n"
              "  sum(OutputTokens) AS output_tokens, sum(CostUsd) AS cost_usd,\n"
              "  sum(CostUsd) / nullIf(sum(Spans), 0) AS cost_per_call_usd\n"
              f"FROM spans_1m\nWHERE {_S1M}\n  AND Model != ''\nGROUP BY model\nORDER BY cost_usd DESC",
              ("model", "calls", "input_tokens", "output_tokens", "cost_usd", "cost_per_call_usd"),
              "Calls, tokens and cost per model over the range.", width=8),
    ),
)  # fmt: skip

_TRACE_COLUMNS = (
    "TraceId, Name AS name, ServiceName AS service, Cohort AS cohort, Start AS start,\n"
    "  DurationNs / 1e6 AS duration_ms, SpanCount AS spans, InputTokens + OutputTokens AS tokens,\n"
    "  CostUsd AS cost_usd, HasError AS error"
)
_TRACE_RESULT = ("TraceId", "name", "service", "cohort", "start", "duration_ms", "spans", "tokens", "cost_usd", "error")
_TRACES = where("traces", "Start")

TOP_TRACES = Row(
    "Slowest and most expensive traces",
    (
        Panel("Slowest traces", TABLE,
              f"SELECT {_TRACE_COLUMNS}\nFROM traces FINAL\nWHERE {_TRACES}\nORDER BY DurationNs DESC\nLIMIT 20",
              _TRACE_RESULT, "The 20 longest traces; click a trace id for its waterfall.", trace_column="TraceId"),
        Panel("Most expensive traces", TABLE,
              f"SELECT {_TRACE_COLUMNS}\nFROM traces FINAL\nWHERE {_TRACES}\nORDER BY CostUsd DESC\nLIMIT 20",
              _TRACE_RESULT, "The 20 costliest traces; click a trace id for its waterfall.", trace_column="TraceId"),
    ),
)  # fmt: skip

OVERVIEW = Dashboard(
    uid="glassbox-overview",
    title="Glassbox · Overview",
    description="Where is it slow, what does it cost, how often does it fail: traffic, latency, tokens and cost.",
    rows=(HEADLINES, SPEND, TOP_TRACES),
    variables=VARIABLES,
)

"""Pipeline health: throughput per stage, consumer lag, dead letters, sink batch latency, the LLM judges.

Stage figures come from ``pipeline_metrics`` (the sink writes its own; the assembler and evaluators
report through the pipeline-metrics topic): counters are increases per report, so a sum over a
bucket divided by its length is a rate. Dead letters are counted from ``dead_letters FINAL``, judge
figures from the ``evaluations_1m`` rollup.
"""

from __future__ import annotations

from glassbox.dashboards.model import Dashboard, Panel, PanelKind, Row

TS, STAT, TABLE = PanelKind.TIMESERIES, PanelKind.STAT, PanelKind.TABLE

_THROUGHPUT = (
    "(Stage = 'assembler' AND Name IN ('messages', 'spans', 'traces_emitted'))\n"
    "    OR (Stage = 'sink' AND Name = 'rows_inserted')\n"
    "    OR (Stage = 'evaluator' AND (Name IN ('traces', 'requests') OR startsWith(Name, 'results_')))"
)
_JUDGE = "$__timeFilter(Minute)\n  AND EvaluatorType = 'llm_judge'"

STAGES = Row(
    "Stages",
    (
        Panel("Throughput per stage", TS,
              "SELECT $__timeInterval(Timestamp) AS time,\n"
              "  concat(Stage, ' ', Name, if(Labels['table'] != '', concat(' → ', Labels['table']), '')) AS series,\n"
              "  sum(Value) / $__interval_s AS per_s\n"
              f"FROM pipeline_metrics\nWHERE $__timeFilter(Timestamp)\n  AND Kind = 'counter'\n"
              f"  AND ({_THROUGHPUT})\nGROUP BY time, series\nORDER BY time",
              ("time", "series", "per_s"),
              "Messages and spans read by the assembler, rows stored by the sink per table, traces and results "
              "of the evaluators, per second.", unit="short", min_interval="30s", width=24),
        Panel("Consumer lag", TS,
              "SELECT time, series, sum(lag) AS lag\n"
              "FROM (SELECT $__timeInterval(Timestamp) AS time, concat(Stage, ' ← ', Labels['topic']) AS series,\n"
              "        Labels['partition'] AS partition, max(Value) AS lag\n"
              "      FROM pipeline_metrics\n      WHERE $__timeFilter(Timestamp)\n        AND Name = 'consumer_lag'\n"
              "      GROUP BY time, series, partition)\nGROUP BY time, series\nORDER BY time",
              ("time", "series", "lag"), "Messages behind the log end, summed over partitions.", unit="short",
              min_interval="30s"),
        Panel("Max consumer lag", STAT,
              "SELECT max(Value) AS max_lag\nFROM pipeline_metrics\nWHERE $__timeFilter(Timestamp)\n"
              "  AND Name = 'consumer_lag'",
              ("max_lag",), "Largest lag of one partition in the range.", unit="short", width=6, height=4),
        Panel("Dead letters", STAT,
              "SELECT count() AS dead_letters\nFROM dead_letters FINAL\nWHERE $__timeFilter(CreatedAt)",
              ("dead_letters",), "Messages no stage could accept.", unit="short", width=6, height=4),
        Panel("Sink batch latency p50 / p95 / max", TS,
              "SELECT $__timeInterval(Timestamp) AS time, quantile(0.5)(Value) AS p50_ms,\n"
              "  quantile(0.95)(Value) AS p95_ms, max(Value) AS max_ms\n"
              "FROM pipeline_metrics\nWHERE $__timeFilter(Timestamp)\n  AND Stage = 'sink'\n"
              "  AND Name = 'batch_latency_ms'\nGROUP BY time\nORDER BY time",
              ("time", "p50_ms", "p95_ms", "max_ms"), "Time of one ClickHouse insert batch.", unit="ms",
              min_interval="30s"),
        Panel("Sink retries and outages", TS,
              "SELECT $__timeInterval(Timestamp) AS time, Name AS series, sum(Value) AS count\n"
              "FROM pipeline_metrics\nWHERE $__timeFilter(Timestamp)\n  AND Stage = 'sink'\n"
              "  AND Name IN ('retries', 'outages', 'refused_rows')\nGROUP BY time, series\nORDER BY time",
              ("time", "series", "count"), "Failed writes retried, ClickHouse outages, rows refused.",
              unit="short", min_interval="30s"),
    ),
)  # fmt: skip

DEAD = Row(
    "Dead letters",
    (
        Panel("Dead letters per minute", TS,
              "SELECT $__timeInterval(CreatedAt) AS time, Stage AS stage, count() * 60 / $__interval_s AS per_min\n"
              "FROM dead_letters FINAL\nWHERE $__timeFilter(CreatedAt)\nGROUP BY time, stage\nORDER BY time",
              ("time", "stage", "per_min"), "By the stage that rejected them.", unit="short", min_interval="1m"),
        Panel("Dead letters by stage and error", TABLE,
              "SELECT Stage AS stage, ErrorType AS error_type, SourceTopic AS topic, count() AS dead_letters,\n"
              "  max(CreatedAt) AS last_seen, argMax(Reason, CreatedAt) AS last_reason\n"
              "FROM dead_letters FINAL\nWHERE $__timeFilter(CreatedAt)\nGROUP BY stage, error_type, topic\n"
              "ORDER BY dead_letters DESC",
              ("stage", "error_type", "topic", "dead_letters", "last_seen", "last_reason"),
              "What was rejected, where, and the latest reason."),
    ),
)  # fmt: skip

JUDGES = Row(
    "LLM judges",
    (
        Panel("Judge evaluations per minute", TS,
              "SELECT $__timeInterval(Minute) AS time, Status AS status,\n"
              "  sum(Evaluations) * 60 / $__interval_s AS per_min\n"
              f"FROM evaluations_1m\nWHERE {_JUDGE}\nGROUP BY time, status\nORDER BY time",
              ("time", "status", "per_min"), "Judge throughput by outcome (passed, failed, skipped, error).",
              unit="short", min_interval="1m"),
        Panel("Judge errors by evaluator", TS,
              "SELECT $__timeInterval(Minute) AS time, Evaluator AS evaluator, sum(Evaluations) AS errors\n"
              f"FROM evaluations_1m\nWHERE {_JUDGE}\n  AND Status = 'error'\nGROUP BY time, evaluator\nORDER BY time",
              ("time", "evaluator", "errors"), "Judge calls that failed (unreachable, malformed verdicts).",
              unit="short", min_interval="1m"),
        Panel("Judge spend per hour", TS,
              "SELECT $__timeInterval(Minute) AS time, Evaluator AS evaluator,\n"
              "  sum(JudgeCostUsd) * 3600 / $__interval_s AS usd_per_hour\n"
              f"FROM evaluations_1m\nWHERE {_JUDGE}\nGROUP BY time, evaluator\nORDER BY time",
              ("time", "evaluator", "usd_per_hour"), "Spend rate of each judge.", unit="currencyUSD",
              min_interval="1m"),
        Panel("Judge spend", STAT,
              f"SELECT sum(JudgeCostUsd) AS judge_cost_usd\nFROM evaluations_1m\nWHERE {_JUDGE}",
              ("judge_cost_usd",), "Total judge cost over the range.", unit="currencyUSD", width=6, height=8,
              decimals=4),
        Panel("Judge error rate", STAT,
              "SELECT sumIf(Evaluations, Status = 'error') / nullIf(sum(Evaluations), 0) AS judge_error_rate\n"
              f"FROM evaluations_1m\nWHERE {_JUDGE}",
              ("judge_error_rate",), "Share of judge runs that errored.", unit="percentunit", width=6, height=8),
    ),
)  # fmt: skip

PIPELINE_HEALTH = Dashboard(
    uid="glassbox-pipeline",
    title="Glassbox · Pipeline health",
    description="Is the pipeline keeping up? Throughput per stage, consumer lag, dead letters, sink batches, judges.",
    rows=(STAGES, DEAD, JUDGES),
    variables=(),
    time_from="now-3h",
    refresh="30s",
)

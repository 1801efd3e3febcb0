"""Quality: evaluation scores and pass rates per evaluator, failure categories, the worst traces.

Reads ``evaluations FINAL``: a re-run evaluation replaces its earlier row, so scores and rates count
each (trace, evaluator) once. Every variable applies (cohort and model through the evaluated trace).
"""

from __future__ import annotations

from glassbox.dashboards.filters import VARIABLES, where
from glassbox.dashboards.model import Dashboard, Panel, PanelKind, Row

TS, STAT, TABLE, BAR, GAUGE = (PanelKind.TIMESERIES, PanelKind.STAT, PanelKind.TABLE, PanelKind.BARCHART,
                               PanelKind.BARGAUGE)  # fmt: skip

_JUDGED = where("evaluations", "CreatedAt", "Status IN ('passed', 'failed')")
_SCORED = where("evaluations", "CreatedAt", "Status IN ('passed', 'failed')", "Score IS NOT NULL")
_FAILED = where("evaluations", "CreatedAt", "Status = 'failed'", "FailureCategory != ''")
_EVALS = "FROM evaluations FINAL"

SCORES = Row(
    "Scores and pass rates",
    (
        Panel("Pass rate", STAT,
              f"SELECT countIf(Status = 'passed') / nullIf(count(), 0) AS pass_rate\n{_EVALS}\nWHERE {_JUDGED}",
              ("pass_rate",), "Share of passed evaluations (skipped and errored runs left out).",
              unit="percentunit", width=6, height=4),
        Panel("Evaluations", STAT, f"SELECT count() AS evaluations\n{_EVALS}\nWHERE {_JUDGED}",
              ("evaluations",), "Evaluations that passed or failed.", unit="short", width=6, height=4),
        Panel("Failing traces", STAT,
              f"SELECT uniqExact(TraceId) AS failing_traces\n{_EVALS}\nWHERE {_FAILED}",
              ("failing_traces",), "Traces with at least one failed evaluation.", unit="short", width=6, height=4),
        Panel("Mean faithfulness", STAT,
              f"SELECT avg(Score) AS faithfulness\n{_EVALS}\nWHERE {_SCORED}\n  AND Evaluator = 'faithfulness'",
              ("faithfulness",), "Mean score of the faithfulness judge (1 = every claim supported).",
              unit="percentunit", width=6, height=4),
        Panel("Mean score per evaluator", TS,
              "SELECT $__timeInterval(CreatedAt) AS time, Evaluator AS evaluator, avg(Score) AS score\n"
              f"{_EVALS}\nWHERE {_SCORED}\nGROUP BY time, evaluator\nORDER BY time",
              ("time", "evaluator", "score"), "Scores are 0..1, higher is better.", unit="percentunit",
              min_interval="1m"),
        Panel("Pass rate per evaluator", GAUGE,
              "SELECT Evaluator AS evaluator, countIf(Status = 'passed') / count() AS pass_rate\n"
              f"{_EVALS}\nWHERE {_JUDGED}\nGROUP BY evaluator\nORDER BY pass_rate",
              ("evaluator", "pass_rate"), "Lowest first.", unit="percentunit"),
        Panel("Pass rate over time", TS,
              "SELECT $__timeInterval(CreatedAt) AS time, countIf(Status = 'passed') / count() AS pass_rate\n"
              f"{_EVALS}\nWHERE {_JUDGED}\nGROUP BY time\nORDER BY time",
              ("time", "pass_rate"), "All evaluators together.", unit="percentunit", min_interval="1m", width=24),
    ),
)  # fmt: skip

FAILURES = Row(
    "Failure categories",
    (
        Panel("Failures by category", TS,
              "SELECT $__timeInterval(CreatedAt) AS time, FailureCategory AS category, count() AS failures\n"
              f"{_EVALS}\nWHERE {_FAILED}\nGROUP BY time, category\nORDER BY time",
              ("time", "category", "failures"), "Failed evaluations per failure category.", unit="short",
              min_interval="1m", width=24),
        Panel("Failures by service and category", TABLE,
              "SELECT ServiceName AS service, FailureCategory AS category, count() AS failures,\n"
              "  uniqExact(TraceId) AS traces\n"
              f"{_EVALS}\nWHERE {_FAILED}\nGROUP BY service, category\nORDER BY failures DESC",
              ("service", "category", "failures", "traces"), "Where each kind of failure happens."),
        Panel("Failures by prompt version and category", TABLE,
              "SELECT arrayJoin(if(empty(PromptVersions), ['(none)'], PromptVersions)) AS prompt_version,\n"
              "  FailureCategory AS category, count() AS failures, uniqExact(TraceId) AS traces\n"
              f"{_EVALS}\nWHERE {_FAILED}\nGROUP BY prompt_version, category\nORDER BY failures DESC",
              ("prompt_version", "category", "failures", "traces"),
              "Did a prompt release bring new failures? Prompt versions are name@version."),
    ),
)  # fmt: skip

WORST = Row(
    "Worst traces",
    (
        Panel("Worst traces", TABLE,
              "SELECT TraceId, any(ServiceName) AS service, countIf(Status = 'failed') AS failed,\n"
              "  min(Score) AS worst_score,\n"
              "  arrayStringConcat(arraySort(groupUniqArrayIf(FailureCategory, Status = 'failed')), ', ')\n"
              "    AS categories,\n"
              "  arrayStringConcat(arraySort(groupUniqArrayIf(Evaluator, Status = 'failed')), ', ') AS evaluators,\n"
              "  max(CreatedAt) AS evaluated_at\n"
              f"{_EVALS}\nWHERE {_JUDGED}\nGROUP BY TraceId\nHAVING failed > 0\n"
              "ORDER BY failed DESC, worst_score ASC\nLIMIT 25",
              ("TraceId", "service", "failed", "worst_score", "categories", "evaluators", "evaluated_at"),
              "Most failed evaluations first, then the lowest score; click a trace id for its waterfall.",
              width=24, height=10, trace_column="TraceId"),
    ),
)  # fmt: skip

QUALITY = Dashboard(
    uid="glassbox-quality",
    title="Glassbox · Quality",
    description="Evaluation scores and pass rates per evaluator, failure categories by service and prompt version.",
    rows=(SCORES, FAILURES, WORST),
    variables=VARIABLES,
)

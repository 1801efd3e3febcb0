"""The dashboard variables (service, environment, model, prompt version, cohort) and their filters per table.

Every filter is wrapped in ``$__conditionalAll(...)``, so "All" costs nothing (``1=1``). Each source
table filters on the variables it can answer exactly:

- ``spans_1m`` / ``spans``: all five (the prompt version is ``name@version``). Only LLM spans have a
  model and prompt: panels over tool or retrieval spans use ``tool_spans_1m`` (the rollup cannot
  tell which trace a span belonged to, so model and prompt do not apply; the panel says so) or
  ``tool_spans`` (model and prompt through the span's trace).
- ``traces_1m``: service, environment, cohort (the rollup has no model or prompt dimension;
  panels over it say so in their description).
- ``traces``: all five; model through the trace's LLM spans, prompt version through ``PromptVersions``.
- ``evaluations``: all five; cohort and model through the evaluated trace.
"""

from __future__ import annotations

from glassbox.dashboards.model import Variable

SERVICE, ENVIRONMENT, MODEL, PROMPT, COHORT = "service", "environment", "model", "prompt_version", "cohort"

PROMPT_LABEL = "if(PromptVersion = '', PromptName, concat(PromptName, '@', PromptVersion))"
"""A span's prompt as the traces table lists it: 'name@version' (or 'name')."""


def _cond(condition: str, variable: str) -> str:
    return f"$__conditionalAll({condition}, ${variable})"


def _in(column: str, variable: str) -> str:
    return _cond(f"{column} IN (${{{variable}:singlequote}})", variable)


_SPANS = {
    SERVICE: _in("ServiceName", SERVICE),
    ENVIRONMENT: _in("Environment", ENVIRONMENT),
    MODEL: _in("Model", MODEL),
    PROMPT: _in(PROMPT_LABEL, PROMPT),
    COHORT: _in("Cohort", COHORT),
}
_TRACES_1M = {SERVICE: _SPANS[SERVICE], ENVIRONMENT: _SPANS[ENVIRONMENT], COHORT: _SPANS[COHORT]}
_MODEL_TRACES = (
    "TraceId IN (SELECT TraceId FROM spans WHERE $__timeFilter(Timestamp) AND Model IN (${model:singlequote}))"
)
_TRACES = {
    **_TRACES_1M,
    MODEL: _cond(_MODEL_TRACES, MODEL),
    PROMPT: _cond("hasAny(PromptVersions, [${prompt_version:singlequote}])", PROMPT),
}
_EVALUATIONS = {
    SERVICE: _SPANS[SERVICE],
    ENVIRONMENT: _SPANS[ENVIRONMENT],
    MODEL: _TRACES[MODEL],
    PROMPT: _TRACES[PROMPT],
    COHORT: _cond("TraceId IN (SELECT TraceId FROM traces WHERE Cohort IN (${cohort:singlequote}))", COHORT),
}
_NON_LLM_SPANS = {
    **_TRACES_1M,
    MODEL: _TRACES[MODEL],
    PROMPT: _cond(
        "TraceId IN (SELECT TraceId FROM traces WHERE hasAny(PromptVersions, [${prompt_version:singlequote}]))", PROMPT
    ),
}
_BY_SOURCE = {
    "spans_1m": _SPANS,
    "spans": _SPANS,
    "tool_spans_1m": _TRACES_1M,
    "tool_spans": _NON_LLM_SPANS,
    "traces_1m": _TRACES_1M,
    "traces": _TRACES,
    "evaluations": _EVALUATIONS,
}


def where(source: str, time_column: str, *extra: str, skip: tuple[str, ...] = ()) -> str:
    """The WHERE condition of a panel over ``source``: time range, every applicable variable, then ``extra``."""
    parts = [f"$__timeFilter({time_column})"]
    parts += [f for name, f in _BY_SOURCE[source].items() if name not in skip]
    parts += list(extra)
    return "\n  AND ".join(parts)


def supports(source: str) -> set[str]:
    """The variables a source table filters on."""
    return set(_BY_SOURCE[source])


def _options(column: str, table: str, *conditions: str) -> str:
    where_clause = "\n  AND ".join(["$__timeFilter(Minute)", f"{column} != ''", *conditions])
    return f"SELECT DISTINCT {column} AS value\nFROM {table}\nWHERE {where_clause}\nORDER BY value"


VARIABLES: tuple[Variable, ...] = (
    Variable(SERVICE, "Service", _options("ServiceName", "spans_1m")),
    Variable(ENVIRONMENT, "Environment", _options("Environment", "spans_1m", _SPANS[SERVICE])),
    Variable(MODEL, "Model", _options("Model", "spans_1m", _SPANS[SERVICE], _SPANS[ENVIRONMENT])),
    Variable(
        PROMPT, "Prompt version",
        _options(PROMPT_LABEL, "spans_1m", "PromptName != ''", _SPANS[SERVICE], _SPANS[ENVIRONMENT]),
    ),
    Variable(COHORT, "Cohort", _options("Cohort", "spans_1m", _SPANS[SERVICE], _SPANS[ENVIRONMENT])),
)  # fmt: skip
"""Options come from the last time range of the spans rollup, narrowed by the service and environment chosen."""

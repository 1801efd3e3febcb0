"""The checked-in dashboards are what the Python definitions generate, and they are well-formed for Grafana."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from glassbox.dashboards.build import DEFAULT_DATASOURCE_UID
from glassbox.dashboards.generate import DASHBOARDS, default_dir, rendered, stale
from glassbox.dashboards.macros import MacroError, QueryContext, Selection, expand
from glassbox.dashboards.model import PanelKind
from glassbox.dashboards.traceview import DATASOURCE_TYPE, explore_url

APP_VARIABLES = ["service", "environment", "model", "prompt_version", "cohort"]


def _json(stem: str) -> dict:
    return json.loads((default_dir() / f"{stem}.json").read_text())


def test_checked_in_dashboards_are_up_to_date() -> None:
    """`glassbox dashboards generate` output equals deploy/grafana/dashboards/*.json; regenerate when this fails."""
    assert stale(default_dir()) == []
    assert sorted(p.name for p in default_dir().glob("*.json")) == sorted(rendered())


@pytest.mark.parametrize("stem", list(DASHBOARDS))
def test_every_panel_queries_the_clickhouse_data_source_with_its_sql(stem: str) -> None:
    """Each panel has one SQL target on the glassbox-clickhouse data source, format 0 for time series, 1 otherwise."""
    spec = DASHBOARDS[stem]
    panels = [p for p in _json(stem)["panels"] if p["type"] != "row"]
    assert [p["title"] for p in panels] == [p.title for p in spec.panels]
    for panel, want in zip(panels, spec.panels, strict=True):
        assert panel["type"] == want.kind.value
        assert panel["datasource"] == {"type": DATASOURCE_TYPE, "uid": DEFAULT_DATASOURCE_UID}
        (target,) = panel["targets"]
        assert target["editorType"] == "sql" and target["rawSql"] == want.sql
        assert target["format"] == (0 if want.kind is PanelKind.TIMESERIES else 1)
        assert "$__timeFilter(" in want.sql, f"{want.title} ignores the time picker"


@pytest.mark.parametrize("stem", list(DASHBOARDS))
def test_panel_ids_are_unique_and_the_grid_is_24_wide(stem: str) -> None:
    """Grafana needs unique ids; every panel fits in the 24-column grid without overlapping its row neighbours."""
    panels = _json(stem)["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    cells = set()
    for p in panels:
        pos = p["gridPos"]
        assert pos["x"] + pos["w"] <= 24
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{p['title']} overlaps another panel"
                cells.add((x, y))


@pytest.mark.parametrize("stem", ["overview", "quality", "agents-rag"])
def test_app_dashboards_have_the_five_multi_value_variables_with_all(stem: str) -> None:
    """service, environment, model, prompt version and cohort: ClickHouse query variables, multi-value, All."""
    variables = _json(stem)["templating"]["list"]
    assert [v["name"] for v in variables] == APP_VARIABLES
    for v in variables:
        assert v["type"] == "query" and v["multi"] is True and v["includeAll"] is True
        assert v["datasource"]["uid"] == DEFAULT_DATASOURCE_UID
        assert v["refresh"] == 2, "options follow the time range"
        assert v["current"]["value"] == ["$__all"]


@pytest.mark.parametrize("stem", list(DASHBOARDS))
def test_every_trace_table_links_trace_ids_to_the_trace_view(stem: str) -> None:
    """Tables with a TraceId column carry a data link to Explore's trace view on that column."""
    for panel, spec in zip([p for p in _json(stem)["panels"] if p["type"] != "row"], DASHBOARDS[stem].panels,
                           strict=True):  # fmt: skip
        if "TraceId" not in spec.columns:
            continue
        assert spec.trace_column == "TraceId", f"{spec.title} shows trace ids without a link"
        (override,) = panel["fieldConfig"]["overrides"]
        assert override["matcher"] == {"id": "byName", "options": "TraceId"}
        (link,) = override["properties"][0]["value"]
        assert link["url"] == explore_url(DEFAULT_DATASOURCE_UID, "glassbox")
        assert link["url"].startswith("/explore?schemaVersion=1&panes=") and "${__value.raw}" in link["url"]


def test_every_dashboard_has_panels_of_the_issue() -> None:
    """The panels the issue asks for exist by title."""
    titles = {stem: {p.title for p in d.panels} for stem, d in DASHBOARDS.items()}
    assert {
        "Traces per second",
        "Error rate over time",
        "Trace latency p50 / p95 / p99",
        "Time to first token p50 / p95",
        "Tokens by model",
        "Cost by model",
        "Cost by service",
        "Cost by cohort",
        "Slowest traces",
        "Most expensive traces",
    } <= titles["overview"]
    assert {
        "Mean score per evaluator",
        "Pass rate per evaluator",
        "Failures by category",
        "Failures by service and category",
        "Failures by prompt version and category",
        "Worst traces",
    } <= titles["quality"]
    assert {
        "Tool error rate over time",
        "Looping traces over time",
        "Iterations per trace",
        "Tool latency p50 / p95",
        "Retrieval latency p50 / p95",
        "Retrieval scores",
        "Empty retrievals",
    } <= titles["agents-rag"]
    assert {"Throughput per stage", "Consumer lag", "Dead letters per minute", "Sink batch latency p50 / p95 / max",
            "Judge evaluations per minute", "Judge errors by evaluator", "Judge spend per hour"} <= titles[
        "pipeline-health"]  # fmt: skip


# ---------------------------------------------------------------- the macro expander

START = datetime(2026, 1, 2, 3, 0, 0, tzinfo=UTC)
END = datetime(2026, 1, 2, 4, 0, 0, tzinfo=UTC)


def _ctx(**variables: Selection) -> QueryContext:
    return QueryContext(START, END, 120, variables)


def test_time_macros_expand_like_the_plugin() -> None:
    """$__timeFilter, $__timeInterval, $__interval_s, $__fromTime/$__toTime and the _ms forms."""
    sql = ("SELECT $__timeInterval(Minute) AS t, count() / $__interval_s FROM x WHERE $__timeFilter(Minute) "
           "AND $__timeFilter_ms(Ts) AND a BETWEEN $__fromTime AND $__toTime")  # fmt: skip
    assert expand(sql, _ctx()) == (
        "SELECT toStartOfInterval(toDateTime(Minute), INTERVAL 120 second) AS t, count() / 120 FROM x "
        "WHERE Minute >= toDateTime(1767322800) AND Minute <= toDateTime(1767326400) "
        "AND Ts >= fromUnixTimestamp64Milli(1767322800000) AND Ts <= fromUnixTimestamp64Milli(1767326400000) "
        "AND a BETWEEN toDateTime(1767322800) AND toDateTime(1767326400)"
    )


def test_conditional_all_drops_the_condition_for_all_and_keeps_it_for_values() -> None:
    """All (or nothing selected) becomes 1=1; values keep the condition, formatted with singlequote."""
    sql = "WHERE $__conditionalAll(ServiceName IN (${service:singlequote}), $service)"
    assert expand(sql, _ctx(service=Selection.everything(["a", "b"]))) == "WHERE 1=1"
    assert expand(sql, _ctx(service=Selection.of("a", "o'b"))) == "WHERE ServiceName IN ('a','o\\'b')"


def test_conditional_all_splits_arguments_at_top_level_commas_only() -> None:
    """A condition with its own parentheses and commas stays whole."""
    sql = "$__conditionalAll(hasAny(P, [${p:singlequote}]), ${p})"
    assert expand(sql, _ctx(p=Selection.of("x@1"))) == "hasAny(P, ['x@1'])"


def test_plain_variables_use_the_plugin_default_format() -> None:
    """No format: one value as is, several as 'a','b'; unknown names stay untouched."""
    assert expand("$v ${w} $other", _ctx(v=Selection.of("a"), w=Selection.of("a", "b"))) == "a 'a','b' $other"


def test_unknown_macros_are_errors() -> None:
    """A typo in a macro fails the test instead of reaching ClickHouse."""
    with pytest.raises(MacroError, match="unknown macro"):
        expand("SELECT $__timeFliter(x)", _ctx())

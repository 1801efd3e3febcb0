"""Every dashboard query runs on ClickHouse (chDB) over realistic demo data and returns what its panel expects.

Queries are expanded like Grafana and the ClickHouse plugin do (glassbox.dashboards.macros): variables
set to All, then to one specific value each; macros over the demo's time range. They run as the
read-only client Grafana's data source would use.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from glassbox.common.clickhouse import Client, reader_client, writer_client
from glassbox.common.settings import ClickHouseSettings
from glassbox.dashboards.build import build_dashboard
from glassbox.dashboards.generate import DASHBOARDS
from glassbox.dashboards.macros import QueryContext, Selection, expand
from glassbox.dashboards.model import Panel, PanelKind, Row
from glassbox.dashboards.traceview import TRACE_VIEW_COLUMNS, explore_url, trace_query_sql
from glassbox.sink.migrations import migrate
from tests.support.demo_data import DemoData, fill


@dataclass
class Demo:
    reader: Client
    data: DemoData
    database: str
    options: dict[str, list[str]]
    """Variable → the values its own query offers (All)."""

    def run(self, sql: str, variables: dict[str, Selection] | None = None, interval_s: int = 300) -> Any:
        ctx = QueryContext(self.data.start - timedelta(minutes=5), self.data.now, interval_s, variables or {})
        return self.reader.query(expand(sql, ctx))

    def all_selected(self) -> dict[str, Selection]:
        return {name: Selection.everything(values) for name, values in self.options.items()}


@pytest.fixture(scope="module")
def demo(chdb_path: Path) -> Iterator[Demo]:
    """Three hours of demo traffic in a fresh database, read through a read-only client."""
    settings = ClickHouseSettings(url=f"chdb://{chdb_path}", database=f"glassbox_dash_{uuid.uuid4().hex[:8]}")
    writer = writer_client(settings)
    migrate(writer, settings)
    data = fill(writer, settings.database)
    reader = reader_client(settings)
    options: dict[str, list[str]] = {}
    demo = Demo(reader, data, settings.database, options)
    for variable in DASHBOARDS["overview"].variables:
        options[variable.name] = [row[0] for row in demo.run(variable.sql, demo.all_selected()).result_rows]
    yield demo
    reader.close()
    writer.command(f"DROP DATABASE IF EXISTS `{settings.database}`")
    writer.close()


def _panels() -> list[tuple[str, Row, Panel]]:
    return [(stem, row, panel) for stem, d in DASHBOARDS.items() for row in d.rows for panel in row.panels]


def _variables() -> list[tuple[str, Any]]:
    return [(stem, v) for stem, d in DASHBOARDS.items() for v in d.variables]


AGENT_ROW = "Agents and tools"
SPECIFIC = {
    "service": {AGENT_ROW: "order-agent", "": "support-bot"},
    "environment": {"": "production"},
    "model": {AGENT_ROW: "claude-3-5-haiku", "": "gpt-4o-mini"},
    "prompt_version": {AGENT_ROW: "order-planner@1", "": "support-answer@3"},
    "cohort": {AGENT_ROW: "enterprise", "": "self-serve"},
}
"""One specific value per variable, chosen among what the row's panels are about."""


def _check_result(panel: Panel, result: Any) -> None:
    assert tuple(result.column_names) == panel.columns
    assert result.result_rows, f"{panel.title}: no rows"
    if panel.kind is PanelKind.TIMESERIES:
        times = [row[0] for row in result.result_rows]
        assert all(isinstance(t, datetime) for t in times)
        assert times == sorted(times)
        numeric = [i for i, c in enumerate(panel.columns) if i and result.column_types[i].python_type in (int, float)]
        assert numeric, f"{panel.title}: no numeric column"


@pytest.mark.parametrize(("stem", "variable"), _variables(), ids=lambda v: getattr(v, "name", v))
def test_every_variable_query_offers_the_values_in_the_data(demo: Demo, stem: str, variable: Any) -> None:
    """Each variable query returns one 'value' column listing what the demo data holds (All upstream)."""
    result = demo.run(variable.sql, demo.all_selected())
    assert result.column_names == ("value",)
    values = [row[0] for row in result.result_rows]
    expected = {
        "service": ["order-agent", "support-bot", "ticket-summarizer"],
        "environment": ["production", "staging"],
        "model": ["claude-3-5-haiku", "gpt-4o", "gpt-4o-mini", "text-embedding-3-small"],
        "prompt_version": ["order-planner@1", "support-answer@3", "support-answer@4", "ticket-summary@2"],
        "cohort": ["agents-console", "enterprise", "enterprise-batch", "self-serve"],
    }
    assert values == expected[variable.name]


def test_a_variable_narrows_the_options_of_the_next_one(demo: Demo) -> None:
    """Cascading: with service = order-agent, the model variable offers the agent's models only."""
    model = next(v for v in DASHBOARDS["overview"].variables if v.name == "model")
    variables = {**demo.all_selected(), "service": Selection.of("order-agent")}
    assert [r[0] for r in demo.run(model.sql, variables).result_rows] == ["claude-3-5-haiku", "gpt-4o-mini"]


@pytest.mark.parametrize(("stem", "row", "panel"), _panels(), ids=lambda v: getattr(v, "title", v))
def test_every_panel_query_returns_its_columns_with_all_selected(demo: Demo, stem: str, row: Row, panel: Panel) -> None:
    """With every variable at All, each panel's query returns the columns the panel expects, with rows."""
    _check_result(panel, demo.run(panel.sql, demo.all_selected(), max(300, panel.min_interval_s)))


@pytest.mark.parametrize("variable", list(SPECIFIC))
@pytest.mark.parametrize(("stem", "row", "panel"), [p for p in _panels() if p[0] != "pipeline-health"],
                         ids=lambda v: getattr(v, "title", v))  # fmt: skip
def test_every_panel_query_returns_its_columns_for_one_specific_value(
    demo: Demo, stem: str, row: Row, panel: Panel, variable: str
) -> None:
    """With one variable set to a single value (the others All), each panel still returns its columns, with rows."""
    value = SPECIFIC[variable].get(row.title, SPECIFIC[variable][""])
    variables = {**demo.all_selected(), variable: Selection.of(value)}
    _check_result(panel, demo.run(panel.sql, variables, max(300, panel.min_interval_s)))


def _panel(stem: str, title: str) -> Panel:
    return next(p for p in DASHBOARDS[stem].panels if p.title == title)


def test_a_specific_service_filters_the_rows(demo: Demo) -> None:
    """Cost by service with service = support-bot has exactly that service; All has all three."""
    panel = _panel("overview", "Cost by service")
    only = demo.run(panel.sql, {**demo.all_selected(), "service": Selection.of("support-bot")})
    assert [r[0] for r in only.result_rows] == ["support-bot"]
    every = demo.run(panel.sql, demo.all_selected())
    assert sorted(r[0] for r in every.result_rows) == ["order-agent", "support-bot", "ticket-summarizer"]


def test_a_model_filters_traces_through_their_llm_spans(demo: Demo) -> None:
    """Slowest traces with model = claude-3-5-haiku are all order-agent traces (only the agent uses that model)."""
    panel = _panel("overview", "Slowest traces")
    result = demo.run(panel.sql, {**demo.all_selected(), "model": Selection.of("claude-3-5-haiku")})
    assert result.result_rows and {r[2] for r in result.result_rows} == {"order-agent"}


def test_failure_categories_cover_every_kind_in_the_demo(demo: Demo) -> None:
    """The quality dashboard sees every failure category the demo produced."""
    result = demo.run(_panel("quality", "Failures by service and category").sql, demo.all_selected())
    categories = {r[1] for r in result.result_rows}
    assert categories == {"hallucination", "retrieval_failure", "instruction_drift", "tool_error", "reasoning_loop",
                          "latency_spike", "cost_spike"}  # fmt: skip


def test_slowest_traces_table_starts_with_a_latency_spike(demo: Demo) -> None:
    """The slowest trace is one of the demo's latency spikes (9 s generations)."""
    result = demo.run(_panel("overview", "Slowest traces").sql, demo.all_selected())
    assert result.result_rows[0][0] in demo.data.traces_of("latency_spike")
    assert result.result_rows[0][5] > 9000


def test_pipeline_health_reads_every_stage(demo: Demo) -> None:
    """Throughput per stage shows the assembler, the sink (per table) and the evaluator."""
    result = demo.run(_panel("pipeline-health", "Throughput per stage").sql, interval_s=300)
    series = {r[1] for r in result.result_rows}
    assert {"assembler spans", "sink rows_inserted → spans", "evaluator results_passed"} <= series


def test_trace_link_opens_the_plugin_trace_query_for_the_clicked_trace(demo: Demo) -> None:
    """The TraceId data link is an Explore URL whose trace query returns the trace view's frame for that trace."""
    trace_id = demo.run(_panel("overview", "Slowest traces").sql, demo.all_selected()).result_rows[0][0]
    dashboard = build_dashboard(DASHBOARDS["overview"], "glassbox-clickhouse", demo.database)
    table = next(p for p in dashboard["panels"] if p.get("title") == "Slowest traces")
    link = table["fieldConfig"]["overrides"][0]["properties"][0]["value"][0]
    assert link["url"] == explore_url("glassbox-clickhouse", demo.database)
    clicked = link["url"].replace("${__value.raw}", trace_id).replace("${__from}", "0").replace("${__to}", "1")
    panes = json.loads(unquote(parse_qs(urlparse(clicked).query)["panes"][0]))
    query = panes["trace"]["queries"][0]
    assert query["queryType"] == "traces" and query["format"] == 3
    assert query["builderOptions"]["meta"]["traceId"] == trace_id
    result = demo.reader.query(query["rawSql"])
    assert tuple(result.column_names) == TRACE_VIEW_COLUMNS
    spans = demo.reader.query(f"SELECT count() FROM spans FINAL WHERE TraceId = '{trace_id}'").result_rows[0][0]
    assert len(result.result_rows) == spans >= 4
    assert sum(1 for r in result.result_rows if r[2] == "") == 1


def test_trace_query_finds_nothing_for_an_unknown_trace(demo: Demo) -> None:
    """An id that was never stored gives an empty trace, not an error."""
    assert demo.reader.query(trace_query_sql("0" * 32, demo.database)).result_rows == []

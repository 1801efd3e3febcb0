"""Glassbox dashboards → Grafana dashboard JSON, with grafana-foundation-sdk builders.

Each panel carries one SQL query for grafana-clickhouse-datasource (editor type ``sql``, format 0
for time series, 1 for tables); columns holding trace ids link to the trace view
(:mod:`glassbox.dashboards.traceview`). Variables are multi-value ClickHouse query variables with
"All", refreshed when the time range changes. Panels are laid out left to right in rows of 24 columns.
"""

from __future__ import annotations

import json
from typing import Any

from grafana_foundation_sdk.builders import barchart, bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as gdb
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.runtime import UnknownDataquery
from grafana_foundation_sdk.models import dashboard as gdm

from glassbox.dashboards.model import Dashboard, Panel, PanelKind, Variable
from glassbox.dashboards.traceview import DATASOURCE_TYPE, trace_link

DEFAULT_DATASOURCE_UID = "glassbox-clickhouse"
DEFAULT_DATABASE = "glassbox"

_BUILDERS: dict[PanelKind, Any] = {
    PanelKind.TIMESERIES: timeseries.Panel,
    PanelKind.STAT: stat.Panel,
    PanelKind.TABLE: table.Panel,
    PanelKind.BARCHART: barchart.Panel,
    PanelKind.BARGAUGE: bargauge.Panel,
}


class ClickHouseQuery(cogbuilder.Builder[UnknownDataquery]):
    """A generic data query for grafana-clickhouse-datasource (the SDK has no typed builder for it)."""

    def __init__(self, datasource_uid: str, sql: str, fmt: int, query_type: str, ref_id: str = "A") -> None:
        self._data: dict[str, Any] = {
            "refId": ref_id,
            "datasource": {"type": DATASOURCE_TYPE, "uid": datasource_uid},
            "editorType": "sql",
            "queryType": query_type,
            "format": fmt,
            "rawSql": sql,
            "pluginVersion": "",
        }

    def build(self) -> UnknownDataquery:
        return UnknownDataquery(dict(self._data))


def datasource_ref(uid: str) -> gdm.DataSourceRef:
    return gdm.DataSourceRef(type_val=DATASOURCE_TYPE, uid=uid)


def _panel(panel: Panel, panel_id: int, pos: gdm.GridPos, datasource_uid: str, database: str) -> Any:
    query_type = "timeseries" if panel.kind is PanelKind.TIMESERIES else "table"
    builder = (
        _BUILDERS[panel.kind]()
        .id(panel_id)
        .title(panel.title)
        .description(panel.description)
        .datasource(datasource_ref(datasource_uid))
        .with_target(ClickHouseQuery(datasource_uid, panel.sql, panel.format, query_type))
        .grid_pos(pos)
    )
    if panel.unit:
        builder = builder.unit(panel.unit)
    if panel.decimals is not None:
        builder = builder.decimals(panel.decimals)
    if panel.min_interval:
        builder = builder.interval(panel.min_interval)
    if panel.x_field:
        builder = builder.x_field(panel.x_field)
    if panel.trace_column:
        links = gdm.DynamicConfigValue(id_val="links", value=[trace_link(datasource_uid, database)])
        builder = builder.override_by_name(panel.trace_column, [links])
    return builder


def _variable(variable: Variable, datasource_uid: str) -> gdb.QueryVariable:
    return (
        gdb.QueryVariable(variable.name)
        .label(variable.label)
        .datasource(datasource_ref(datasource_uid))
        .query(variable.sql)
        .multi(True)
        .include_all(True)
        .refresh(gdm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(gdm.VariableSort.ALPHABETICAL_ASC)
        .current(gdm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def build_dashboard(
    spec: Dashboard, datasource_uid: str = DEFAULT_DATASOURCE_UID, database: str = DEFAULT_DATABASE
) -> dict[str, Any]:
    """The dashboard as Grafana JSON (a dict)."""
    builder = (
        gdb.Dashboard(spec.title)
        .uid(spec.uid)
        .description(spec.description)
        .tags(list(spec.tags))
        .time(spec.time_from, "now")
        .refresh(spec.refresh)
        .timezone("browser")
        .tooltip(gdm.DashboardCursorSync.CROSSHAIR)
        .link(
            gdb.DashboardLink("Glassbox")
            .type(gdm.DashboardLinkType.DASHBOARDS)
            .tags(["glassbox"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )
    for variable in spec.variables:
        builder = builder.with_variable(_variable(variable, datasource_uid))
    panel_id, y = 1, 0
    for row in spec.rows:
        builder = builder.with_row(gdb.Row(row.title).id(panel_id).grid_pos(gdm.GridPos(h=1, w=24, x=0, y=y)))
        panel_id, y = panel_id + 1, y + 1
        x, row_height = 0, 0
        for panel in row.panels:
            if x + panel.width > 24:
                x, y, row_height = 0, y + row_height, 0
            pos = gdm.GridPos(h=panel.height, w=panel.width, x=x, y=y)
            builder = builder.with_panel(_panel(panel, panel_id, pos, datasource_uid, database))
            panel_id += 1
            x += panel.width
            row_height = max(row_height, panel.height)
        y += row_height
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def render(spec: Dashboard, datasource_uid: str = DEFAULT_DATASOURCE_UID, database: str = DEFAULT_DATABASE) -> str:
    """The dashboard JSON as checked in: sorted keys, two-space indent, trailing newline."""
    return json.dumps(build_dashboard(spec, datasource_uid, database), indent=2, sort_keys=True) + "\n"

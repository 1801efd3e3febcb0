"""What a dashboard is made of, independent of Grafana's JSON: panels with their SQL, variables, rows.

:mod:`glassbox.dashboards.build` turns these into Grafana dashboards (grafana-foundation-sdk);
the tests run every :attr:`Panel.sql` and :attr:`Variable.sql` against ClickHouse and check
the result has :attr:`Panel.columns`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class PanelKind(StrEnum):
    TIMESERIES = "timeseries"
    STAT = "stat"
    TABLE = "table"
    BARCHART = "barchart"
    BARGAUGE = "bargauge"


TIME_SERIES_FORMAT = 0
"""The plugin's result formats (sqlds): 0 time series, 1 table, 3 trace."""
TABLE_FORMAT = 1
TRACE_FORMAT = 3


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel: a title, one ClickHouse query and how to show it."""

    title: str
    kind: PanelKind
    sql: str
    columns: tuple[str, ...]
    """Result columns the panel expects, in order."""
    description: str = ""
    unit: str = ""
    width: int = 12
    height: int = 8
    min_interval: str = ""
    """Grafana's minimum interval ('1m' for panels over per-minute rollups)."""
    trace_column: str | None = None
    """A column of trace ids: each cell links to the trace view."""
    x_field: str | None = None
    """Bar charts: the category column."""
    decimals: int | None = None

    @property
    def format(self) -> int:
        return TIME_SERIES_FORMAT if self.kind is PanelKind.TIMESERIES else TABLE_FORMAT

    @property
    def min_interval_s(self) -> int:
        units = {"s": 1, "m": 60, "h": 3600}
        if not self.min_interval:
            return 1
        return int(self.min_interval[:-1]) * units[self.min_interval[-1]]


@dataclass(frozen=True, slots=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """A query variable (multi-value, with All) whose options come from ClickHouse."""

    name: str
    label: str
    sql: str


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ("glassbox",)
    time_from: str = "now-6h"
    refresh: str = "1m"
    links_to: tuple[str, ...] = field(default=())
    """Uids of the other Glassbox dashboards (linked in the header)."""

    @property
    def panels(self) -> list[Panel]:
        return [p for row in self.rows for p in row.panels]

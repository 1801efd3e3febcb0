"""Expand a panel query the way Grafana and its ClickHouse data source plugin do, so tests can run it.

Order and semantics follow grafana-clickhouse-datasource (src/data/CHDatasource.ts and
pkg/macros/macros.go):

1. ``$__conditionalAll(condition, $var)`` (front end, before variables are replaced): the whole
   call becomes ``1=1`` when ``$var`` is "All" (or empty), else ``condition``. Calls are expanded
   from the last one backwards; arguments are split at top-level commas.
2. Template variables (Grafana's template service): ``$var``, ``${var}``, ``[[var]]`` and
   ``${var:format}``. Formats: ``singlequote`` (each value quoted, ``'`` escaped as ``\\'``,
   joined with commas), ``csv``, ``raw``, ``sqlstring`` (``'`` doubled); no format uses the
   plugin's own: a list becomes ``'a','b'``, one value stays as it is. "All" stands for every
   value of the variable. Names that are not variables are left alone.
3. Macros (back end, macropro): ``$__timeFilter(col)`` →
   ``col >= toDateTime(<from>) AND col <= toDateTime(<to>)``; ``$__timeFilter_ms(col)`` the same with
   ``fromUnixTimestamp64Milli(<ms>)``; ``$__dateFilter(col)`` with ``toDate('YYYY-MM-DD')``;
   ``$__timeFrom(col)`` / ``$__timeTo(col)``; ``$__fromTime`` / ``$__toTime`` →
   ``toDateTime(<unix>)``; ``$__fromTime_ms`` / ``$__toTime_ms``;
   ``$__timeInterval(col)`` → ``toStartOfInterval(toDateTime(col), INTERVAL <n> second)``;
   ``$__timeInterval_ms(col)``; ``$__interval_s`` → ``<n>`` (at least 1).
   An unknown ``$__`` macro is an error here (the plugin would pass it to ClickHouse, which fails).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

ALL = "$__all"


class MacroError(ValueError):
    """A macro call is malformed or unknown."""


@dataclass(frozen=True, slots=True)
class Selection:
    """What a dashboard variable is set to: some values, or All (standing for ``all_values``)."""

    values: tuple[str, ...] = ()
    all: bool = False
    all_values: tuple[str, ...] = ()

    @classmethod
    def of(cls, *values: str) -> Selection:
        return cls(values=tuple(values))

    @classmethod
    def everything(cls, all_values: Sequence[str]) -> Selection:
        return cls(all=True, all_values=tuple(all_values))

    @property
    def effective(self) -> tuple[str, ...]:
        return self.all_values if self.all else self.values


@dataclass(frozen=True, slots=True)
class QueryContext:
    """The time range, interval and variable values a query runs with."""

    start: datetime
    end: datetime
    interval_s: int = 60
    variables: Mapping[str, Selection] = field(default_factory=dict)

    @property
    def interval_ms(self) -> int:
        return max(self.interval_s, 1) * 1000


def expand(sql: str, ctx: QueryContext) -> str:
    """The SQL ClickHouse receives for ``sql`` under ``ctx``."""
    sql = expand_conditional_all(sql, ctx.variables)
    sql = replace_variables(sql, ctx.variables)
    return expand_macros(sql, ctx)


# ---------------------------------------------------------------- $__conditionalAll

_CONDITIONAL = "$__conditionalAll("
_VAR_IN_ARG = re.compile(r"(?<=\$\{)[\w\d]+(?=\})|(?<=\$)[\w\d]+")


def expand_conditional_all(sql: str, variables: Mapping[str, Selection]) -> str:
    """Replace each ``$__conditionalAll(cond, $var)`` by ``1=1`` (All or empty) or ``cond``."""
    index = sql.rfind(_CONDITIONAL)
    while index != -1:
        args = _macro_args(sql, index + len(_CONDITIONAL) - 1)
        if len(args) != 2:
            raise MacroError(f"$__conditionalAll takes 2 arguments, got {len(args)}: {sql[index : index + 80]!r}")
        phrase = args[0]
        found = _VAR_IN_ARG.search(args[1].strip())
        if found:
            selection = variables.get(found.group(0))
            if selection is None or selection.all or not selection.values:
                phrase = "1=1"
        sql = sql.replace(f"{_CONDITIONAL}{args[0]},{args[1]})", phrase, 1)
        index = sql.rfind(_CONDITIONAL)
    return sql


def _macro_args(sql: str, open_index: int) -> list[str]:
    """Arguments of the call whose '(' is at ``open_index``, split at top-level commas (plugin's getMacroArgs)."""
    depth = 0
    start = open_index + 1
    args: list[str] = []
    for i in range(open_index, len(sql)):
        ch = sql[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 1:
            args.append(sql[start:i])
            start = i + 1
        if depth == 0:
            args.append(sql[start:i])
            return args
    return []


# ---------------------------------------------------------------- template variables

_TEMPLATE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^}]+))?\}")


def replace_variables(sql: str, variables: Mapping[str, Selection]) -> str:
    """Substitute dashboard variables; anything else that looks like one is left as it is."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(5)
        selection = variables.get(name)
        if selection is None:
            return match.group(0)
        return format_values(selection, fmt)

    return _TEMPLATE.sub(substitute, sql)


def format_values(selection: Selection, fmt: str | None) -> str:
    values = list(selection.effective)
    multiple = selection.all or len(selection.values) != 1
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt == "csv" or fmt == "raw":
        return ",".join(values)
    if fmt is not None:
        raise MacroError(f"variable format {fmt!r} is not supported by this expander")
    if multiple:
        return "'" + "','".join(values) + "'"
    return values[0]


# ---------------------------------------------------------------- back-end macros

_MACRO = re.compile(r"\$__(\w+)")


def expand_macros(sql: str, ctx: QueryContext) -> str:
    """Expand the back end's ``$__`` macros (see the module docstring)."""
    out: list[str] = []
    pos = 0
    for match in _MACRO.finditer(sql):
        if match.start() < pos:
            continue
        name = match.group(1)
        end = match.end()
        args: list[str] | None = None
        if end < len(sql) and sql[end] == "(":
            args = [a.strip() for a in _macro_args(sql, end)]
            close = _closing(sql, end)
            end = close + 1
        out.append(sql[pos : match.start()])
        out.append(_render(name, args, ctx))
        pos = end
    out.append(sql[pos:])
    return "".join(out)


def _closing(sql: str, open_index: int) -> int:
    depth = 0
    for i in range(open_index, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise MacroError(f"unclosed macro call at {sql[open_index - 20 : open_index + 40]!r}")


def _seconds(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp())


def _millis(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp() * 1000)


def _render(name: str, args: list[str] | None, ctx: QueryContext) -> str:
    frm, to = ctx.start, ctx.end
    no_args: dict[str, str] = {
        "fromTime": f"toDateTime({_seconds(frm)})",
        "toTime": f"toDateTime({_seconds(to)})",
        "fromTime_ms": f"fromUnixTimestamp64Milli({_millis(frm)})",
        "toTime_ms": f"fromUnixTimestamp64Milli({_millis(to)})",
        "interval_s": str(max(ctx.interval_s, 1)),
    }
    if name in no_args:
        return no_args[name]
    one_arg = {"timeFilter", "timeFilter_ms", "dateFilter", "timeFrom", "timeTo", "timeInterval", "timeInterval_ms"}
    if name not in one_arg:
        raise MacroError(f"unknown macro $__{name}")
    if args is None or len(args) != 1 or not args[0]:
        raise MacroError(f"$__{name} expects 1 argument(s), received {0 if args is None else len(args)}")
    col = args[0]
    if name == "timeFilter":
        return f"{col} >= toDateTime({_seconds(frm)}) AND {col} <= toDateTime({_seconds(to)})"
    if name == "timeFilter_ms":
        return f"{col} >= fromUnixTimestamp64Milli({_millis(frm)}) AND {col} <= fromUnixTimestamp64Milli({_millis(to)})"
    if name == "dateFilter":
        return (f"{col} >= toDate('{frm.astimezone(UTC):%Y-%m-%d}') AND "
                f"{col} <= toDate('{to.astimezone(UTC):%Y-%m-%d}')")  # fmt: skip
    if name == "timeFrom":
        return f"{col} >= toDateTime({_seconds(frm)})"
    if name == "timeTo":
        return f"{col} <= toDateTime({_seconds(to)})"
    if name == "timeInterval":
        return f"toStartOfInterval(toDateTime({col}), INTERVAL {max(ctx.interval_s, 1)} second)"
    return f"toStartOfInterval(toDateTime64({col}, 3), INTERVAL {ctx.interval_ms} millisecond)"

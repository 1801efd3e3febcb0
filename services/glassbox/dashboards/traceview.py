"""Drill-down into one trace: the ClickHouse plugin's trace-ID query and the Explore link that runs it.

:func:`trace_query_sql` reproduces the SQL the plugin's query builder generates for a trace in
trace-ID mode over an OpenTelemetry-schema table (src/data/sqlGenerator.ts, generateTraceIdQuery,
with the OTel column map): the ``<table>_trace_id_ts`` companion narrows the time range, and the
columns carry the aliases Grafana's trace view reads (traceID, spanID, parentSpanID, serviceName,
operationName, startTime, duration, tags, serviceTags, statusCode, logs, references, kind,
statusMessage, traceState). Glassbox's ``otel_traces`` view (spans FINAL) and
``otel_traces_trace_id_ts`` are that table and its companion.

:func:`explore_url` is a data link URL: Explore with the plugin's trace query (``queryType: traces``,
format 3, the builder options of trace-ID mode) for the trace id in the clicked cell
(``${__value.raw}``), over the dashboard's time range.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

DATASOURCE_TYPE = "grafana-clickhouse-datasource"
TRACE_TABLE = "otel_traces"
TRACE_ID_VALUE = "${__value.raw}"

OTEL_TRACE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "Timestamp"),
    ("trace_id", "TraceId"),
    ("trace_span_id", "SpanId"),
    ("trace_parent_span_id", "ParentSpanId"),
    ("trace_service_name", "ServiceName"),
    ("trace_operation_name", "SpanName"),
    ("trace_duration_time", "Duration"),
    ("trace_tags", "SpanAttributes"),
    ("trace_service_tags", "ResourceAttributes"),
    ("trace_status_code", "StatusCode"),
    ("trace_kind", "SpanKind"),
    ("trace_status_message", "StatusMessage"),
    ("trace_state", "TraceState"),
)
"""The plugin's OTel 1.2.9 trace column map (column hint → column)."""

TRACE_VIEW_COLUMNS = (
    "traceID", "spanID", "parentSpanID", "serviceName", "operationName", "startTime", "duration", "tags",
    "serviceTags", "statusCode", "logs", "references", "kind", "statusMessage", "traceState",
)  # fmt: skip
"""What the trace-ID query returns, in order."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table(database: str, table: str) -> str:
    return f"{_ident(database)}.{_ident(table)}" if database else _ident(table)


def trace_query_sql(trace_id: str, database: str, table: str = TRACE_TABLE) -> str:
    """The plugin's trace-ID query for ``trace_id`` (a literal or ``${__value.raw}``)."""
    events = (
        "arrayMap((name, timestamp, attributes) -> tuple(name, toString(toUnixTimestamp64Milli(timestamp)), "
        "arrayMap(key -> map('key', key, 'value', attributes[key]), mapKeys(attributes)))"
        "::Tuple(name String, timestamp String, fields Array(Map(String, String))), "
        '"Events".Name, "Events".Timestamp, "Events".Attributes) AS logs'
    )
    links = (
        "arrayMap((traceID, spanID, attributes) -> tuple(traceID, spanID, "
        "arrayMap(key -> map('key', key, 'value', attributes[key]), mapKeys(attributes)))"
        "::Tuple(traceID String, spanID String, tags Array(Map(String, String))), "
        '"Links".TraceId, "Links".SpanId, "Links".Attributes) AS references'
    )
    select = ", ".join(
        [
            '"TraceId" as traceID',
            '"SpanId" as spanID',
            '"ParentSpanId" as parentSpanID',
            '"ServiceName" as serviceName',
            '"SpanName" as operationName',
            'multiply(toUnixTimestamp64Nano("Timestamp"), 0.000001) as startTime',
            'multiply("Duration", 0.000001) as duration',
            "arrayMap(key -> map('key', key, 'value',\"SpanAttributes\"[key]), mapKeys(\"SpanAttributes\")) as tags",
            "arrayMap(key -> map('key', key, 'value',\"ResourceAttributes\"[key]), "
            'mapKeys("ResourceAttributes")) as serviceTags',
            "if(\"StatusCode\" IN ('Error', 'STATUS_CODE_ERROR'), 2, 0) as statusCode",
            events,
            links,
            '"SpanKind" as kind',
            '"StatusMessage" as statusMessage',
            '"TraceState" as traceState',
        ]
    )
    ts = _table(database, table + "_trace_id_ts")
    return " ".join(
        [
            "WITH",
            f"'{trace_id}' as __gf_trace_id,",
            f"(SELECT min(Start) FROM {ts} WHERE TraceId = __gf_trace_id) as __gf_trace_start,",
            f"(SELECT max(End) + 1 FROM {ts} WHERE TraceId = __gf_trace_id) as __gf_trace_end",
            "SELECT",
            select,
            "FROM",
            _table(database, table),
            'WHERE traceID = __gf_trace_id AND "Timestamp" >= __gf_trace_start AND "Timestamp" <= __gf_trace_end',
        ]
    )


def trace_query(datasource_uid: str, database: str, trace_id: str = TRACE_ID_VALUE) -> dict[str, Any]:
    """The plugin's query model (builder, trace-ID mode) that opens one trace in the trace view."""
    return {
        "refId": "Trace ID",
        "datasource": {"type": DATASOURCE_TYPE, "uid": datasource_uid},
        "editorType": "builder",
        "queryType": "traces",
        "format": 3,
        "pluginVersion": "",
        "rawSql": trace_query_sql(trace_id, database),
        "builderOptions": {
            "database": database,
            "table": TRACE_TABLE,
            "queryType": "traces",
            "columns": [{"name": name, "hint": hint} for hint, name in OTEL_TRACE_COLUMNS],
            "filters": [],
            "orderBy": [],
            "meta": {
                "minimized": True,
                "isTraceIdMode": True,
                "traceId": trace_id,
                "traceDurationUnit": "nanoseconds",
                "otelEnabled": True,
                "otelVersion": "1.29.0",
                "traceEventsColumnPrefix": "Events",
                "traceLinksColumnPrefix": "Links",
                "hasTraceTimestampTable": True,
                "traceTimestampTableSuffix": "_trace_id_ts",
                "flattenNested": False,
            },
        },
    }


_SENTINELS = {"GBXTRACEID": TRACE_ID_VALUE, "GBXFROM": "${__from}", "GBXTO": "${__to}"}


def explore_url(datasource_uid: str, database: str) -> str:
    """``/explore`` URL opening the clicked trace id in the trace view (Grafana interpolates the ``${...}``)."""
    panes = {
        "trace": {
            "datasource": datasource_uid,
            "queries": [trace_query(datasource_uid, database, "GBXTRACEID")],
            "range": {"from": "GBXFROM", "to": "GBXTO"},
        }
    }
    encoded = quote(json.dumps(panes, separators=(",", ":")), safe="")
    for sentinel, template in _SENTINELS.items():
        encoded = encoded.replace(sentinel, template)
    return f"/explore?schemaVersion=1&panes={encoded}"


def trace_link(datasource_uid: str, database: str) -> dict[str, Any]:
    """A field data link: the trace view of the clicked trace id, in a new tab."""
    return {"title": "Trace view", "url": explore_url(datasource_uid, database), "targetBlank": True}

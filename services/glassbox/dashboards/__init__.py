"""Grafana dashboards as code (grafana-foundation-sdk), over the ClickHouse data source plugin.

- :mod:`.model` — panels with their SQL, rows, variables, dashboards.
- :mod:`.filters` — the dashboard variables and the filter each table applies for them.
- :mod:`.overview`, :mod:`.quality`, :mod:`.agents`, :mod:`.pipeline_health` — the four dashboards.
- :mod:`.traceview` — drill-down links into the plugin's trace view.
- :mod:`.macros` — the plugin's macros and Grafana's variable interpolation, for running the queries in tests.
- :mod:`.build`, :mod:`.generate` — Grafana JSON, written to deploy/grafana/dashboards (`glassbox dashboards generate`).
"""

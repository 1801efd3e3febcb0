"""Threshold alerts as code: the alerts file, its one-query-per-rule compilation, checks and Grafana sync.

- :mod:`.config` — the alerts file model (deploy/alerts.yaml), validated with field paths.
- :mod:`.metrics` — what a rule can watch, and from which table.
- :mod:`.compile` — a rule → one ClickHouse query (Grafana and the CLI run the same SQL).
- :mod:`.check` — `glassbox alerts check`: evaluate against ClickHouse now.
- :mod:`.grafana_rules`, :mod:`.sync` — `glassbox alerts sync` through Grafana's provisioning API.
- :mod:`.provisioning` — the same rules as a Grafana provisioning file.
"""

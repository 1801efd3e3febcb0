"""The ClickHouse cluster variant of the migrations is up to date and every statement parses (chDB)."""

from __future__ import annotations

from pathlib import Path

import pytest

from glassbox.common.clickhouse import Client
from glassbox.common.settings import ClickHouseSettings
from glassbox.sink.cluster import cluster_ddl
from glassbox.sink.migrations import load_migrations, render, split_statements

CHECKED_IN = Path(__file__).resolve().parents[2] / "schemas" / "clickhouse" / "cluster" / "glassbox_cluster.sql"


def test_checked_in_cluster_ddl_is_generated_from_the_migrations() -> None:
    """`python -m glassbox.sink.cluster > schemas/clickhouse/cluster/glassbox_cluster.sql` is up to date."""
    assert CHECKED_IN.read_text() == cluster_ddl()


def test_every_cluster_statement_parses(migrated: Client, ch_settings: ClickHouseSettings) -> None:
    """ClickHouse's parser accepts each statement (EXPLAIN AST); every table is replicated and distributed."""
    statements = split_statements(render(cluster_ddl(), ch_settings))
    for statement in statements:
        migrated.query(f"EXPLAIN AST {statement}")
    with pytest.raises(Exception, match="Syntax error"):
        migrated.query("EXPLAIN AST CREATE TABLE x ON CLUSTER 'c' (a UInt8) ENGINE = ")
    tables = [s for s in statements if s.startswith("CREATE TABLE") and "_local ON CLUSTER" in s]
    single = [s for m in load_migrations() for s in split_statements(m.sql) if "MergeTree" in s and "CREATE TABLE" in s]
    assert len(tables) == len(single)
    assert all("ENGINE = Replicated" in s for s in tables)
    assert sum("ENGINE = Distributed('glassbox'" in s for s in statements) == len(single)
    assert "not converted" not in cluster_ddl()

"""Datasets built from failing demo traces: `dataset add --query/--trace`, JSONL export and import, through the CLI.

The demo support bot runs in this process against the demo's fake provider (which also plays the
LLM judge); its traces are stored with their evaluations as the pipeline would store them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glassbox.common.clickhouse import Client
from glassbox.common.settings import ClickHouseSettings
from glassbox.datasets.backend import Backend, direct
from glassbox.examples.provider import HALLUCINATED
from tests.support.cli import glassbox

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def provider() -> Iterator[Any]:
    """The demo's fake provider with the simulated judge (one per module)."""
    from glassbox.datasets.demo_target import make_provider

    server = make_provider()
    yield server
    server.stop()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, chdb_path: Path, ch_settings: ClickHouseSettings, provider: Any) -> None:
    """The CLI reads the test's database; the judge and the demo target use the fake provider."""
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_URL", f"chdb://{chdb_path}")
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_DATABASE", ch_settings.database)
    monkeypatch.setenv("GLASSBOX_EVAL_JUDGE_API_BASE", provider.base_url)
    monkeypatch.setenv("GLASSBOX_DEMO_API_BASE", provider.base_url)
    monkeypatch.delenv("GLASSBOX_KAFKA_BOOTSTRAP_SERVERS", raising=False)


@pytest.fixture
def backend(migrated: Client, ch_settings: ClickHouseSettings, env: None) -> Backend:
    return direct(migrated, ch_settings)


def test_failing_demo_traces_become_a_dataset_that_round_trips_through_jsonl(
    backend: Backend, provider: Any, tmp_path: Path
) -> None:
    """Traces the evaluators failed (hallucination, instruction drift) are added by a query; each item holds
    the root input, the retrieved documents, no expected output, the failure tags and the bad output; exporting
    and importing the JSONL into another dataset gives identical items."""
    from glassbox.datasets.demo_target import record_traffic

    rows = record_traffic(backend, [("hallucination", 1), ("json_drift", 1), ("healthy", 2)], api=provider.base_url)
    failing = {r["trace_id"] for r in rows if r["expected"]}
    db = backend.database
    sql = (
        f"SELECT DISTINCT TraceId FROM {db}.evaluations FINAL WHERE Status = 'failed' AND FailureCategory IN "
        "('hallucination', 'instruction_drift')"
    )
    added = glassbox("dataset", "add", "regressions", "--query", sql, "--no-expected", "--tag", "prod")
    assert added.exit_code == 0, added.output
    assert "regressions@1: 2 added, 0 replaced, 2 item(s)" in added.output

    exported = tmp_path / "regressions.jsonl"
    assert glassbox("dataset", "export", "regressions", "-o", str(exported)).exit_code == 0
    lines = [json.loads(line) for line in exported.read_text().splitlines()]
    assert {line["source_trace_id"] for line in lines} == failing
    by_question = {line["input"].get("question") or line["input"].get("ticket"): line for line in lines}
    hallucinated = by_question["What is the refund window for electronics?"]
    assert hallucinated["expected"] is None
    assert "failure:hallucination" in hallucinated["tags"] and "prod" in hallucinated["tags"]
    assert hallucinated["context"][0]["id"] == "kb-refunds"
    assert hallucinated["metadata"]["source"]["output"] == HALLUCINATED
    assert hallucinated["metadata"]["source"]["service"] == "support-bot"

    imported = glassbox("dataset", "import", "copy", str(exported))
    assert imported.exit_code == 0 and "copy@1: 2 added" in imported.output
    again = glassbox("dataset", "export", "copy")
    strip = [{k: v for k, v in json.loads(line).items() if k != "dataset"} for line in again.output.splitlines()]
    assert strip == [{k: v for k, v in line.items() if k != "dataset"} for line in lines]


def test_a_trace_added_by_prefix_keeps_its_output_as_expected_and_readding_changes_nothing(
    backend: Backend, provider: Any
) -> None:
    """--trace takes a unique id prefix; the output becomes the expected answer; adding it again makes no version."""
    from glassbox.datasets.demo_target import record_traffic

    rows = record_traffic(backend, [("healthy", 1)], api=provider.base_url)
    trace_id = rows[0]["trace_id"]
    first = glassbox("dataset", "add", "healthy", "--trace", trace_id[:10])
    assert "healthy@1: 1 added" in first.output
    second = glassbox("dataset", "add", "healthy", "--trace", trace_id)
    assert "healthy@1: 0 added, 0 replaced, 1 item(s)" in second.output
    shown = glassbox("dataset", "show", "healthy", "--format", "json")
    line = json.loads(shown.output)
    assert line["expected"] == line["metadata"]["source"]["output"] != ""
    missing = glassbox("dataset", "add", "healthy", "--trace", "ffffffffff")
    assert missing.exit_code == 2 and "0 stored traces match 'ffffffffff'" in missing.output


def test_query_sql_runs_read_only_and_must_return_trace_ids(backend: Backend) -> None:
    """A write in --query is refused by the engine (read-only session); a query returning other values is refused."""
    db = backend.database
    dropped = glassbox("dataset", "add", "x", "--query", f"DROP TABLE {db}.dataset_items")
    assert dropped.exit_code == 2 and "--query runs read-only" in dropped.output
    assert (
        backend.rows(
            "SELECT count() AS n FROM system.tables WHERE database = {d:String} AND name = 'dataset_items'", {"d": db}
        )[0]["n"]
        == 1
    )
    wrong = glassbox("dataset", "add", "x", "--query", "SELECT 'not-an-id'")
    assert wrong.exit_code == 2 and "not a trace id" in wrong.output

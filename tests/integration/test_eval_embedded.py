"""The evaluators inside the embedded stack (`glassbox up`): traces keep being ingested while every judge
call hangs, results land in ClickHouse with their categories, and the CLI shows them.

One stack (subprocess: Tansu, assembler, evaluators, sink, chDB) for the module. The app under
test is the corpus's RAG app, instrumented with the SDK and exporting to the stack's broker.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import glassbox
from glassbox.common.settings import KafkaSettings
from glassbox.devtools import FakeLLM, Fault, Rule
from glassbox.embedded.runtime import spawn_background
from glassbox.embedded.stack import StackInfo, stop_stack
from tests.support.corpus import run_scenario

SCENARIOS = [("rag_ok", "ok"), ("rag_empty", "empty"), ("rag_hallucination", "hallucination")]
PER_SCENARIO = 8


class Stack:
    def __init__(self, data_dir: Path, info: StackInfo, judge: FakeLLM, env: dict[str, str]) -> None:
        self.data_dir, self.info, self.judge, self.env = data_dir, info, judge, env

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import clickhouse_connect

        host, port = self.info.query_url.removeprefix("http://").split(":")
        client = clickhouse_connect.get_client(host=host, port=int(port), database="glassbox", compress=False)
        try:
            return list(client.query(sql).result_rows)
        finally:
            client.close()

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "glassbox.cli", *args, "--data-dir", str(self.data_dir)],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The embedded stack with a judge that never answers (each call cut after 1 s, 2 calls at a time)."""
    tmp = tmp_path_factory.mktemp("evalstack")
    with FakeLLM([Rule(fault=Fault.hang(60))]) as judge:
        config = tmp / "evaluators.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "judges": {"default": {"model": "openai/fake-judge", "api_base": judge.base_url,
                                           "timeout_s": 2, "max_attempts": 1}},
                    "bindings": [
                        {"name": "rules", "evaluators": ["empty_retrieval", "refusal_with_context"]},
                        {"name": "judges", "match": {"has_retrieval": True}, "evaluators": ["faithfulness"]},
                    ],
                }
            )
        )  # fmt: skip
        env = {
            "GLASSBOX_EVAL_CONFIG": str(config),
            "GLASSBOX_EVAL_JUDGE_CONCURRENCY": "2",
            "GLASSBOX_PIPELINE_TRACE_GRACE_S": "0.5",
            "GLASSBOX_PIPELINE_SINK_BATCH_SECONDS": "0.3",
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        }
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        data_dir = tmp / "data"
        proc, info = spawn_background(data_dir)
        try:
            yield Stack(data_dir, info, judge, dict(os.environ))
        finally:
            stop_stack(data_dir)
            proc.wait(30)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def count(stack: Stack, sql: str) -> int:
    return int(stack.query(sql)[0][0])


def wait_for(stack: Stack, sql: str, expected: int, timeout: float) -> float:
    """Seconds until ``sql`` counts ``expected`` (fails after ``timeout``)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if count(stack, sql) >= expected:
            return time.monotonic() - started
        time.sleep(0.25)
    pytest.fail(f"{sql} did not reach {expected} within {timeout}s (got {count(stack, sql)})")


@pytest.fixture(scope="module")
def sent(stack: Stack) -> dict[str, Any]:
    """Two waves through the SDK: RAG traces that keep both judge slots hanging, then empty-retrieval traces
    (rules only) timed from the SDK's flush until ClickHouse holds every trace."""
    glassbox.init(service_name="acme-assistant", kafka=KafkaSettings(bootstrap_servers=stack.info.kafka),
                  redact_builtin="")  # fmt: skip
    rng = random.Random(3)
    for _ in range(PER_SCENARIO):
        run_scenario("rag_healthy", rng)
        run_scenario("rag_hallucination", rng)
    assert glassbox.flush(30)
    deadline = time.monotonic() + 60
    while stack.judge.count("chat") < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stack.judge.count("chat") >= 2, "the judges never got busy"
    for _ in range(PER_SCENARIO):
        run_scenario("rag_empty", rng)
    assert glassbox.flush(30)
    total = PER_SCENARIO * len(SCENARIOS)
    stored_s = wait_for(stack, "SELECT count() FROM traces FINAL", total, 60)
    judged_when_stored = count(stack, "SELECT count() FROM evaluations FINAL WHERE Evaluator = 'faithfulness'")
    return {"total": total, "stored_s": stored_s, "judged_when_stored": judged_when_stored}


def test_traces_are_stored_while_every_judge_call_hangs(stack: Stack, sent: dict[str, Any]) -> None:
    """Traces sent while both judge slots hang (each call until its 2 s timeout, 16 judgements queued)
    reach ClickHouse within seconds: by then the judges had finished only a few of their evaluations."""
    print(f"\n{sent['total']} traces stored {sent['stored_s']:.1f}s after the SDK flushed; "
          f"{sent['judged_when_stored']} of 16 judge results existed at that moment")  # fmt: skip
    assert sent["stored_s"] < 10
    assert sent["judged_when_stored"] < 2 * PER_SCENARIO


def test_judge_timeouts_are_stored_as_errors_and_rules_as_verdicts(stack: Stack, sent: dict[str, Any]) -> None:
    """Every faithfulness evaluation ends as an error naming the timeout (no score); empty retrievals fail
    with retrieval_failure."""
    judged = sent["total"] - PER_SCENARIO  # the empty retrievals have no context: nothing to judge
    wait_for(stack, "SELECT count() FROM evaluations FINAL WHERE Evaluator = 'faithfulness'", judged, 120)
    rows = stack.query(
        "SELECT Status, count(), countIf(Score IS NULL), any(Reason) FROM evaluations FINAL "
        "WHERE Evaluator = 'faithfulness' GROUP BY Status ORDER BY Status"
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [("error", judged, judged)]
    assert "HTTP 408" in rows[0][3]
    failed = count(stack, "SELECT count() FROM evaluations FINAL WHERE Evaluator = 'empty_retrieval' "
                          "AND Status = 'failed' AND FailureCategory = 'retrieval_failure'")  # fmt: skip
    assert failed == PER_SCENARIO


def test_the_cli_shows_failing_traces_with_their_categories(stack: Stack, sent: dict[str, Any]) -> None:
    """`glassbox traces --category retrieval_failure` lists the empty-retrieval traces; `glassbox trace ID`
    shows the failed evaluation with its reason; `glassbox evaluate ID --dry-run` re-runs the rule."""
    wait_for(stack, "SELECT count() FROM evaluations FINAL WHERE Evaluator = 'empty_retrieval'", sent["total"], 60)
    wait_for(stack, "SELECT count(DISTINCT TraceId) FROM traces FINAL", sent["total"], 60)
    listed = json.loads("[" + ",".join(stack.cli("traces", "--category", "retrieval_failure", "--since", "all",
                                                 "--format", "json").splitlines()) + "]")  # fmt: skip
    assert len(listed) == PER_SCENARIO and all("retrieval_failure" in row["categories"] for row in listed)
    trace_id = listed[0]["trace_id"]
    shown = stack.cli("trace", trace_id, "--format", "json")
    evaluations = json.loads(shown)["evaluations"]
    failed = [e for e in evaluations if e["Status"] == "failed"]
    assert failed[0]["Evaluator"] == "empty_retrieval" and "returned no documents" in failed[0]["Reason"]
    rerun = [
        json.loads(line)
        for line in stack.cli(
            "evaluate", trace_id[:12], "--dry-run", "--evaluator", "empty_retrieval", "--format", "json"
        ).splitlines()
    ]
    assert [(r["evaluator"], r["status"], r["category"]) for r in rerun] == [
        ("empty_retrieval", "failed", "retrieval_failure")
    ]

"""The debugging loop end to end, as the README tells it: find a failing trace, add it to a dataset, change the
prompt, run the experiment, compare — then catch a regression and replay the failing generation.

Every step is the real `glassbox` command in its own process, on a fresh embedded data directory (chDB).
Production traffic is the demo support bot, run in its own process against the demo's fake provider (which
also plays the LLM judge) and stored with its evaluations as the pipeline stores them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SYSTEM = "You are a support assistant. Answer only from the context and cite the document id in brackets."
FIX = " If the context does not say, answer that you do not know; quote the context sentence that answers."
USER = "Context:\n{{context}}\n\nQuestion: {{question}}"
EVALUATORS = "faithfulness,semantic_similarity"
TARGET = "glassbox.datasets.demo_target:answer"
RECORD = """
from glassbox.datasets.backend import open_backend
from glassbox.datasets.demo_target import record_traffic
backend = open_backend(write=True)
record_traffic(backend, [("hallucination", 1), ("healthy", 3)])
backend.close()
"""


class Loop:
    """Runs `glassbox` commands (and Python snippets) in child processes sharing one environment."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env, self.cwd = env, cwd

    def python(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.python("-m", "glassbox.cli", *args)


@pytest.fixture
def glassbox(tmp_path: Path) -> Iterator[Loop]:
    """A fresh data directory (the CLI's default one), and the fake provider as the model and the judge."""
    from glassbox.datasets.demo_target import make_provider

    provider = make_provider()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASSBOX_")}
    env.update(
        GLASSBOX_EMBEDDED_DATA_DIR=str(tmp_path / ".glassbox"),
        GLASSBOX_DEMO_API_BASE=provider.base_url,
        GLASSBOX_EVAL_JUDGE_API_BASE=provider.base_url,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        COLUMNS="200",
        TZ="UTC",
    )
    try:
        yield Loop(env, tmp_path)
    finally:
        provider.stop()


def ok(result: subprocess.CompletedProcess[str], code: int = 0) -> str:
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def test_find_isolate_fix_compare_and_catch_a_regression(glassbox: Loop, tmp_path: Path) -> None:
    """The hallucinated electronics refund answer is found, isolated with three healthy cases, fixed by prompt
    version 2 (faithfulness newly passing, no regression, exit 0), broken by version 3 (context dropped: newly
    failing items, exit 1), and its generation replayed with version 2 (the invented 90 days are gone)."""
    ok(glassbox.python("-c", RECORD))

    # 1. find the failing trace
    found = ok(glassbox("traces", "--category", "hallucination", "--format", "json", "--since", "all"))
    failing = [json.loads(line) for line in found.splitlines()]
    assert len(failing) == 1 and "hallucination" in failing[0]["categories"]
    trace_id = failing[0]["trace_id"]

    # 2. isolate it (no expected output: it is wrong) next to healthy cases (their answers are right)
    ok(glassbox("dataset", "add", "support-golden", "--trace", trace_id[:12], "--no-expected"))
    healthy = (
        "SELECT TraceId FROM glassbox.traces WHERE TraceId NOT IN "
        "(SELECT TraceId FROM glassbox.evaluations WHERE Status = 'failed')"
    )
    added = ok(glassbox("dataset", "add", "support-golden", "--query", healthy))
    assert "support-golden@2: 3 added, 0 replaced, 4 item(s)" in added

    # 3. version the prompt: what production runs, the fix, and a careless edit
    for version, (system, user) in enumerate(
        [(SYSTEM, USER), (SYSTEM + FIX, USER), (SYSTEM, "Question: {{question}}")]
    ):
        added = ok(
            glassbox(
                "prompt",
                "add",
                "support-answer",
                "--system",
                system,
                "--user",
                user,
                "--model",
                "openai/support-mini",
                "--param",
                "temperature=0.2",
            )
        )
        assert f"registered support-answer@{version + 1}" in added

    # 4. run the experiments
    for prompt, name in (("support-answer@1", "before"), ("support-answer@2", "fix"), ("support-answer@3", "broken")):
        ok(
            glassbox(
                "experiment",
                "run",
                "--dataset",
                "support-golden",
                "--target",
                TARGET,
                "--prompt",
                prompt,
                "--name",
                name,
                "-e",
                EVALUATORS,
            )
        )
    before = results(glassbox, "before")
    fix = results(glassbox, "fix")
    item = next(i for i, r in before.items() if not passed(r))
    assert statuses(before[item])["faithfulness"] == "failed" and "90 days" in str(before[item]["output"])
    assert passed(fix[item]) and "90 days" not in str(fix[item]["output"])

    # 5. compare: the fix passes the CI gate; the careless edit does not
    report = tmp_path / "fix.md"
    ok(glassbox("experiment", "compare", "before", "fix", "--fail-on-regression", "--report", str(report)))
    text = report.read_text()
    assert "| no regression |" in text and "| pass rate | 75% → 100% |" in text
    assert f"| {item} |" in text.split("## Newly passing items")[1]
    bad = ok(glassbox("experiment", "compare", "fix", "broken", "--fail-on-regression"), code=1)
    assert "newly failing" in bad

    # 6. replay the production generation with the fixed prompt (variables recovered from version 1)
    replayed = ok(
        glassbox(
            "replay",
            trace_id,
            "--prompt",
            "support-answer@2",
            "--api-base",
            glassbox.env["GLASSBOX_DEMO_API_BASE"],
            "--format",
            "json",
        )
    )
    doc = json.loads(replayed)
    assert "90 days" in doc["original"]["output"] and "90 days" not in doc["replay"]["output"]
    assert "variables recovered with support-answer@1" in doc["replay"]["notes"]


def results(glassbox: Loop, name: str) -> dict[str, dict[str, Any]]:
    lines = ok(glassbox("experiment", "show", name, "--format", "json")).splitlines()
    return {doc["item_id"]: doc for doc in map(json.loads, lines)}


def statuses(result: dict[str, Any]) -> dict[str, str]:
    return {e["evaluator"]: e["status"] for e in result["evaluations"]}


def passed(result: dict[str, Any]) -> bool:
    return result["status"] == "ok" and "failed" not in statuses(result).values()

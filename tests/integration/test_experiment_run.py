"""Experiments in chDB with a fake provider: tracing and tagging, resuming after an interruption, and a
regression introduced on purpose caught by `experiment compare --fail-on-regression`, all through the CLI."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from glassbox.common.clickhouse import Client
from glassbox.common.settings import ClickHouseSettings
from glassbox.datasets.backend import Backend, direct
from glassbox.datasets.experiments import ExperimentStore
from glassbox.datasets.models import DatasetItem
from glassbox.datasets.store import DatasetStore
from glassbox.devtools import FakeLLM, Rule
from tests.support.cli import glassbox
from tests.support.fake_llm import litellm_module_fixture  # noqa: F401

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
ANSWERS = {
    "How long does express shipping take?": "Express shipping takes 1 to 2 business days.",
    "Do gift cards expire?": "Gift cards never expire.",
    "How do I reset my password?": "Open Settings, choose Security and click Reset password.",
    "When are refunds paid?": "Refunds are paid within 5 business days.",
}
CALLS: Counter[str] = Counter()
INTERRUPT_AT: dict[str, int] = {}


def answer(question: str, prompt: Any) -> str:
    """The experiment target: render the prompt version, call the fake provider through litellm."""
    import litellm

    CALLS[question] += 1
    if INTERRUPT_AT.get("call") == sum(CALLS.values()):
        raise KeyboardInterrupt  # as Ctrl-C would, in the middle of the run
    kwargs = prompt.litellm_kwargs(question=question)
    response = litellm.completion(api_base=os.environ["TEST_FAKE_LLM"], api_key="x", num_retries=0, **kwargs)
    return str(response.choices[0].message.content)


TARGET = f"{__name__}:answer"


def reply(request: Any) -> str:
    """The fake model answers correctly, unless told to answer in French (the regression)."""
    if "french" in request.system.lower():
        return "Je ne sais pas, désolé."
    question = request.text.split("Q:", 1)[-1].strip()
    return ANSWERS.get(question, "I don't know.")


@pytest.fixture
def llm(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    with FakeLLM([Rule(reply=reply, name="answers")]) as server:
        monkeypatch.setenv("TEST_FAKE_LLM", server.base_url)
        yield server


@pytest.fixture
def backend(
    migrated: Client,
    ch_settings: ClickHouseSettings,
    chdb_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    llm: FakeLLM,
    litellm_module: Any,
) -> Backend:
    """The test's database (also for the CLI), a dataset of four questions with expected answers, two prompts."""
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_URL", f"chdb://{chdb_path}")
    monkeypatch.setenv("GLASSBOX_CLICKHOUSE_DATABASE", ch_settings.database)
    monkeypatch.delenv("GLASSBOX_KAFKA_BOOTSTRAP_SERVERS", raising=False)
    CALLS.clear()
    INTERRUPT_AT.clear()
    backend = direct(migrated, ch_settings)
    items = [
        DatasetItem(item_id=f"item-{n}", input={"question": q}, expected=a) for n, (q, a) in enumerate(ANSWERS.items())
    ]
    DatasetStore(backend).add("support", items)
    for system in ("Answer briefly.", "Answer briefly, in French."):
        result = glassbox(
            "prompt",
            "add",
            "answer",
            "--system",
            system,
            "--user",
            "Q: {{question}}",
            "--model",
            "openai/fake-model",
            "--param",
            "temperature=0",
        )
        assert result.exit_code == 0, result.output
    return backend


def run(prompt: str, name: str, *extra: str) -> Any:
    return glassbox(
        "experiment",
        "run",
        "--dataset",
        "support",
        "--target",
        TARGET,
        "--prompt",
        prompt,
        "--name",
        name,
        "-e",
        "semantic_similarity",
        "--concurrency",
        "1",
        *extra,
    )


def test_every_call_is_traced_tagged_evaluated_and_stored(backend: Backend) -> None:
    """Each item is one stored trace with the experiment, dataset and item tags, the prompt-tagged generation,
    the evaluator's result in evaluations, and a result row with output, tokens, cost and scores."""
    result = run("answer@1", "baseline")
    assert result.exit_code == 0, result.output
    exp = ExperimentStore(backend).get("baseline")
    assert (exp.status, exp.dataset_ref, exp.prompt_ref, exp.item_count) == ("finished", "support@1", "answer@1", 4)
    results = ExperimentStore(backend).results(exp.experiment_id)
    assert sorted(r.output for r in results) == sorted(ANSWERS.values())
    assert all(r.passed and r.scores["semantic_similarity"] > 0.5 and r.output_tokens > 0 for r in results)
    db = backend.database
    tags = backend.rows(
        f"SELECT TraceId, Tags FROM {db}.traces FINAL WHERE has(Tags, {{t:String}})",
        {"t": f"experiment:{exp.experiment_id}"},
    )
    assert {t["TraceId"] for t in tags} == {r.trace_id for r in results}
    assert all("dataset:support@1" in t["Tags"] for t in tags)
    assert {next(x for x in t["Tags"] if x.startswith("item:")) for t in tags} == {f"item:item-{n}" for n in range(4)}
    prompts = backend.rows(
        f"SELECT DISTINCT PromptName, PromptVersion FROM {db}.spans FINAL WHERE Kind = 'generation' "
        "AND TraceId IN {ids:Array(String)}",
        {"ids": [r.trace_id for r in results]},
    )
    assert prompts == [{"PromptName": "answer", "PromptVersion": "1"}]
    evaluations = backend.rows(
        f"SELECT count() AS n FROM {db}.evaluations FINAL WHERE Evaluator = 'semantic_similarity' "
        "AND TraceId IN {ids:Array(String)}",
        {"ids": [r.trace_id for r in results]},
    )
    assert evaluations[0]["n"] == 4


def test_a_resumed_run_does_not_redo_finished_items(backend: Backend, llm: FakeLLM) -> None:
    """Interrupted at the third call (exit 130, status interrupted), the same command again runs only the
    interrupted item and the one never started: every item is called once, except the interrupted one twice."""
    INTERRUPT_AT["call"] = 3
    first = run("answer@1", "resumable")
    assert first.exit_code == 130 and "run the same command again to resume" in first.output
    exp = ExperimentStore(backend).get("resumable")
    assert exp.status == "interrupted"
    assert len(ExperimentStore(backend).done_items(exp.experiment_id)) == 2
    INTERRUPT_AT.clear()
    second = run("answer@1", "resumable")
    assert second.exit_code == 0 and "2 already done (resuming)" in second.output
    assert sorted(CALLS.values()) == [1, 1, 1, 2]
    assert llm.count("chat") == 4
    done = ExperimentStore(backend).get(exp.experiment_id)
    assert done.status == "finished" and len(ExperimentStore(backend).results(exp.experiment_id)) == 4
    again = glassbox("experiment", "run", "--resume", exp.experiment_id, "-c", "1")
    assert again.exit_code == 0 and sum(CALLS.values()) == 5


def test_a_regression_introduced_on_purpose_fails_compare(backend: Backend, tmp_path: Path) -> None:
    """Prompt version 2 makes the model answer in French: compare exits 1 naming the newly failing items and
    the score drop, and writes the report; comparing two runs of the good prompt exits 0."""
    assert run("answer@1", "good").exit_code == 0
    assert run("answer@1", "good-again").exit_code == 0
    assert run("answer@2", "french").exit_code == 0
    report = tmp_path / "report.md"
    result = glassbox("experiment", "compare", "good", "french", "--fail-on-regression", "--report", str(report))
    assert result.exit_code == 1, result.output
    assert "4 item(s) newly failing (allowed 0)" in result.output
    text = report.read_text()
    assert "| pass rate | 100% → 0% |" in text
    assert "semantic_similarity: mean score" in text and "Je ne sais pas" in text
    html = tmp_path / "report.html"
    same = glassbox("experiment", "compare", "good", "good-again", "--fail-on-regression", "--report", str(html))
    assert same.exit_code == 0, same.output
    assert "no regression" in html.read_text()
    lenient = glassbox(
        "experiment",
        "compare",
        "good",
        "french",
        "--fail-on-regression",
        "--max-newly-failing",
        "4",
        "--threshold",
        "1.5",
    )
    assert lenient.exit_code == 0

"""Custom evaluators: dotted paths and entry points, sync and async functions, Verdict/Score and lists."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from glassbox.common.settings import EvaluatorSettings
from glassbox.evaluators.build import build_runner
from glassbox.evaluators.config import ConfigFileError, parse_config
from glassbox.models.evaluation import EvaluationResult, EvaluationStatus, EvaluatorType
from tests.support.corpus import make_trace, span

PLUGIN = """
import asyncio
from glassbox.evaluators import Score, Verdict

def no_apology(trace):
    bad = "sorry" in str(trace.output).lower()
    return Verdict(passed=not bad, reason="apologised" if bad else "polite", span_id=trace.root_span_id)

async def slow_length(trace, params):
    await asyncio.sleep(0.01)
    return Score(value=len(str(trace.output)), threshold=params["max"], higher_is_better=False)

def two(trace):
    return [Verdict(passed=True, name="a"), Verdict(passed=False, name="b", category="tool_error")]

def broken(trace):
    raise RuntimeError("boom")

def wrong_type(trace):
    return 42
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[str]:
    """An importable module with custom evaluators, and an entry point naming one of them."""
    name = f"gb_plugin_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(PLUGIN)
    dist = tmp_path / f"{name}-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[glassbox.evaluators]\npolite_check = {name}:no_apology\n")
    sys.path.insert(0, str(tmp_path))
    yield name
    sys.path.remove(str(tmp_path))
    sys.modules.pop(name, None)


def evaluate(plugin: str, evaluators: dict, names: list[str], output: str) -> dict[str, EvaluationResult]:
    config = parse_config({"evaluators": evaluators, "bindings": [{"name": "b", "evaluators": names}]})
    runner, _ = build_runner(config, EvaluatorSettings())
    trace = make_trace(span("answer", output=output))
    return {r.evaluator: r for r in asyncio.run(runner.evaluate(trace, names))}


def test_a_sync_function_by_dotted_path_fails_with_the_configured_category(plugin: str) -> None:
    """A sync function returning a failing Verdict fails under the configured category, pointing at its span."""
    spec = {"polite": {"type": "custom", "function": f"{plugin}:no_apology", "failure_category": "instruction_drift"}}
    result = evaluate(plugin, spec, ["polite"], "Sorry, no.")["polite"]
    assert result.status is EvaluationStatus.FAILED and result.failure_category == "instruction_drift"
    assert result.reason == "apologised" and result.evaluator_type is EvaluatorType.CUSTOM and result.span_id


def test_an_async_function_gets_its_params_and_returns_a_score(plugin: str) -> None:
    """An async function taking params returns a Score judged against its threshold."""
    spec = {"short": {"type": "custom", "function": f"{plugin}:slow_length", "params": {"max": 5}}}
    assert evaluate(plugin, spec, ["short"], "abc")["short"].status is EvaluationStatus.PASSED
    long = evaluate(plugin, spec, ["short"], "abcdefgh")["short"]
    assert long.status is EvaluationStatus.FAILED and long.score == 8 and long.evidence["threshold"] == 5


def test_a_list_of_named_verdicts_becomes_one_result_each(plugin: str) -> None:
    """Each named verdict is its own evaluation (evaluator.name), with its own category."""
    results = evaluate(plugin, {"multi": {"type": "custom", "function": f"{plugin}:two"}}, ["multi"], "x")
    assert results["multi.a"].status is EvaluationStatus.PASSED
    assert results["multi.b"].failure_category == "tool_error"
    assert results["multi.a"].evaluation_id != results["multi.b"].evaluation_id


def test_exceptions_and_wrong_return_types_are_errors(plugin: str) -> None:
    """A raising function and one returning an int give error results naming the problem."""
    specs = {
        "broken": {"type": "custom", "function": f"{plugin}:broken"},
        "wrong": {"type": "custom", "function": f"{plugin}:wrong_type"},
    }
    results = evaluate(plugin, specs, ["broken", "wrong"], "x")
    assert results["broken"].status is EvaluationStatus.ERROR and "RuntimeError('boom')" in results["broken"].reason
    assert results["wrong"].status is EvaluationStatus.ERROR and "got int" in results["wrong"].reason


def test_an_entry_point_is_found_by_its_bound_name(plugin: str) -> None:
    """A name bound but not declared resolves to the glassbox.evaluators entry point of that name."""
    result = evaluate(plugin, {}, ["polite_check"], "Sorry!")["polite_check"]
    assert result.status is EvaluationStatus.FAILED and result.reason == "apologised"


def test_an_unimportable_function_fails_naming_the_field() -> None:
    """A dotted path to a missing module is a ConfigFileError on evaluators.<name>.function."""
    config = parse_config({"evaluators": {"x": {"type": "custom", "function": "no_such_module_q:fn"}}})
    with pytest.raises(ConfigFileError, match=r"evaluators\.x\.function: cannot load no_such_module_q:fn"):
        build_runner(config, EvaluatorSettings())

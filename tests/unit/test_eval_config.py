"""The bindings file: validation errors name the field path; the shipped defaults load; deploy/ mirrors them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from glassbox.evaluators.config import ConfigFileError, default_config_text, load_config, parse_config
from glassbox.evaluators.taxonomy import categories_by_type
from glassbox.models.evaluation import FailureCategory

ROOT = Path(__file__).resolve().parents[2]


def errors_of(data: Any) -> str:
    with pytest.raises(ConfigFileError) as info:
        parse_config(data, "test.yaml")
    return str(info.value)


def test_sample_rate_above_one_names_the_binding_index() -> None:
    """A sample rate of 1.5 in the third binding fails as bindings[2].sample_rate."""
    data = {
        "bindings": [{"name": n, "evaluators": ["json_validity"]} for n in "ab"]
        + [{"name": "c", "sample_rate": 1.5, "evaluators": ["json_validity"]}]
    }
    assert "bindings[2].sample_rate: Input should be less than or equal to 1" in errors_of(data)


def test_unknown_keys_are_rejected_with_their_path() -> None:
    """A misspelt filter key fails (extra=forbid) naming bindings[0].match.servce."""
    data = {"bindings": [{"name": "a", "match": {"servce": ["x"]}, "evaluators": ["json_validity"]}]}
    assert "bindings[0].match.servce: Extra inputs are not permitted" in errors_of(data)


def test_bad_params_are_reported_under_the_evaluator() -> None:
    """An invalid regex in params fails as evaluators.<name>.params.must_match."""
    data = {"evaluators": {"answer_format": {"type": "regex", "params": {"must_match": ["("]}}}}
    assert "evaluators.answer_format.params.must_match: Value error, invalid regex '('" in errors_of(data)


def test_unknown_evaluator_in_a_binding_is_an_error() -> None:
    """A bound name that is neither declared, built in, nor an entry point fails with its position."""
    data = {"bindings": [{"name": "a", "evaluators": ["json_validity", "no_such_thing"]}]}
    assert "bindings[0].evaluators[1]: unknown evaluator 'no_such_thing'" in errors_of(data)


def test_an_api_key_in_the_file_is_refused() -> None:
    """api_key_env must name an environment variable; a literal key is refused."""
    data = {"judges": {"default": {"api_key_env": "sk-live-123"}}}
    assert "judges.default.api_key_env: Value error, must be the NAME of an environment variable" in errors_of(data)


def test_judges_and_prompt_versions_must_exist() -> None:
    """A judge evaluator naming an undeclared judge or a missing prompt version fails for each."""
    data = {"evaluators": {"f": {"type": "faithfulness", "judge": "gpt5", "prompt_version": "v9"}}}
    text = errors_of(data)
    assert "evaluators.f.judge: no judge named 'gpt5' under judges" in text
    assert "evaluators.f.prompt_version: no prompt faithfulness/v9.md (have v1)" in text


def test_custom_evaluators_need_a_function_or_an_entry_point() -> None:
    """type custom without function or entry_point fails."""
    assert "a custom evaluator needs exactly one of function or entry_point" in errors_of(
        {"evaluators": {"c": {"type": "custom"}}}
    )


def test_the_shipped_default_loads_and_deploy_mirrors_it() -> None:
    """The package's default bindings file is valid and deploy/evaluators.yaml is identical to it."""
    config = load_config()
    assert [b.name for b in config.bindings][-2:] == ["rag-judges", "agent-judges"]
    rules = {n for b in config.bindings[:-2] for n in b.evaluators}
    assert len(rules) == 11 and "tool_arguments" in rules and "latency_spike" in rules
    assert (ROOT / "deploy" / "evaluators.yaml").read_text() == default_config_text()
    assert load_config(ROOT / "deploy" / "evaluators.yaml") == config


def test_every_category_has_an_evaluator() -> None:
    """Each failure category of the taxonomy is assigned by at least one built-in evaluator."""
    assert set(categories_by_type().values()) == set(FailureCategory)


def test_evaluators_check_prints_bindings_and_fails_with_the_path(tmp_path: Path) -> None:
    """`glassbox evaluators check` prints the bindings of a good file and exits 2 naming the field of a bad one."""
    from glassbox.cli.main import _register, app

    _register()
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"bindings": [{"name": "rules", "evaluators": ["json_validity"]}]}))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"bindings": [{"name": "x", "delay_s": -1, "evaluators": ["json_validity"]}]}))
    runner = CliRunner()
    ok = runner.invoke(app, ["evaluators", "check", str(good)])
    assert ok.exit_code == 0 and "json_validity" in ok.output and "ok: 1 binding(s)" in ok.output
    failed = runner.invoke(app, ["evaluators", "check", str(bad)])
    assert failed.exit_code == 2
    assert "bindings[0].delay_s: Input should be greater than or equal to 0" in failed.output

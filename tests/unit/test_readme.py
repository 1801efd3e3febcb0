"""The README stays true: its configuration reference, test command and main-job command match the code."""

from __future__ import annotations

from pathlib import Path

from glassbox.cli.main import _register, app
from glassbox.common.config_doc import readme_with_reference

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_configuration_reference_is_generated_from_the_settings() -> None:
    """`glassbox config --update-readme README.md` output is what the README holds."""
    assert readme_with_reference(README) == README


def test_ci_runs_exactly_the_readme_test_command() -> None:
    """The last command of .ci/run is the test command the README gives."""
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    command = [line for line in lines if line and not line.startswith("#")][-1]
    assert command == "python -m pytest -q"
    assert f"\n{command}\n" in README


def test_readme_commands_exist() -> None:
    """Every `glassbox <command>` the quick start mentions is a registered command."""
    _register()
    names = {c.name for c in app.registered_commands} | {g.name for g in app.registered_groups}
    for command in ("demo", "traces", "trace", "query", "up"):
        assert f"glassbox {command}" in README
        assert command in names

"""Running the `glassbox` command in the test process (typer's CliRunner)."""

from __future__ import annotations

from typing import Any

from typer.testing import CliRunner


def glassbox(*args: str) -> Any:
    """The result of `glassbox ARGS...`; an exception other than the command's own exit is raised, not hidden."""
    from glassbox.cli.main import _register, app

    _register()
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result

"""Entry point of the `glassbox` command."""

from __future__ import annotations

import os
import sys

import typer

from glassbox.common.settings import ConfigError

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

app = typer.Typer(
    name="glassbox",
    help="Glassbox: open LLM and agent observability (tracing, stream processing, evaluation, ClickHouse, Grafana).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_registered = False


def _register() -> None:
    global _registered
    if _registered:
        return
    _registered = True
    from glassbox.cli import contract, pipeline

    contract.register(app)
    pipeline.register(app)
    for name in ("embedded", "demo", "inspect", "evaluate", "alerts", "dashboards", "datasets"):
        try:
            module = __import__(f"glassbox.cli.{name}", fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != f"glassbox.cli.{name}":
                raise
            continue
        module.register(app)


def main() -> None:
    _register()
    try:
        app()
    except ConfigError as exc:
        print(f"glassbox: {exc}", file=sys.stderr)
        sys.exit(2)
    except (RuntimeError, TimeoutError, OSError) as exc:
        if os.environ.get("GLASSBOX_DEBUG"):
            raise
        print(f"glassbox: {exc} (set GLASSBOX_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

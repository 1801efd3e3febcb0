"""`glassbox replay TRACE`: re-run a stored generation with overrides and show old and new side by side."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from glassbox.cli.datasets import DATA_DIR_OPTION, fail, storage
from glassbox.cli.prompts import parse_pairs


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay(
        trace: str = typer.Argument(..., help="Trace id (or unique prefix)."),
        span: str | None = typer.Option(None, "--span", help="Generation span id (default: the last generation)."),
        model: str | None = typer.Option(None, "--model", help="litellm model to use instead."),
        temperature: float | None = typer.Option(None, "--temperature", help="Temperature to use instead."),
        prompt: str | None = typer.Option(None, "--prompt", help="Registered prompt NAME@VERSION to render instead."),
        var: list[str] = typer.Option([], "--var", help="Prompt variable NAME=VALUE (when not recoverable)."),
        api_base: str | None = typer.Option(None, "--api-base", help="Provider base URL (OpenAI-compatible servers)."),
        api_key_env: str | None = typer.Option(None, "--api-key-env", help="Environment variable holding the key."),
        fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Re-run a generation's exact messages and parameters through litellm, with overrides, traced as a new
        trace tagged replay_of:<trace id>; shows the original and the new output side by side."""
        from glassbox.datasets.replay import ReplayError
        from glassbox.datasets.replay_run import replay as run_replay

        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        api_key = os.environ.get(api_key_env) if api_key_env else None
        if api_key_env and api_key is None:
            raise fail(f"{api_key_env} is not set")
        variables = {k: str(v) for k, v in parse_pairs(var, "--var").items()}
        try:
            with storage(data_dir, write=True) as backend:
                old, new = run_replay(backend, trace, span, model=model, temperature=temperature, prompt_ref=prompt,
                                      variables=variables, api_base=api_base, api_key=api_key)  # fmt: skip
        except ReplayError as exc:
            raise fail(str(exc)) from None
        if fmt == "json":
            sys.stdout.write(json.dumps({"original": old.__dict__, "replay": new.__dict__}, default=str) + "\n")
        else:
            Console().print(side_by_side(old, new))
        if new.error:
            raise typer.Exit(1)


def side_by_side(old: object, new: object) -> Table:
    """The original and the replayed call in two columns: model, prompt, parameters, output, usage, trace."""
    table = Table(title="replay", header_style="bold", title_justify="left", show_lines=True)
    table.add_column("", style="bold")
    table.add_column("original", overflow="fold", ratio=1)
    table.add_column("replay", overflow="fold", ratio=1)

    def get(call: object, name: str) -> str:
        value = getattr(call, name)
        if value is None or value == "":
            return "—"
        if isinstance(value, float):
            return f"{value:.6f}" if name == "cost_usd" else f"{value:.1f}"
        return value if isinstance(value, str) else json.dumps(value, default=str)

    for label, name in (("model", "model"), ("prompt", "prompt"), ("parameters", "parameters"), ("output", "output"),
                        ("error", "error"), ("input tokens", "input_tokens"), ("output tokens", "output_tokens"),
                        ("cost (USD)", "cost_usd"), ("latency (ms)", "latency_ms"), ("trace", "trace_id"),
                        ("span", "span_id")):  # fmt: skip
        table.add_row(label, get(old, name), get(new, name))
    notes = getattr(new, "notes", [])
    if notes:
        table.caption = "changed: " + "; ".join(notes)
    return table

"""`glassbox prompt add/list/show/label`: the prompt registry (versioned templates with model parameters)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.text import Text

from glassbox.cli.datasets import DATA_DIR_OPTION, _parse_value, fail, storage


def parse_pairs(pairs: list[str], option: str) -> dict[str, object]:
    """NAME=VALUE pairs (values as JSON when they are JSON, else text)."""
    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise fail(f"{option} takes NAME=VALUE (got {pair!r})")
        out[key.strip()] = _parse_value(value)
    return out


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="The prompt registry: versioned templates ({{variable}} placeholders) and model "
                        "parameters; generations made with them are tagged with name and version.",
                        no_args_is_help=True)  # fmt: skip

    @group.command("add")
    def add(
        name: str = typer.Argument(...),
        file: Path | None = typer.Option(None, "--file", help="JSON list of messages, or a text template."),
        system: str | None = typer.Option(None, "--system", help="System message (with --user)."),
        user: str | None = typer.Option(None, "--user", help="User message template."),
        model: str = typer.Option("", "--model", help="litellm model, e.g. openai/gpt-4o-mini."),
        param: list[str] = typer.Option([], "--param", "-p", help="Model parameter NAME=VALUE (repeatable)."),
        description: str = typer.Option("", "--description"),
        label: list[str] = typer.Option([], "--label", help="Point this label at the new version (repeatable)."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Register a new version of a prompt (identical to the latest: nothing new is made)."""
        from glassbox.datasets.prompt_template import messages_from
        from glassbox.datasets.prompts import PromptRegistry

        try:
            template = file.read_text(encoding="utf-8") if file else None
            messages = messages_from(template, system=system, user=user)
        except (OSError, ValueError) as exc:
            raise fail(str(exc)) from None
        params = parse_pairs(param, "--param")
        with storage(data_dir, write=True) as backend:
            prompt, created = PromptRegistry(backend).add(name, messages, model=model, parameters=params,
                                                          description=description, labels=tuple(label))  # fmt: skip
        what = "registered" if created else "unchanged: same as"
        typer.echo(f"{what} {prompt.ref} (variables: {', '.join(prompt.variables) or 'none'})")

    @group.command("list")
    def list_(data_dir: Path | None = DATA_DIR_OPTION) -> None:
        """List prompts with their latest version, model and variables."""
        from glassbox.datasets.prompts import PromptRegistry
        from glassbox.datasets.terminal import table

        with storage(data_dir) as backend:
            registry = PromptRegistry(backend)
            rows = []
            for p in registry.latest():
                labels = ", ".join(f"{k}→{v}" for k, v in registry.labels(p.name).items())
                rows.append([p.name, str(p.version), p.model or "—", ", ".join(p.variables), labels, p.description])
        Console().print(table(f"{len(rows)} prompt(s)", ["prompt", "latest", "model", "variables", "labels",
                                                         "description"], rows))  # fmt: skip

    @group.command("show")
    def show(
        ref: str = typer.Argument(..., help="NAME, NAME@VERSION or NAME@LABEL."),
        var: list[str] = typer.Option([], "--var", help="Render with NAME=VALUE (repeatable)."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Show a prompt version: messages, model, parameters (rendered with --var)."""
        from glassbox.datasets.prompts import PromptRegistry, parse_prompt_ref

        with storage(data_dir) as backend:
            name, version, label = parse_prompt_ref(ref)
            prompt = PromptRegistry(backend).get(name, version, label)
            messages = prompt.render(**parse_pairs(var, "--var")).messages if var else prompt.messages
        console = Console()
        console.print(
            Text.assemble(
                (prompt.ref, "bold"), f"  model {prompt.model or '—'}  ", f"parameters {json.dumps(prompt.parameters)}"
            )
        )
        if prompt.description:
            console.print(prompt.description)
        for message in messages:
            console.print(Text.assemble((str(message.get("role")), "bold cyan"), ": ", str(message.get("content"))))

    @group.command("label")
    def label_(
        name: str = typer.Argument(...),
        version: int = typer.Argument(..., min=1),
        label: str = typer.Argument(..., help="production, staging, ..."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Point a label at a version (get_prompt(name, label=...) follows it)."""
        from glassbox.datasets.prompts import PromptRegistry

        with storage(data_dir, write=True) as backend:
            PromptRegistry(backend).set_label(name, label, version)
        typer.echo(f"{name}@{label} → {version}")

    app.add_typer(group, name="prompt")

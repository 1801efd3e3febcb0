"""`glassbox schemas ...` and `glassbox config`: the contract files and the configuration reference."""

from __future__ import annotations

from pathlib import Path

import typer

from glassbox.common.paths import contract_dir


def register(app: typer.Typer) -> None:
    schemas = typer.Typer(help="The event contract: JSON Schemas and the topic registry under schemas/.")

    @schemas.command("export")
    def export() -> None:
        """Regenerate schemas/events/*.schema.json and schemas/topics/*.yaml from the models."""
        from glassbox.models.contract import export as do_export

        written = do_export(contract_dir())
        for path in written:
            typer.echo(f"wrote {path}")
        typer.echo(f"{len(written)} file(s) changed")

    @schemas.command("check")
    def check() -> None:
        """Exit 1 when the checked-in contract files differ from the models."""
        from glassbox.models.contract import drift

        stale = drift(contract_dir())
        if stale:
            for rel in stale:
                typer.echo(f"out of date: schemas/{rel}", err=True)
            typer.echo("run `glassbox schemas export`", err=True)
            raise typer.Exit(1)
        typer.echo("contract files are up to date")

    app.add_typer(schemas, name="schemas")

    @app.command("config")
    def config(
        markdown: bool = typer.Option(False, "--markdown", help="Print the reference as Markdown tables."),
        readme: Path | None = typer.Option(None, "--update-readme", help="Rewrite the reference inside this README."),
    ) -> None:
        """Print every setting: environment variable, type, default and description."""
        from glassbox.common.config_doc import readme_with_reference, render

        if readme is not None:
            readme.write_text(readme_with_reference(readme.read_text()))
            typer.echo(f"updated the configuration reference in {readme}")
            return
        typer.echo(render(markdown=markdown))

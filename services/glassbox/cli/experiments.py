"""`glassbox experiment run/list/show/compare`: run a target over a dataset version, and compare two runs.

Exit codes of `compare --fail-on-regression`: 0 no regression, 1 regression (the rule is in
glassbox.datasets.compare and printed with the verdict), 2 bad input.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer
from rich.console import Console

from glassbox.cli.datasets import DATA_DIR_OPTION, fail, storage


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Experiments: a function run over a dataset version, traced and scored by the "
                        "production evaluators; compare two runs for regressions.", no_args_is_help=True)  # fmt: skip

    @group.command("run")
    def run(
        dataset: str | None = typer.Option(None, "--dataset", "-d", help="NAME or NAME@VERSION (default latest)."),
        target: str | None = typer.Option(None, "--target", help="module:function called with each item's input."),
        prompt: str | None = typer.Option(None, "--prompt", help="NAME@VERSION (or @label) passed as prompt=..."),
        evaluators: str | None = typer.Option(
            None, "--evaluators", "-e", help="Comma-separated (default: those of the matching production bindings)."
        ),
        name: str = typer.Option("", "--name", help="Your name for this run (part of its id)."),
        resume: str | None = typer.Option(None, "--resume", help="Resume this experiment id (or name)."),
        concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=256, help="Items in flight at once."),
        force: bool = typer.Option(False, "--force", help="Run every item again, even those already done."),
        no_litellm: bool = typer.Option(False, "--no-litellm", help="Do not capture litellm calls."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Run (or resume) an experiment: call the target on every item, trace it (tags experiment:<id>,
        dataset:<name>@<version>, item:<id>), evaluate it, store the results."""
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from glassbox.datasets.models import Experiment, ItemResult
        from glassbox.datasets.plan import run_experiment
        from glassbox.datasets.target import TargetError

        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())  # targets in the current project import like with `python -m`
        names = [n.strip() for n in evaluators.split(",") if n.strip()] if evaluators else None
        console = Console(stderr=True)
        progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            TimeRemainingColumn(), console=console)  # fmt: skip
        counts = {"passed": 0, "failed": 0}
        task_id = progress.add_task("starting", total=None)

        def on_start(experiment: Experiment, total: int, skipped: int) -> None:
            console.print(f"experiment [bold]{experiment.experiment_id}[/] on {experiment.dataset_ref}: {total} item(s)"
                          + (f", {skipped} already done (resuming)" if skipped else ""))  # fmt: skip
            progress.update(task_id, total=total, completed=skipped, description=experiment.experiment_id)

        def on_done(result: ItemResult) -> None:
            counts["passed" if result.passed else "failed"] += 1
            progress.update(task_id, advance=1, description=f"passed {counts['passed']} · failed {counts['failed']}")

        try:
            with storage(data_dir, write=True) as backend:
                with progress:
                    report = run_experiment(backend, dataset, target, prompt_ref=prompt, evaluators=names,
                                            name=name, resume=resume, concurrency=concurrency, force=force,
                                            instrument_litellm=not no_litellm, on_start=on_start,
                                            on_done=on_done)  # fmt: skip
                _show(backend, report.experiment.experiment_id)
        except TargetError as exc:
            raise fail(str(exc)) from None
        except KeyboardInterrupt:
            typer.echo("interrupted: finished items are stored; run the same command again to resume", err=True)
            raise typer.Exit(130) from None

    @group.command("list")
    def list_(limit: int = typer.Option(30, min=1), data_dir: Path | None = DATA_DIR_OPTION) -> None:
        """List recent experiments."""
        from glassbox.datasets.experiments import ExperimentStore
        from glassbox.datasets.terminal import table

        with storage(data_dir) as backend:
            rows = [[e.experiment_id, e.name or "—", e.dataset_ref, e.target, e.prompt_ref or "—", e.status,
                     str(e.item_count)] for e in ExperimentStore(backend).recent(limit)]  # fmt: skip
        Console().print(table(f"{len(rows)} experiment(s)", ["id", "name", "dataset", "target", "prompt", "status",
                                                             "items"], rows))  # fmt: skip

    @group.command("show")
    def show(
        ref: str = typer.Argument(..., help="Experiment id (or unique prefix, or name)."),
        fmt: str = typer.Option("table", "--format", "-f", help="table or json (one item result per line)."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Show an experiment: pass rate and mean score per evaluator, cost, latency, failing items."""
        from glassbox.datasets.experiments import ExperimentStore

        with storage(data_dir) as backend:
            if fmt == "json":
                for result in ExperimentStore(backend).results(ExperimentStore(backend).get(ref).experiment_id):
                    sys.stdout.write(result.model_dump_json() + "\n")
                return
            _show(backend, ref)

    @group.command("compare")
    def compare(
        a: str = typer.Argument(..., help="Baseline experiment (id, prefix or name)."),
        b: str = typer.Argument(..., help="Candidate experiment."),
        fail_on_regression: bool = typer.Option(False, "--fail-on-regression", help="Exit 1 when B regresses."),
        threshold: float = typer.Option(0.05, "--threshold", min=0.0, help="Score drop that counts (with its CI)."),
        max_newly_failing: int = typer.Option(0, "--max-newly-failing", min=0, help="Newly failing items allowed."),
        max_cost_increase: float | None = typer.Option(None, help="Allowed mean cost increase, e.g. 0.2 for +20%."),
        max_latency_increase: float | None = typer.Option(None, help="Allowed mean latency increase (fraction)."),
        confidence: float = typer.Option(0.95, min=0.5, max=0.999, help="Bootstrap confidence level."),
        report: Path | None = typer.Option(None, "--report", help="Also write the report to FILE.md or FILE.html."),
        data_dir: Path | None = DATA_DIR_OPTION,
    ) -> None:
        """Compare B against A: per-evaluator score deltas with bootstrap CIs, newly failing and passing items,
        cost and latency deltas. Regression: any newly failing item (beyond --max-newly-failing), or an
        evaluator's mean dropping by --threshold or more with its CI below zero, or cost / latency beyond
        their limits when given."""
        from glassbox.datasets import compare as cmp
        from glassbox.datasets.experiments import ExperimentStore
        from glassbox.datasets.report import render
        from glassbox.datasets.terminal import comparison_view

        if report is not None and report.suffix.lower() not in (".md", ".markdown", ".html", ".htm"):
            raise fail("--report must end in .md or .html")
        rule = cmp.RegressionRule(max_newly_failing, threshold, max_cost_increase, max_latency_increase, confidence)
        with storage(data_dir) as backend:
            store = ExperimentStore(backend)
            exp_a, exp_b = store.get(a), store.get(b)
            comparison = cmp.compare(exp_a, exp_b, store.results(exp_a.experiment_id),
                                     store.results(exp_b.experiment_id), confidence)  # fmt: skip
        if not comparison.items:
            raise fail(f"{exp_a.experiment_id} and {exp_b.experiment_id} have no item in common")
        reasons = cmp.regressions(comparison, rule)
        Console().print(comparison_view(comparison, reasons))
        if report is not None:
            report.write_text(render(comparison, reasons, report.suffix), encoding="utf-8")
            typer.echo(f"report written to {report}", err=True)
        if fail_on_regression and reasons:
            raise typer.Exit(1)

    app.add_typer(group, name="experiment")


def _show(backend: object, ref: str) -> None:
    from glassbox.datasets.experiments import ExperimentStore
    from glassbox.datasets.terminal import experiment_view

    store = ExperimentStore(backend)  # type: ignore[arg-type]
    experiment = store.get(ref)
    Console().print(experiment_view(experiment, store.results(experiment.experiment_id)))

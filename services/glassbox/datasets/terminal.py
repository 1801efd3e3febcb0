"""Rich renderings for the terminal: experiment summaries, comparisons, replays."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from glassbox.datasets.compare import Comparison
from glassbox.datasets.models import Experiment, ItemResult
from glassbox.datasets.report import sections, short
from glassbox.datasets.stats import mean


def table(title: str | None, header: list[str], rows: list[list[str]]) -> Table:
    out = Table(title=title, header_style="bold", title_justify="left")
    for column in header:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*row)
    return out


def comparison_view(c: Comparison, reasons: list[str]) -> Group:
    """Every section of the report as tables, with the verdict in red (regression) or green."""
    parts: list[Any] = []
    for name, header, rows in sections(c, reasons):
        if name == "Verdict":
            style = "bold red" if reasons else "bold green"
            text = "\n".join(f"✗ {r}" for r in reasons) if reasons else "✓ no regression"
            parts.append(Panel(Text(text, style=style), title="verdict", title_align="left"))
        elif rows:
            parts.append(table(name, header, rows))
    return Group(*parts)


def experiment_view(experiment: Experiment, results: list[ItemResult]) -> Group:
    """An experiment's status and, per evaluator, pass rate and mean score; totals of cost and latency."""
    head = Text.assemble(
        (experiment.experiment_id, "bold"), f"  {experiment.name or ''}  ", f"{experiment.dataset_ref} · ",
        f"{experiment.target}", f" · prompt {experiment.prompt_ref}" if experiment.prompt_ref else "",
        f" · {experiment.status}",
    )  # fmt: skip
    names = sorted({n for r in results for n in r.statuses})
    rows = []
    for name in names:
        statuses = [r.statuses[name] for r in results if name in r.statuses]
        judged = [s for s in statuses if s in ("passed", "failed")]
        scores = [r.scores[name] for r in results if name in r.scores]
        rate = f"{sum(s == 'passed' for s in judged) / len(judged):.0%}" if judged else "—"
        avg = mean(scores)
        rows.append([name, str(len(judged)), rate, "—" if avg is None else f"{avg:.3f}",
                     str(statuses.count("skipped")), str(statuses.count("error"))])  # fmt: skip
    passed = sum(r.passed for r in results)
    errors = sum(r.status == "error" for r in results)
    cost = sum(r.cost_usd for r in results)
    latency = mean([r.latency_ms for r in results])
    totals = Text(
        f"{len(results)} of {experiment.item_count} item(s) done: {passed} passed, {len(results) - passed} failed "
        f"({errors} raised) · cost ${cost:.6f} · mean latency {0.0 if latency is None else latency:.1f} ms"
    )
    evaluator_table = table("evaluators", ["evaluator", "judged", "pass rate", "mean score", "skipped", "errors"], rows)
    failing = [[r.item_id, ", ".join(r.failure_categories) or (r.error[:80] if r.error else ""), short(r.output, 80),
                r.trace_id[:16]] for r in results if not r.passed][:20]  # fmt: skip
    parts: list[Any] = [head, totals, evaluator_table]
    if failing:
        parts.append(table("failing items", ["item", "why", "output", "trace"], failing))
    return Group(*parts)

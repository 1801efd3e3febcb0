"""Comparison reports as Markdown or HTML (chosen by the file's suffix). Pure: a comparison in, text out.

Both formats hold the same sections: the two experiments, the verdict under the regression
rule, the summary (pass rate, cost, latency), a table per evaluator, and the newly failing and
newly passing items with the failing evaluators' reasons and both outputs.
"""

from __future__ import annotations

import html
import json
from typing import Any

from glassbox.datasets.compare import Comparison, Delta, ItemChange

MAX_ITEMS = 100
OUTPUT_CHARS = 300


def num(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:+.{digits}f}"


def ci_text(ci: tuple[float, float] | None, digits: int = 3) -> str:
    return "—" if ci is None else f"{ci[0]:+.{digits}f} … {ci[1]:+.{digits}f}"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def short(value: Any, limit: int = OUTPUT_CHARS) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failed_reasons(item: ItemChange) -> str:
    result = item.b
    if result.status == "error":
        return f"error: {result.error}"
    return "; ".join(f"{e.evaluator}: {e.reason}" for e in result.evaluations if e.status == "failed")


EVALUATOR_HEADER = ["evaluator", "n", "mean A", "mean B", "Δ", "95% CI", "pass A", "pass B", "newly failing",
                    "newly passing"]  # fmt: skip


def sections(c: Comparison, reasons: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table, shared by both formats."""
    head = ["", "A", "B"]
    exp_rows = [
        ["experiment", c.a.experiment_id, c.b.experiment_id],
        ["name", c.a.name or "—", c.b.name or "—"],
        ["dataset", c.a.dataset_ref, c.b.dataset_ref],
        ["target", c.a.target, c.b.target],
        ["prompt", c.a.prompt_ref or "—", c.b.prompt_ref or "—"],
        ["status", c.a.status, c.b.status],
    ]
    summary = [
        ["items compared", str(len(c.items)), f"only in A: {len(c.only_a)}, only in B: {len(c.only_b)}"],
        ["pass rate", f"{pct(c.passed.mean_a)} → {pct(c.passed.mean_b)}", ci_text(c.passed.ci)],
        ["newly failing / passing", f"{len(c.changed('newly_failing'))} / {len(c.changed('newly_passing'))}", ""],
        _number_row("mean cost per item (USD)", c.cost, 6),
        _number_row("mean latency (ms)", c.latency, 1),
        ["p95 latency (ms)", f"{num(c.latency_p95[0], 1)} → {num(c.latency_p95[1], 1)}", ""],
    ]
    evaluators = [
        [d.name, str(d.n), num(d.mean_a), num(d.mean_b), signed(d.delta), ci_text(d.ci), pct(d.pass_rate_a),
         pct(d.pass_rate_b), str(len(d.newly_failing)), str(len(d.newly_passing))]
        for d in c.evaluators
    ]  # fmt: skip
    failing = [[i.item_id, failed_reasons(i), short(i.a.output), short(i.b.output), i.b.trace_id]
               for i in c.changed("newly_failing")[:MAX_ITEMS]]  # fmt: skip
    passing = [[i.item_id, short(i.a.output), short(i.b.output), i.b.trace_id]
               for i in c.changed("newly_passing")[:MAX_ITEMS]]  # fmt: skip
    verdict = [[r] for r in reasons] or [["no regression"]]
    return [
        ("Experiments", head, exp_rows),
        ("Verdict", ["regression rule"], verdict),
        ("Summary", ["", "A → B", "B − A (95% CI)"], summary),
        ("Evaluators", EVALUATOR_HEADER, evaluators),
        ("Newly failing items", ["item", "why", "output A", "output B", "trace B"], failing),
        ("Newly passing items", ["item", "output A", "output B", "trace B"], passing),
    ]


def _number_row(label: str, delta: Delta, digits: int) -> list[str]:
    relative = f" ({delta.relative:+.1%})" if delta.relative is not None else ""
    return [label, f"{num(delta.mean_a, digits)} → {num(delta.mean_b, digits)}{relative}", ci_text(delta.ci, digits)]


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(c: Comparison, reasons: list[str]) -> str:
    title = f"# Experiment comparison: {c.a.name or c.a.experiment_id} → {c.b.name or c.b.experiment_id}\n"
    out = [title]
    for name, header, rows in sections(c, reasons):
        out.append(f"\n## {name}\n")
        if not rows:
            out.append("_none_\n")
            continue
        out.append("| " + " | ".join(_md_cell(h) for h in header) + " |")
        out.append("|" + "|".join("---" for _ in header) + "|")
        out.extend("| " + " | ".join(_md_cell(v) for v in row) + " |" for row in rows)
        out.append("")
    return "\n".join(out)


STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f3f3}"
    ".bad{color:#b00020;font-weight:600}.good{color:#0a7d2c;font-weight:600}"
)


def to_html(c: Comparison, reasons: list[str]) -> str:
    esc = html.escape
    title = f"Experiment comparison: {c.a.name or c.a.experiment_id} → {c.b.name or c.b.experiment_id}"
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
           f"<style>{STYLE}</style></head><body><h1>{esc(title)}</h1>"]  # fmt: skip
    verdict_class = "bad" if reasons else "good"
    for name, header, rows in sections(c, reasons):
        out.append(f"<h2>{esc(name)}</h2>")
        if not rows:
            out.append("<p><em>none</em></p>")
            continue
        cls = f" class='{verdict_class}'" if name == "Verdict" else ""
        out.append(f"<table{cls}><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        out.extend("<tr>" + "".join(f"<td>{esc(v)}</td>" for v in row) + "</tr>" for row in rows)
        out.append("</table>")
    out.append("</body></html>\n")
    return "\n".join(out)


def render(c: Comparison, reasons: list[str], suffix: str) -> str:
    """The report for a file suffix: .md / .markdown or .html / .htm (ValueError otherwise)."""
    suffix = suffix.lower()
    if suffix in (".md", ".markdown"):
        return markdown(c, reasons)
    if suffix in (".html", ".htm"):
        return to_html(c, reasons)
    raise ValueError(f"report files end in .md or .html (got {suffix or 'no suffix'!r})")

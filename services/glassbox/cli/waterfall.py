"""The terminal waterfall of one trace: span tree with timing bars, tokens, cost, errors and payload details."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

KIND_STYLE = {
    "span": ("•", "white"),
    "generation": ("LLM", "magenta"),
    "retrieval": ("RET", "cyan"),
    "tool": ("TOOL", "yellow"),
    "agent": ("AGT", "blue"),
    "embedding": ("EMB", "green"),
    "guardrail": ("GRD", "bright_black"),
}
BAR_WIDTH = 32


def _ns(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp() * 1_000_000_000)
    return int(value)


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _short(value: Any, limit: int = 90) -> str:
    if value is None:
        return ""
    if isinstance(value, dict) and value.get("glassbox.truncated"):
        return f"[cut from {value.get('original_bytes')} bytes] " + _short(value.get("preview"), max(limit - 30, 10))
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def order_tree(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Depth-first (depth, span) order: parents before children, siblings by start time; orphans at top level."""
    ids = {s["SpanId"] for s in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    tops: list[dict[str, Any]] = []
    for span in sorted(spans, key=lambda s: (_ns(s["Timestamp"]), s["SpanId"])):
        parent = span.get("ParentSpanId") or ""
        if parent and parent in ids:
            children.setdefault(parent, []).append(span)
        else:
            tops.append(span)
    out: list[tuple[int, dict[str, Any]]] = []
    stack = [(0, s) for s in reversed(tops)]
    seen: set[str] = set()
    while stack:
        depth, span = stack.pop()
        if span["SpanId"] in seen:
            continue
        seen.add(span["SpanId"])
        out.append((depth, span))
        stack.extend((depth + 1, c) for c in reversed(children.get(span["SpanId"], [])))
    return out


def bar(start: int, duration: int, t0: int, total: int, style: str) -> Text:
    total = max(total, 1)
    offset = min(BAR_WIDTH - 1, int((start - t0) / total * BAR_WIDTH))
    length = max(1, min(BAR_WIDTH - offset, round(duration / total * BAR_WIDTH)))
    text = Text(" " * offset)
    text.append("█" * length, style=style)
    text.append(" " * (BAR_WIDTH - offset - length))
    return text


def span_table(spans: list[dict[str, Any]]) -> Table:
    ordered = order_tree(spans)
    t0 = min(_ns(s["Timestamp"]) for s in spans)
    end = max(_ns(s["Timestamp"]) + int(s["Duration"]) for s in spans)
    total = end - t0
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("span", overflow="fold", max_width=48)
    table.add_column("timeline", no_wrap=True)
    table.add_column("ms", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("cost $", justify="right")
    table.add_column("detail", overflow="fold", max_width=60)
    for depth, span in ordered:
        badge, style = KIND_STYLE.get(span.get("Kind") or "span", ("•", "white"))
        error = span.get("StatusCode") == "Error"
        name = Text("  " * depth)
        name.append(f"{badge} ", style=f"bold {style}")
        name.append(span["SpanName"], style="bold red" if error else "")
        tokens = int(span.get("InputTokens") or 0) + int(span.get("OutputTokens") or 0)
        cost = float(span.get("CostUsd") or 0.0)
        detail = _detail(span)
        table.add_row(
            name,
            bar(_ns(span["Timestamp"]), int(span["Duration"]), t0, total, "red" if error else style),
            f"{int(span['Duration']) / 1e6:.1f}",
            str(tokens) if tokens else "",
            f"{cost:.5f}" if cost else "",
            Text(detail, style="red" if error else "dim"),
        )
    return table


def _detail(span: dict[str, Any]) -> str:
    kind = span.get("Kind")
    parts: list[str] = []
    if span.get("StatusCode") == "Error" and span.get("StatusMessage"):
        parts.append(f"error: {_short(span['StatusMessage'], 80)}")
    if kind == "generation":
        if span.get("Model"):
            parts.append(str(span["Model"]))
        if span.get("TtftMs") is not None:
            parts.append(f"ttft {float(span['TtftMs']):.0f}ms")
        if span.get("PromptName"):
            parts.append(f"prompt {span['PromptName']}@{span.get('PromptVersion') or '-'}")
    elif kind == "tool" and span.get("ToolName"):
        parts.append(f"tool {span['ToolName']}")
    elif kind == "retrieval":
        docs = (_json(span.get("Payload")) or {}).get("glassbox.retrieval.documents") or []
        parts.append(f"{len(docs)} docs")
    return " · ".join(parts)


def payload_lines(spans: list[dict[str, Any]]) -> list[Text]:
    """One line per interesting payload (retrieved documents with scores, tool calls, generations' I/O);
    consecutive repeats are folded into one line with a count."""
    lines: list[Text] = []
    for _, span in order_tree(spans):
        payload = _json(span.get("Payload")) or {}
        if not isinstance(payload, dict):
            continue
        lines.extend(_span_lines(span, payload))
    folded: list[Text] = []
    repeats = 0
    for line in lines:
        if folded and line.plain == folded[-1].plain.split("  (×")[0]:
            repeats += 1
            base = folded[-1].plain.split("  (×")[0]
            folded[-1] = Text(f"{base}  (×{repeats + 1})", style=folded[-1].style)
            continue
        repeats = 0
        folded.append(line)
    return folded


def _span_lines(span: dict[str, Any], payload: dict[str, Any]) -> list[Text]:
    kind, name = span.get("Kind"), span["SpanName"]
    out: list[Text] = []
    if kind == "retrieval":
        docs = payload.get("glassbox.retrieval.documents") or []
        query = _short(payload.get("glassbox.retrieval.query"), 60)
        if not docs:
            out.append(Text(f"{name}: query {query!r} → no documents retrieved", style="bold red"))
        else:
            out.append(Text(f"{name}: query {query!r} → {len(docs)} documents", style="cyan"))
        for doc in docs[:6]:
            score = doc.get("score")
            shown = f"{score:.3f}" if isinstance(score, int | float) else "  -  "
            out.append(Text(f"    [{shown}] {doc.get('id') or '-'}: {_short(doc.get('content'), 90)}"))
    elif kind == "tool":
        args = _short(payload.get("gen_ai.tool.call.arguments"), 80)
        if payload.get("glassbox.tool.error"):
            out.append(Text(f"{name}({args}) → error: {_short(payload['glassbox.tool.error'], 90)}", style="red"))
        else:
            out.append(Text(f"{name}({args}) → {_short(payload.get('gen_ai.tool.call.result'), 90)}", style="yellow"))
    elif kind == "generation":
        messages = payload.get("gen_ai.input.messages") or []
        last = next((m for m in reversed(messages) if isinstance(m, dict) and m.get("role") in ("user", "tool")), None)
        asked = f"{last.get('role')}: {_short(last.get('content'), 70)}" if last else ""
        answer = payload.get("glassbox.completion")
        if answer is None:
            calls = [
                c.get("function", {}).get("name")
                for m in payload.get("gen_ai.output.messages") or []
                if isinstance(m, dict)
                for c in (m.get("tool_calls") or [])
                if isinstance(c, dict)
            ]
            answer = f"tool calls: {', '.join(str(c) for c in calls)}" if calls else None
        out.append(Text(f"{name}: {asked} → {_short(answer, 100)}", style="magenta"))
    return out


def evaluation_table(rows: list[dict[str, Any]]) -> Table | None:
    if not rows:
        return None
    table = Table(title="evaluations", box=None, header_style="bold", title_justify="left")
    for col in ("evaluator", "status", "score", "category", "span", "reason / evidence"):
        table.add_column(col, overflow="fold")
    for row in rows:
        status = row["Status"]
        style = {"failed": "bold red", "passed": "green", "skipped": "yellow", "error": "red"}.get(status, "")
        evidence = _json(row.get("Evidence"))
        reason = row.get("Reason") or ""
        if evidence:
            reason = f"{reason} — {_short(evidence, 120)}"
        score = row.get("Score")
        table.add_row(
            row["Evaluator"],
            Text(status, style=style),
            "" if score is None else f"{float(score):.2f}",
            row.get("FailureCategory") or "",
            (row.get("SpanId") or "")[:8],
            reason,
        )
    return table


def render_trace(trace: dict[str, Any], spans: list[dict[str, Any]], evaluations: list[dict[str, Any]]) -> Group:
    categories = sorted({r["FailureCategory"] for r in evaluations if r["Status"] == "failed" and r["FailureCategory"]})
    header = Text()
    header.append(f"trace {trace['TraceId']}", style="bold")
    header.append(f"  v{trace['Version']} {trace['Status']}  service {trace['ServiceName']}")
    header.append(f"\n{trace['Name']}  ·  {int(trace['DurationNs']) / 1e6:.1f} ms  ·  {trace['SpanCount']} spans")
    header.append(
        f"  ·  {trace['LlmCalls']} LLM calls  ·  {int(trace['InputTokens']) + int(trace['OutputTokens'])} tokens"
    )
    header.append(f"  ·  ${float(trace['CostUsd']):.5f}")
    if trace.get("FirstTtftMs") is not None:
        header.append(f"  ·  TTFT {float(trace['FirstTtftMs']):.0f} ms")
    if trace.get("UserId") or trace.get("SessionId"):
        header.append(f"\nuser {trace.get('UserId') or '-'}  session {trace.get('SessionId') or '-'}")
    if int(trace.get("ErrorCount") or 0):
        header.append(f"\n{trace['ErrorCount']} error span(s)", style="bold red")
    if int(trace.get("MaxRepeatedToolCalls") or 0) > 1:
        header.append(
            f"\n{trace['RepeatedTool']} called {trace['MaxRepeatedToolCalls']}× with identical arguments",
            style="yellow",
        )
    if categories:
        header.append("\nfailure categories: " + ", ".join(categories), style="bold red")
    parts: list[RenderableType] = [Panel(header, expand=True), span_table(spans)]
    lines = payload_lines(spans)
    if lines:
        parts.append(Panel(Text("\n").join(lines), title="inputs and outputs", title_align="left", expand=True))
    table = evaluation_table(evaluations)
    if table is not None:
        parts.append(table)
    return Group(*parts)

"""Trace metrics from a trace's span events. Pure functions over validated span dicts (wire form)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

Span = dict[str, Any]


def _payload(span: Span) -> dict[str, Any]:
    payload = span.get("payload")
    return payload if isinstance(payload, dict) else {}


def _is_error(span: Span) -> bool:
    status = span.get("status")
    return isinstance(status, dict) and status.get("code") == "error"


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""One encoder for every call (``json.dumps`` with options builds a new one each time)."""


def _canonical(value: Any) -> str:
    try:
        return _CANONICAL.encode(value)
    except (TypeError, ValueError):
        return repr(value)


def find_root(spans: list[Span]) -> Span | None:
    """The earliest span without a parent, if any."""
    roots = [s for s in spans if not s.get("parent_span_id")]
    if not roots:
        return None
    return min(roots, key=lambda s: (s["start_time_unix_nano"], s["span_id"]))


def tree(spans: list[Span]) -> tuple[dict[str, list[Span]], list[Span], int]:
    """(children by parent id, top-level spans, orphan count). Orphans' parents never arrived; they count as tops."""
    ids = {s["span_id"] for s in spans}
    children: dict[str, list[Span]] = {}
    tops: list[Span] = []
    orphans = 0
    for span in spans:
        parent = span.get("parent_span_id")
        if parent and parent in ids:
            children.setdefault(parent, []).append(span)
        else:
            tops.append(span)
            if parent:
                orphans += 1
    return children, tops, orphans


def depth_of(children: dict[str, list[Span]], tops: list[Span]) -> int:
    best = 0
    stack = [(s, 1) for s in tops]
    seen: set[str] = set()
    while stack:
        span, level = stack.pop()
        if span["span_id"] in seen:  # defensive: parent cycles cannot loop forever
            continue
        seen.add(span["span_id"])
        best = max(best, level)
        stack.extend((c, level + 1) for c in children.get(span["span_id"], ()))
    return best


def critical_path(children: dict[str, list[Span]], start: Span | None) -> list[Span]:
    """From ``start`` down, always into the child that finished last: the chain that set the trace's duration."""
    path: list[Span] = []
    seen: set[str] = set()
    node = start
    while node is not None and node["span_id"] not in seen:
        path.append(node)
        seen.add(node["span_id"])
        kids = children.get(node["span_id"])
        node = max(kids, key=lambda s: (s["end_time_unix_nano"], s["span_id"])) if kids else None
    return path


def compute_metrics(spans: list[Span]) -> dict[str, Any]:
    """TraceMetrics fields (as a dict) for the spans of one trace."""
    children, tops, orphans = tree(spans)
    start = min(s["start_time_unix_nano"] for s in spans)
    end = max(s["end_time_unix_nano"] for s in spans)
    m: dict[str, Any] = {
        "duration_ns": end - start,
        "span_count": len(spans),
        "depth": depth_of(children, tops),
        "orphan_spans": orphans,
    }
    llm_calls = input_tokens = output_tokens = cached = reasoning = 0
    cost = 0.0
    llm_time = 0
    errors = tool_calls = tool_errors = retrievals = empty = embeddings = guard_fail = agent_steps = 0
    first_ttft: tuple[int, float] | None = None
    tool_keys: Counter[tuple[str, str]] = Counter()
    for span in spans:
        kind = span.get("kind", "span")
        payload = _payload(span)
        if _is_error(span):
            errors += 1
        if kind == "generation":
            llm_calls += 1
            llm_time += span["end_time_unix_nano"] - span["start_time_unix_nano"]
            input_tokens += int(_num(payload.get("gen_ai.usage.input_tokens")))
            output_tokens += int(_num(payload.get("gen_ai.usage.output_tokens")))
            cached += int(_num(payload.get("gen_ai.usage.cache_read.input_tokens")))
            reasoning += int(_num(payload.get("gen_ai.usage.reasoning.output_tokens")))
            cost += _num(payload.get("glassbox.usage.cost_usd"))
            ttft = payload.get("glassbox.response.time_to_first_token_ms")
            if isinstance(ttft, int | float) and (first_ttft is None or span["start_time_unix_nano"] < first_ttft[0]):
                first_ttft = (span["start_time_unix_nano"], float(ttft))
        elif kind == "embedding":
            embeddings += 1
            input_tokens += int(_num(payload.get("gen_ai.usage.input_tokens")))
            cost += _num(payload.get("glassbox.usage.cost_usd"))
        elif kind == "tool":
            tool_calls += 1
            if _is_error(span) or payload.get("glassbox.tool.error"):
                tool_errors += 1
            name = str(payload.get("gen_ai.tool.name") or span.get("name"))
            tool_keys[(name, _canonical(payload.get("gen_ai.tool.call.arguments")))] += 1
        elif kind == "retrieval":
            retrievals += 1
            if not payload.get("glassbox.retrieval.documents"):
                empty += 1
        elif kind == "guardrail":
            if payload.get("glassbox.guardrail.passed") is False:
                guard_fail += 1
        elif kind == "agent":
            agent_steps += 1
    repeated_tool: str | None = None
    max_repeat = 0
    if tool_keys:
        (tool_name, _args), max_repeat = max(tool_keys.items(), key=lambda kv: (kv[1], kv[0]))
        repeated_tool = tool_name if max_repeat > 1 else None
    root = find_root(spans)
    path = critical_path(children, root or min(tops, key=lambda s: s["start_time_unix_nano"]))
    m.update(
        llm_calls=llm_calls,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cached_input_tokens=cached,
        reasoning_tokens=reasoning,
        cost_usd=round(cost, 10),
        first_ttft_ms=first_ttft[1] if first_ttft else None,
        llm_time_ns=llm_time,
        error_count=errors,
        tool_calls=tool_calls,
        tool_errors=tool_errors,
        retrievals=retrievals,
        empty_retrievals=empty,
        embeddings=embeddings,
        guardrail_failures=guard_fail,
        agent_steps=agent_steps,
        critical_path=[s["span_id"] for s in path],
        critical_path_names=[s["name"] for s in path],
        max_repeated_tool_calls=max_repeat,
        repeated_tool=repeated_tool,
    )
    return m


def _first(spans: Iterable[Span], getter: Any) -> Any:
    for span in spans:
        value = getter(span)
        if value:
            return value
    return None


def assemble(spans: list[Span], *, version: int, complete: bool, assembled_at_ns: int) -> dict[str, Any]:
    """The AssembledTrace dict (wire form) for a trace's spans."""
    ordered = sorted(spans, key=lambda s: (s["start_time_unix_nano"], s["span_id"]))
    root = find_root(ordered)
    first = root or ordered[0]
    preferred = [first, *[s for s in ordered if s is not first]]

    def resource(key: str) -> Any:
        return _first(preferred, lambda s: (s.get("resource") or {}).get(key))

    tags: list[str] = []
    for span in preferred:
        for tag in span.get("tags") or ():
            if tag not in tags:
                tags.append(tag)
    models: list[str] = []
    prompts: list[str] = []
    for span in ordered:
        payload = _payload(span)
        model = payload.get("gen_ai.request.model") if span.get("kind") in ("generation", "embedding") else None
        if model and model not in models:
            models.append(model)
        name, ver = payload.get("glassbox.prompt.name"), payload.get("glassbox.prompt.version")
        if name and span.get("kind") == "generation":
            label = f"{name}@{ver}" if ver else str(name)
            if label not in prompts:
                prompts.append(label)
    metrics = compute_metrics(ordered)
    trace: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": first["trace_id"],
        "version": version,
        "status": "complete" if complete else "incomplete",
        "root_span_id": root["span_id"] if root else None,
        "name": first["name"],
        "service_name": resource("service.name") or "unknown_service",
        "environment": resource("deployment.environment.name"),
        "release": resource("service.version"),
        "session_id": _first(preferred, lambda s: s.get("session_id")),
        "user_id": _first(preferred, lambda s: s.get("user_id")),
        "cohort": _first(preferred, lambda s: s.get("cohort")),
        "tags": tags[:64],
        "models": models,
        "prompt_versions": prompts,
        "start_time_unix_nano": ordered[0]["start_time_unix_nano"],
        "end_time_unix_nano": max(s["end_time_unix_nano"] for s in ordered),
        "has_error": metrics["error_count"] > 0,
        "input": root.get("input") if root else None,
        "output": root.get("output") if root else None,
        "metrics": metrics,
        "spans": ordered,
        "spans_truncated": False,
        "assembled_at_unix_nano": assembled_at_ns,
    }
    return trace

"""Dataset items from stored traces: the failing case, isolated.

An item made from a trace takes the trace's root input as its input, the documents its
retrievals returned as its context, and (unless told otherwise) its output as the expected
output. For a failing trace the output is usually what went wrong, so ``keep_expected=False``
leaves the reference empty (or ``expected=`` gives the right answer); the original output is
kept in the item's metadata either way, with the trace's service, name, models, prompt versions
and failure categories, and a ``failure:<category>`` tag per category.
"""

from __future__ import annotations

import re
from typing import Any

from glassbox.datasets.backend import Backend
from glassbox.datasets.models import DatasetItem, item_id_for
from glassbox.models.trace import AssembledTrace

TRACE_ID = re.compile(r"^[0-9a-f]{32}$")
CATEGORIES_SQL = (
    "SELECT DISTINCT FailureCategory FROM {db}.evaluations FINAL "
    "WHERE TraceId = {trace_id:String} AND Status = 'failed' AND FailureCategory != '' ORDER BY FailureCategory"
)
PREFIX_SQL = "SELECT DISTINCT TraceId FROM {db}.traces WHERE startsWith(TraceId, {prefix:String}) LIMIT 5"


class TraceNotFoundError(LookupError):
    """No stored trace matches (or several do)."""


def context_of(trace: AssembledTrace) -> list[dict[str, Any]] | None:
    """The retrieved documents of a trace, in order, as {id, content, score} (None when it retrieved nothing)."""
    from glassbox.evaluators.view import TraceView

    docs = []
    for _, doc in TraceView(trace).documents:
        entry: dict[str, Any] = {"id": doc.id, "content": doc.content}
        if doc.score is not None:
            entry["score"] = doc.score
        docs.append(entry)
    return docs or None


def item_from_trace(
    trace: AssembledTrace,
    *,
    categories: list[str],
    keep_expected: bool = True,
    expected: Any = None,
    tags: list[str] | None = None,
) -> DatasetItem:
    """The dataset item isolating ``trace``'s case (see the module docstring). Pure."""
    from glassbox.evaluators.view import TraceView

    view = TraceView(trace)
    input_value: Any = trace.input if trace.input is not None else view.question
    context = context_of(trace)
    if expected is None and keep_expected:
        expected = trace.output if trace.output is not None else (view.answer or None)
    source: dict[str, Any] = {
        "service": trace.service_name,
        "trace_name": trace.name,
        "models": list(trace.models),
        "prompt_versions": list(trace.prompt_versions),
        "failure_categories": categories,
        "had_error": trace.has_error,
        "output": trace.output if trace.output is not None else view.answer,
    }
    all_tags = list(dict.fromkeys([*(tags or []), *(f"failure:{c}" for c in categories)]))
    return DatasetItem(
        item_id=item_id_for(input_value, context),
        input=input_value,
        context=context,
        expected=expected,
        source_trace_id=trace.trace_id,
        tags=all_tags,
        metadata={"source": source},
    )


def resolve_trace_id(backend: Backend, ref: str) -> str:
    """The full id of a stored trace from an id or a unique prefix."""
    ref = ref.strip().lower()
    if TRACE_ID.match(ref):
        return ref
    matches = [r["TraceId"] for r in backend.rows(PREFIX_SQL, {"prefix": ref})] if ref else []
    if len(matches) != 1:
        raise TraceNotFoundError(
            f"{len(matches)} stored traces match {ref!r}" + (f": {', '.join(matches)}" if matches else "")
        )
    return str(matches[0])


def load_items(
    backend: Backend,
    trace_ids: list[str],
    *,
    keep_expected: bool = True,
    expected: Any = None,
    tags: list[str] | None = None,
) -> list[DatasetItem]:
    """One item per stored trace (ids or unique prefixes); TraceNotFoundError names a missing one."""
    from glassbox.datasets.stored_trace import load_trace

    items = []
    for ref in trace_ids:
        trace_id = resolve_trace_id(backend, ref)
        trace = load_trace(backend, trace_id)
        if trace is None:
            raise TraceNotFoundError(f"trace {trace_id} has no stored spans (is it still being assembled?)")
        categories = [r["FailureCategory"] for r in backend.rows(CATEGORIES_SQL, {"trace_id": trace_id})]
        items.append(item_from_trace(trace, categories=categories, keep_expected=keep_expected, expected=expected,
                                     tags=tags))  # fmt: skip
    return items


def trace_ids_from_query(backend: Backend, sql: str) -> list[str]:
    """Run read-only SQL and return the trace ids it selects: the column named trace_id / TraceId, else the first.

    Raises ValueError when the query fails (it runs on a read-only session: writes are refused) or a value is
    not a trace id (32 hex digits); duplicates are dropped, order kept.
    """
    try:
        result = backend.readonly_client().query(sql)
    except Exception as exc:
        text = str(exc).strip().splitlines()[0][:500] if str(exc).strip() else type(exc).__name__
        if getattr(exc, "code", None) == 164 or "readonly" in text.lower():
            raise ValueError(f"--query runs read-only: writes, DDL and setting changes are refused ({text})") from None
        raise ValueError(f"the query failed: {text}") from None
    columns = [c.lower() for c in result.column_names]
    index = next((columns.index(n) for n in ("trace_id", "traceid") if n in columns), 0)
    ids: dict[str, None] = {}
    for row in result.result_rows:
        value = str(row[index]).strip().lower()
        if not TRACE_ID.match(value):
            raise ValueError(f"the query returned {row[index]!r}, which is not a trace id (32 hex digits)")
        ids[value] = None
    return list(ids)

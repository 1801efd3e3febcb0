"""Ended span → wire event (a dict matching the span-event contract). Runs on the exporter thread.

Values the application set are coerced to the contract's types; a value that
cannot be coerced moves to ``attributes`` under ``glassbox.invalid.<field>``
instead of invalidating the event. Everything captured goes through the
capturer (caps, markers, redaction).
"""

from __future__ import annotations

import inspect
import math
import traceback
from typing import Any

from glassbox.sdk.capture import Capturer, _clean_str
from glassbox.sdk.fields import PAYLOAD_FIELDS
from glassbox.sdk.span import CallArgs, Span

MAX_SHORT = 256
"""Contract cap on user_id, session_id, cohort and tag strings."""
MAX_NAME = 1024
MAX_TAGS = 64
_SIGNATURES: dict[Any, Any] = {}
_ARG_NAMES_SKIPPED = ("self", "cls")


def _short(value: Any, limit: int = MAX_SHORT) -> str:
    text = value if isinstance(value, str) else str(value)
    if not text.isascii():
        text = _clean_str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plan(func: Any) -> tuple[tuple[str, ...], bool] | None:
    """(positional parameter names, has **kwargs) for a plain signature; None when binding needs inspect."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    names: list[str] = []
    var_kw = False
    for param in sig.parameters.values():
        if param.kind in (param.POSITIONAL_OR_KEYWORD, param.POSITIONAL_ONLY):
            names.append(param.name)
        elif param.kind is param.VAR_KEYWORD:
            var_kw = True
        else:  # *args or keyword-only: use the general path
            return None
    return tuple(names), var_kw


def bind_arguments(call: CallArgs) -> dict[str, Any]:
    """Function arguments by parameter name (self/cls left out)."""
    func = call.func
    plan = _SIGNATURES.get(func, False)
    if plan is False:
        plan = _plan(func)
        if len(_SIGNATURES) < 10_000:
            _SIGNATURES[func] = plan
    args: dict[str, Any]
    if plan is not None and len(call.args) <= len(plan[0]):
        args = dict(zip(plan[0], call.args, strict=False))
        args.update(call.kwargs)
    else:
        try:
            bound = inspect.signature(func).bind_partial(*call.args, **call.kwargs)
            args = dict(bound.arguments)
            for name, param in inspect.signature(func).parameters.items():
                if param.kind is inspect.Parameter.VAR_KEYWORD and name in args:
                    args.update(args.pop(name))
        except (TypeError, ValueError):
            args = {}
            if call.args:
                args["args"] = list(call.args)
            if call.kwargs:
                args.update(call.kwargs)
            return args
    if call.skip_first and args:
        first = next(iter(args))
        if first in _ARG_NAMES_SKIPPED:
            del args[first]
    return args


def _coerce(tag: str, value: Any, path: str, capturer: Capturer, cuts: list[dict[str, Any]]) -> tuple[bool, Any]:
    """(ok, coerced value) for one payload field."""
    if value is None:
        return True, None
    if tag == "str":
        return True, capturer.short_text(value, capturer.max_value_bytes)
    if tag in ("int", "uint"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            return False, value
        try:
            number = int(float(value)) if not isinstance(value, int) else value
        except (TypeError, ValueError, OverflowError):
            return False, value
        if tag == "uint" and number < 0:
            return False, value
        return True, number
    if tag in ("float", "ufloat"):
        if isinstance(value, bool):
            return False, value
        try:
            real = float(value)
        except (TypeError, ValueError, OverflowError):
            return False, value
        if not math.isfinite(real) or (tag == "ufloat" and real < 0):
            return False, value
        return True, real
    if tag == "bool":
        return True, bool(value)
    if tag == "list_str":
        if isinstance(value, str):
            value = [value]
        try:
            return True, [capturer.short_text(v, capturer.max_value_bytes) for v in list(value)[:1000]]
        except TypeError:
            return False, value
    if tag == "messages":
        return _messages(value, path, capturer, cuts)
    if tag == "documents":
        return _documents(value, path, capturer, cuts)
    if tag == "dict":
        data = capturer.capture(value, path, cuts)
        return (True, data) if isinstance(data, dict) else (False, value)
    return True, capturer.capture(value, path, cuts)


def _messages(value: Any, path: str, capturer: Capturer, cuts: list[dict[str, Any]]) -> tuple[bool, Any]:
    if isinstance(value, dict | str):
        value = [value]
    if not isinstance(value, list | tuple):
        return False, value
    out: list[dict[str, Any]] = []
    for item in value[:1000]:
        if hasattr(item, "model_dump"):
            try:
                item = item.model_dump()
            except Exception:
                item = str(item)
        if isinstance(item, dict):
            data = capturer.capture(item, path, cuts)
            if not isinstance(data, dict) or "glassbox.truncated" in data:
                data = {"role": _short(item.get("role", "unknown"), 64), "content": data}
            role = data.get("role")
            data["role"] = _short(role if isinstance(role, str) and role else "unknown", 64)
            out.append(data)
        else:
            out.append({"role": "user", "content": capturer.capture(item, path, cuts)})
    return True, out


def _documents(value: Any, path: str, capturer: Capturer, cuts: list[dict[str, Any]]) -> tuple[bool, Any]:
    if not isinstance(value, list | tuple):
        return False, value
    out: list[dict[str, Any]] = []
    for item in value[:1000]:
        doc: dict[str, Any] = {}
        if isinstance(item, dict):
            source = dict(item)
        elif hasattr(item, "page_content"):  # LangChain / LlamaIndex style documents
            source = {"content": item.page_content, "metadata": getattr(item, "metadata", None)}
            if getattr(item, "id", None) is not None:
                source["id"] = item.id
        else:
            source = {"content": item}
        ident = source.pop("id", None)
        if ident is not None:
            doc["id"] = _short(ident, 1024)
        score = source.pop("score", None)
        if score is not None:
            ok, number = _coerce("float", score, path, capturer, cuts)
            if ok:
                doc["score"] = number
        content = source.pop("content", source.pop("text", source.pop("page_content", None)))
        if content is not None:
            doc["content"] = capturer.capture(content, path, cuts)
        metadata = source.pop("metadata", None)
        meta: dict[str, Any] = dict(metadata) if isinstance(metadata, dict) else {}
        meta.update(source)
        if meta:
            captured = capturer.capture(meta, path, cuts)
            doc["metadata"] = captured if isinstance(captured, dict) else {"value": captured}
        out.append(doc)
    return True, out


def _first_named(args: Any, names: tuple[str, ...]) -> Any:
    if not isinstance(args, dict):
        return None
    for name in names:
        if name in args:
            return args[name]
    if len(args) == 1:
        return next(iter(args.values()))
    return None


def _defaults(span: Span, payload: dict[str, Any], args: Any) -> None:
    """Fill payload fields a decorated function implies (tool arguments, retrieval query, ...)."""
    kind = span.kind
    if kind == "tool":
        payload.setdefault("name", span.name)
        if "arguments" not in payload and args is not None:
            payload["arguments"] = args
        if "result" not in payload and span.output is not None:
            payload["result"] = span.output
        if "error" not in payload and span.status == "error" and span.status_message:
            payload["error"] = span.status_message
    elif kind == "retrieval":
        if "query" not in payload:
            query = _first_named(args, ("query", "question", "q", "text", "prompt"))
            if query is not None:
                payload["query"] = query
        if "documents" not in payload and isinstance(span.output, list | tuple):
            payload["documents"] = span.output
    elif kind == "generation":
        if isinstance(args, dict):
            if "input_messages" not in payload and isinstance(args.get("messages"), list):
                payload["input_messages"] = args["messages"]
            if "request_model" not in payload and isinstance(args.get("model"), str):
                payload["request_model"] = args["model"]
        if "completion" not in payload and isinstance(span.output, str):
            payload["completion"] = span.output
    elif kind == "guardrail":
        payload.setdefault("name", span.name)
        payload.setdefault("passed", span.status != "error")


def to_wire(span: Span, capturer: Capturer, resource: dict[str, str]) -> dict[str, Any]:
    """The span-event dict for an ended span."""
    cuts: list[dict[str, Any]] = []
    event: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": f"{span.trace_id:032x}",
        "span_id": f"{span.span_id:016x}",
        "name": _short(span.name or span.kind, MAX_NAME),
        "kind": span.kind,
        "start_time_unix_nano": span.start_ns,
        "end_time_unix_nano": max(span.end_ns, span.start_ns),
        "status": {"code": span.status},
        "resource": resource,
    }
    if span.parent_id is not None:
        event["parent_span_id"] = f"{span.parent_id:016x}"
    if span.status_message:
        event["status"]["message"] = capturer.short_text(span.status_message, capturer.max_value_bytes)
    for key in ("user_id", "session_id", "cohort"):
        value = getattr(span, key)
        if value is not None:
            event[key] = _short(value)
    if span.tags:
        event["tags"] = [_short(t) for t in span.tags[:MAX_TAGS]]

    args = bind_arguments(span.input) if isinstance(span.input, CallArgs) else span.input
    if args is not None:
        event["input"] = capturer.capture(args, "input", cuts)
    if span.output is not None:
        event["output"] = capturer.capture(span.output, "output", cuts)
    if span.metadata:
        meta = capturer.capture(span.metadata, "metadata", cuts)
        event["metadata"] = meta if isinstance(meta, dict) else {"value": meta}

    attributes: dict[str, Any] = {}
    kind_fields = PAYLOAD_FIELDS.get(span.kind)
    if kind_fields is not None and span.kind != "span":
        payload_in = dict(span.payload) if span.payload else {}
        _defaults(span, payload_in, args)
        payload: dict[str, Any] = {}
        for name, value in payload_in.items():
            wire_name, tag = kind_fields[name]
            ok, coerced = _coerce(tag, value, f"payload.{wire_name}", capturer, cuts)
            if ok:
                if coerced is not None:
                    payload[wire_name] = coerced
            else:
                attributes[f"glassbox.invalid.{wire_name}"] = capturer.capture(value, "attributes", cuts)
        event["payload"] = payload

    dropped = 0
    if span.attributes:
        limit = capturer.max_attributes
        for key, value in span.attributes.items():
            if len(attributes) >= limit:
                dropped += 1
                continue
            attributes[_short(key, 256)] = capturer.capture(value, f"attributes.{key}", cuts)
    if attributes:
        event["attributes"] = attributes
    if dropped:
        event["dropped_attributes_count"] = dropped

    events: list[dict[str, Any]] = []
    if span.events:
        for name, ts, attrs in span.events[:128]:
            captured = capturer.capture(attrs, "events", cuts)
            events.append(
                {
                    "name": _short(name, MAX_NAME),
                    "time_unix_nano": ts,
                    "attributes": captured if isinstance(captured, dict) else {},
                }
            )
    if span.exception is not None:
        events.append(_exception_event(span.exception, span.end_ns, capturer))
    if events:
        event["events"] = events
    if span.scores:
        scores = []
        for name, value, comment in span.scores:
            ok, number = _coerce("float", value, "scores", capturer, cuts)
            if ok and number is not None:
                score: dict[str, Any] = {"name": _short(name) or "score", "value": number}
                if comment is not None:
                    score["comment"] = capturer.short_text(comment, capturer.max_value_bytes)
                scores.append(score)
        if scores:
            event["scores"] = scores
    if cuts:
        event["truncations"] = [
            {"path": _short(c["path"], 512), "original_bytes": c["original_bytes"], "reason": c["reason"]}
            for c in cuts[:100]
        ]
    return event


def _exception_event(exc: BaseException, ts: int, capturer: Capturer) -> dict[str, Any]:
    limit = capturer.max_value_bytes
    try:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        stack = ""
    try:
        message = str(exc)
    except Exception:
        message = "<str() failed>"
    return {
        "name": "exception",
        "time_unix_nano": ts,
        "attributes": {
            "exception.type": _short(f"{type(exc).__module__}.{type(exc).__qualname__}", 512),
            "exception.message": capturer.short_text(message, limit),
            "exception.stacktrace": capturer.short_text(stack, limit),
        },
    }

"""Carrying trace context across threads, processes and HTTP calls (W3C traceparent)."""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, TypeVar

from glassbox.models.ids import parse_traceparent
from glassbox.sdk.client import CURRENT
from glassbox.sdk.span import RemoteParent, Span

T = TypeVar("T")

TRACEPARENT = "traceparent"


def inject(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put the current span's ``traceparent`` into ``carrier`` (HTTP headers, env, a message) and return it."""
    out: dict[str, str] = {} if carrier is None else carrier  # type: ignore[assignment]
    value = CURRENT.get()
    if isinstance(value, Span):
        out[TRACEPARENT] = value.traceparent
    elif isinstance(value, RemoteParent):
        out[TRACEPARENT] = f"00-{value.trace_id:032x}-{value.span_id:016x}-{'01' if value.sampled else '00'}"
    return out


def extract(carrier: Mapping[str, str] | str | None) -> RemoteParent | None:
    """Read a remote parent from a carrier (case-insensitive ``traceparent`` key) or a traceparent string."""
    if carrier is None:
        return None
    header: str | None
    if isinstance(carrier, str):
        header = carrier
    else:
        header = next((v for k, v in carrier.items() if k.lower() == TRACEPARENT), None)
    if not header:
        return None
    parsed = parse_traceparent(header)
    if parsed is None:
        return None
    trace_id, span_id, sampled = parsed
    return RemoteParent(int(trace_id, 16), int(span_id, 16), sampled)


@contextlib.contextmanager
def attach(carrier: Mapping[str, str] | str | None) -> Iterator[RemoteParent | None]:
    """Make a remote parent current, so spans started inside continue that trace. Invalid input is ignored."""
    parent = extract(carrier)
    if parent is None:
        yield None
        return
    token = CURRENT.set(parent)
    try:
        yield parent
    finally:
        try:
            CURRENT.reset(token)
        except ValueError:
            pass


def wrap(fn: Callable[..., T]) -> Callable[..., T]:
    """Bind ``fn`` to the current context, so it runs under the current span in another thread."""
    ctx = contextvars.copy_context()

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.copy().run(fn, *args, **kwargs)

    return run


class ContextThreadPoolExecutor(concurrent.futures.ThreadPoolExecutor):
    """A ThreadPoolExecutor whose tasks run under the submitter's current span."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[T]:
        ctx = contextvars.copy_context()
        return super().submit(ctx.run, fn, *args, **kwargs)

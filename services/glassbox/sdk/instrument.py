"""Decorators and context managers: ``@trace``, ``@span``, ``@generation``, ``@retrieval``, ``@tool`` ...

Each works on sync and async functions, generators and async generators, and
as a (sync or async) context manager::

    @glassbox.retrieval(top_k=4)
    def search(query: str) -> list[dict]: ...

    with glassbox.generation("answer", model="gpt-4o") as gen:
        gen.update(completion=text, input_tokens=12)

The active span travels in a ContextVar, so nesting follows threads and
asyncio tasks. Instrumentation never changes what the function returns or
raises; when the SDK itself fails, the function runs untraced.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from glassbox.sdk import client as _client_mod
from glassbox.sdk.client import CURRENT
from glassbox.sdk.span import NOOP_SPAN, CallArgs, NoopSpan, RemoteParent, Span

F = TypeVar("F", bound=Callable[..., Any])
MAX_COLLECTED_ITEMS = 1000
"""Items of a generator's output kept as the span output."""


def _client() -> _client_mod.Client:
    return _client_mod._client or _client_mod.get_client()


class Instrument:
    """A span factory usable as a decorator (bare or called) and as a context manager."""

    def __init__(
        self,
        name: str | None,
        kind: str,
        capture_input: bool | None = None,
        capture_output: bool | None = None,
        new_trace: bool = False,
        fields: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.new_trace = new_trace
        self.fields = fields or {}
        self._stack: list[tuple[Span, Any]] = []

    # ------------------------------------------------------------------ span helpers

    def _start(self, name: str) -> Span | None:
        client = _client()
        if not client.enabled:
            return None
        span = client.start_span(name, self.kind, new_trace=self.new_trace)
        if self.fields:
            span.update(**self.fields)
        return span

    def _capture_out(self, client: _client_mod.Client) -> bool:
        return client.capture_io if self.capture_output is None else self.capture_output

    def _capture_in(self, client: _client_mod.Client) -> bool:
        return client.capture_io if self.capture_input is None else self.capture_input

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> Span | NoopSpan:
        try:
            span = self._start(self.name or self.kind)
            if span is None:
                self._stack.append((NOOP_SPAN, None))  # type: ignore[arg-type]
                return NOOP_SPAN
            token = CURRENT.set(span)
            self._stack.append((span, token))
            return span
        except Exception:
            self._stack.append((NOOP_SPAN, None))  # type: ignore[arg-type]
            return NOOP_SPAN

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            span, token = self._stack.pop()
        except IndexError:
            return
        if token is None or isinstance(span, NoopSpan):
            return
        try:
            if exc is not None:
                span.record_exception(exc)
            CURRENT.reset(token)
        except Exception:
            pass
        span.end()

    async def __aenter__(self) -> Span | NoopSpan:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    # ------------------------------------------------------------------ decorator

    def __call__(self, fn: F) -> F:
        name: str = self.name or getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or self.kind
        try:
            params = list(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            params = []
        skip_first = bool(params) and params[0] in ("self", "cls")
        if inspect.isasyncgenfunction(fn):
            wrapped: Any = self._wrap_async_gen(fn, name, skip_first)
        elif inspect.iscoroutinefunction(fn):
            wrapped = self._wrap_async(fn, name, skip_first)
        elif inspect.isgeneratorfunction(fn):
            wrapped = self._wrap_gen(fn, name, skip_first)
        else:
            wrapped = self._wrap_sync(fn, name, skip_first)
        return functools.wraps(fn)(wrapped)  # type: ignore[return-value]

    def _begin(
        self, fn: Any, name: str, skip_first: bool, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Span | None:
        try:
            client = _client()
            if not client.enabled:
                return None
            span = client.start_span(name, self.kind, new_trace=self.new_trace)
            if self.fields:
                span.update(**self.fields)
            if self._capture_in(client):
                span.input = CallArgs(fn, args, kwargs, skip_first)
            return span
        except Exception:
            return None

    def _done(self, span: Span, result: Any) -> None:
        try:
            if result is not None and self._capture_out(span._client):
                span.output = result
        except Exception:
            pass
        span.end()

    def _wrap_sync(self, fn: Any, name: str, skip_first: bool) -> Any:
        begin, done = self._begin, self._done

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            span = begin(fn, name, skip_first, args, kwargs)
            if span is None:
                return fn(*args, **kwargs)
            token = CURRENT.set(span)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                span.record_exception(exc)
                CURRENT.reset(token)
                span.end()
                raise
            CURRENT.reset(token)
            done(span, result)
            return result

        return wrapper

    def _wrap_async(self, fn: Any, name: str, skip_first: bool) -> Any:
        begin, done = self._begin, self._done

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            span = begin(fn, name, skip_first, args, kwargs)
            if span is None:
                return await fn(*args, **kwargs)
            token = CURRENT.set(span)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                span.record_exception(exc)
                _reset(token)
                span.end()
                raise
            _reset(token)
            done(span, result)
            return result

        return wrapper

    def _wrap_gen(self, fn: Any, name: str, skip_first: bool) -> Any:
        begin = self._begin
        instrument = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            span = begin(fn, name, skip_first, args, kwargs)
            if span is None:
                return (yield from fn(*args, **kwargs))
            collected: list[Any] = []
            token = CURRENT.set(span)
            try:
                gen = fn(*args, **kwargs)
                item = next(gen)
            except StopIteration as stop:
                _reset(token)
                instrument._finish_collected(span, collected, stop.value)
                return stop.value
            except BaseException as exc:
                _reset(token)
                span.record_exception(exc)
                span.end()
                raise
            _reset(token)
            while True:
                if len(collected) < MAX_COLLECTED_ITEMS:
                    collected.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    gen.close()
                    instrument._finish_collected(span, collected, None)
                    raise
                except BaseException as thrown:
                    token = CURRENT.set(span)
                    try:
                        item = gen.throw(thrown)
                    except StopIteration as stop:
                        _reset(token)
                        instrument._finish_collected(span, collected, stop.value)
                        return stop.value
                    except BaseException as exc:
                        _reset(token)
                        span.record_exception(exc)
                        span.end()
                        raise
                    _reset(token)
                    continue
                token = CURRENT.set(span)
                try:
                    item = gen.send(sent)
                except StopIteration as stop:
                    _reset(token)
                    instrument._finish_collected(span, collected, stop.value)
                    return stop.value
                except BaseException as exc:
                    _reset(token)
                    span.record_exception(exc)
                    span.end()
                    raise
                _reset(token)

        return wrapper

    def _wrap_async_gen(self, fn: Any, name: str, skip_first: bool) -> Any:
        begin = self._begin
        instrument = self

        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            span = begin(fn, name, skip_first, args, kwargs)
            if span is None:
                async for value in fn(*args, **kwargs):
                    yield value
                return
            collected: list[Any] = []
            agen = fn(*args, **kwargs)
            sent: Any = None
            while True:
                token = CURRENT.set(span)
                try:
                    item = await agen.asend(sent)
                except StopAsyncIteration:
                    _reset(token)
                    instrument._finish_collected(span, collected, None)
                    return
                except BaseException as exc:
                    _reset(token)
                    span.record_exception(exc)
                    span.end()
                    raise
                _reset(token)
                if len(collected) < MAX_COLLECTED_ITEMS:
                    collected.append(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    await agen.aclose()
                    instrument._finish_collected(span, collected, None)
                    raise

        return wrapper

    def _finish_collected(self, span: Span, collected: list[Any], returned: Any) -> None:
        try:
            if self._capture_out(span._client):
                if returned is not None:
                    span.output = returned
                elif collected and all(isinstance(c, str) for c in collected):
                    span.output = "".join(collected)
                elif collected:
                    span.output = collected
        except Exception:
            pass
        span.end()


def _reset(token: Any) -> None:
    """Reset the current span; tolerate a token from another context (e.g. a task switched contexts)."""
    try:
        CURRENT.reset(token)
    except ValueError:
        pass


def _factory(kind: str, new_trace: bool = False) -> Callable[..., Any]:
    def make(
        name: str | Callable[..., Any] | None = None,
        *,
        capture_input: bool | None = None,
        capture_output: bool | None = None,
        **fields: Any,
    ) -> Any:
        if callable(name):  # used bare: @glassbox.span
            return Instrument(None, kind, new_trace=new_trace)(name)
        return Instrument(
            name, kind, capture_input, capture_output, new_trace=fields.pop("new_trace", new_trace), fields=fields
        )

    make.__name__ = kind
    make.__doc__ = (
        f"Trace a function or block as a '{kind}' span. Use bare (@{kind}), called (@{kind}('name', ...)) "
        "or as a context manager (with / async with). Keyword arguments set span fields "
        "(user_id, session_id, tags, metadata, and payload fields such as model or top_k); "
        "capture_input / capture_output override the global GLASSBOX_SDK_CAPTURE_IO."
    )
    return make


def trace(
    name: str | Callable[..., Any] | None = None,
    *,
    capture_input: bool | None = None,
    capture_output: bool | None = None,
    new_trace: bool = False,
    **fields: Any,
) -> Any:
    """Trace a top-level operation (a request, a pipeline run). Starts a new trace unless one is active
    (then it nests, or forces a new trace with new_trace=True). Accepts user_id, session_id, cohort, tags, metadata.
    """
    if callable(name):
        return Instrument(None, "span", new_trace=new_trace)(name)
    return Instrument(name, "span", capture_input, capture_output, new_trace=new_trace, fields=fields)


span = _factory("span")
generation = _factory("generation")
retrieval = _factory("retrieval")
tool = _factory("tool")
agent = _factory("agent")
embedding = _factory("embedding")
guardrail = _factory("guardrail")


def current_span() -> Span | NoopSpan:
    """The active span, or a no-op span when there is none."""
    value = CURRENT.get()
    return value if isinstance(value, Span) else NOOP_SPAN


def update_current_span(**fields: Any) -> None:
    """Update the active span (see :meth:`Span.update`). Does nothing outside a span."""
    value = CURRENT.get()
    if isinstance(value, Span):
        value.update(**fields)


def start_span(name: str, kind: str = "span", parent: Span | RemoteParent | None = None) -> Span | NoopSpan:
    """Start a span without making it current; call ``.end()`` on it. For callback-style code."""
    try:
        client = _client()
        if not client.enabled:
            return NOOP_SPAN
        return client.start_span(name, kind, parent=parent)
    except Exception:
        return NOOP_SPAN

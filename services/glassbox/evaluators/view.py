"""A read-only view of one assembled trace, with what evaluators ask for computed once.

Every evaluator of a trace shares one view, so the answer text, the retrieved documents,
the tool calls in order and so on are extracted once per trace, not once per evaluator.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from glassbox.models.evaluation import RouteBaseline
from glassbox.models.span import (
    AgentSpan,
    Document,
    GenerationSpan,
    Message,
    RetrievalSpan,
    SpanBase,
    StatusCode,
    ToolSpan,
)
from glassbox.models.trace import AssembledTrace

TEXT_KEYS = ("answer", "output", "content", "text", "response", "result", "completion", "message")
"""Keys looked up, in order, when a captured value is an object and we want its text."""
QUESTION_KEYS = ("question", "query", "input", "prompt", "message", "text", "content")
"""Keys looked up, in order, when a captured input is an object and we want the user's question."""


T = TypeVar("T")


class cached(Generic[T]):
    """functools.cached_property without its lock (3.11 takes one on every first access): the view
    belongs to one evaluation task, and a rule evaluation costs only a few microseconds."""

    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> cached[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | cached[T]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value
        return value


def as_text(value: Any, limit: int = 20_000, keys: tuple[str, ...] = TEXT_KEYS) -> str:
    """Readable text of a captured value: strings as they are, objects by their usual text key, else JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value[:limit]
    if isinstance(value, dict):
        for key in keys:
            inner = value.get(key)
            if isinstance(inner, str):
                return inner[:limit]
        if len(value) == 1:
            return as_text(next(iter(value.values())), limit)
    if isinstance(value, list) and all(isinstance(v, str | dict) for v in value):
        parts = [as_text(v, limit) for v in value]
        return "\n".join(p for p in parts if p)[:limit]
    try:
        return json.dumps(value, ensure_ascii=False, default=str)[:limit]
    except (TypeError, ValueError):
        return str(value)[:limit]


def message_text(message: Message) -> str:
    """Text of a chat message (content parts joined)."""
    content = message.content
    if isinstance(content, list):
        parts = [p.get("text") if isinstance(p, dict) else p for p in content]
        return "\n".join(p for p in parts if isinstance(p, str))
    return as_text(content)


def is_error(span: SpanBase) -> bool:
    return span.status.code == StatusCode.ERROR or bool(isinstance(span, ToolSpan) and span.payload.error)


class TraceView:
    """Lazily computed facts about one trace; ``baseline`` is the route's figures from the sampler."""

    def __init__(self, trace: AssembledTrace, baseline: RouteBaseline | None = None) -> None:
        self.trace = trace
        self.baseline = baseline

    @cached
    def spans(self) -> list[SpanBase]:
        """The spans by start time (the assembler emits them in that order)."""
        return list(self.trace.spans)

    @cached
    def root(self) -> SpanBase | None:
        wanted = self.trace.root_span_id
        return next((s for s in self.spans if s.span_id == wanted), None) if wanted else None

    @cached
    def _by_kind(self) -> tuple[list[GenerationSpan], list[RetrievalSpan], list[ToolSpan], list[AgentSpan]]:
        generations: list[GenerationSpan] = []
        retrievals: list[RetrievalSpan] = []
        tools: list[ToolSpan] = []
        agents: list[AgentSpan] = []
        for span in self.spans:
            if isinstance(span, GenerationSpan):
                generations.append(span)
            elif isinstance(span, RetrievalSpan):
                retrievals.append(span)
            elif isinstance(span, ToolSpan):
                tools.append(span)
            elif isinstance(span, AgentSpan):
                agents.append(span)
        return generations, retrievals, tools, agents

    @property
    def generations(self) -> list[GenerationSpan]:
        return self._by_kind[0]

    @property
    def retrievals(self) -> list[RetrievalSpan]:
        return self._by_kind[1]

    @property
    def tools(self) -> list[ToolSpan]:
        return self._by_kind[2]

    @property
    def agent_steps(self) -> list[AgentSpan]:
        return self._by_kind[3]

    @cached
    def documents(self) -> list[tuple[RetrievalSpan, Document]]:
        """Every retrieved document with the retrieval span that returned it, in order."""
        return [(r, d) for r in self.retrievals for d in r.payload.documents]

    @cached
    def context(self) -> str:
        """The retrieved documents' text, numbered, as a judge or a similarity check reads it."""
        parts = [f"[{i + 1}] {as_text(d.content)}" for i, (_, d) in enumerate(self.documents) if d.content]
        return "\n".join(parts)[:16_000]

    @cached
    def final_generation(self) -> GenerationSpan | None:
        return max(self.generations, key=lambda s: (s.end_time_unix_nano, s.span_id)) if self.generations else None

    @cached
    def answer_span_id(self) -> str | None:
        """The span the answer comes from: the root when it captured an output, else the last generation."""
        if self.root is not None and self.root.output is not None:
            return self.root.span_id
        final = self.final_generation
        return final.span_id if final else None

    @cached
    def answer(self) -> str:
        """The trace's final answer: the root's output, else the last generation's completion."""
        if self.trace.output is not None:
            return as_text(self.trace.output)
        final = self.final_generation
        return generation_output(final) if final else ""

    @cached
    def question(self) -> str:
        """What the user asked: the root's input, else the last user message of the first generation."""
        if self.trace.input is not None:
            return as_text(self.trace.input, keys=QUESTION_KEYS)
        for gen in self.generations:
            users = [m for m in gen.payload.input_messages or [] if m.role == "user"]
            if users:
                return message_text(users[-1])
        return ""

    @cached
    def system_prompt(self) -> str:
        """System (and developer) messages of the final generation."""
        final = self.final_generation
        if final is None:
            return ""
        messages = final.payload.input_messages or []
        return "\n".join(message_text(m) for m in messages if m.role in ("system", "developer"))

    @cached
    def metadata(self) -> dict[str, Any]:
        """The root span's metadata, over the other spans' (root wins)."""
        merged: dict[str, Any] = {}
        for span in reversed(self.spans):
            merged.update(span.metadata)
        if self.root is not None:
            merged.update(self.root.metadata)
        return merged

    @cached
    def route(self) -> str:
        return f"{self.trace.service_name}/{self.trace.name}"


def generation_output(span: GenerationSpan) -> str:
    """What a generation produced: its completion, else its first output message, else its captured output."""
    payload = span.payload
    if payload.completion is not None:
        return as_text(payload.completion)
    if payload.output_messages:
        return message_text(payload.output_messages[0])
    return as_text(span.output)

"""Rules and faults of the fake LLM provider: what a request matches, and what comes back.

A :class:`Rule` pairs a matcher (substring or regex of the last user message or
of the system prompt, model glob, endpoint, or any predicate) with a response
spec (text or ``callable(request) -> text``, tool calls, delays, stream chunking,
token counts) or a :class:`Fault`. Rules are plain dataclasses, and both build
from dicts (so a YAML file can declare them) with :meth:`Rule.from_dict`.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

Endpoint = Literal["chat", "completions", "embeddings"]
FaultKind = Literal["status", "hang", "malformed", "truncate"]


@dataclass(frozen=True, slots=True)
class LLMRequest:
    """One request as the rules see it."""

    endpoint: str
    """chat, completions or embeddings."""
    model: str
    body: dict[str, Any]
    """The decoded JSON body, as sent."""
    text: str
    """What ``contains``/``regex`` match: the last user message (chat), the prompt, or the joined inputs."""
    system: str
    """The system (and developer) messages, joined by newlines; empty when there are none."""
    stream: bool
    headers: dict[str, str]

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages")
        return messages if isinstance(messages, list) else []

    @property
    def wants_json(self) -> bool:
        """True when the request asks for a JSON object (response_format json_object / json_schema)."""
        fmt = self.body.get("response_format")
        return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


@dataclass(frozen=True, slots=True)
class Fault:
    """A failure the fake server produces instead of a normal answer.

    ``status``: an HTTP error (429 carries ``Retry-After``); ``hang``: wait ``seconds`` then close the
    connection without answering (longer than the client's timeout); ``malformed``: a 200 whose JSON body
    is cut short; ``truncate``: a stream closed after ``after_chunks`` chunks without ``[DONE]`` (a
    non-streamed response is cut mid-body).
    """

    kind: FaultKind = "status"
    status: int = 500
    retry_after: float | None = None
    message: str | None = None
    seconds: float = 30.0
    after_chunks: int = 1

    @classmethod
    def rate_limit(cls, retry_after: float = 1.0, message: str | None = None) -> Fault:
        return cls("status", 429, retry_after, message or "Rate limit reached for requests")

    @classmethod
    def server_error(cls, status: int = 500, message: str | None = None) -> Fault:
        return cls("status", status, None, message)

    @classmethod
    def hang(cls, seconds: float = 30.0) -> Fault:
        return cls("hang", seconds=seconds)

    @classmethod
    def malformed(cls) -> Fault:
        return cls("malformed", status=200)

    @classmethod
    def truncated(cls, after_chunks: int = 1) -> Fault:
        return cls("truncate", status=200, after_chunks=after_chunks)

    @property
    def label(self) -> str:
        return f"http_{self.status}" if self.kind == "status" else self.kind

    @classmethod
    def from_value(cls, value: Fault | str | int | Mapping[str, Any]) -> Fault:
        """A fault from a Fault, a status code, a shorthand name or a dict.

        Shorthands: ``rate_limit``/``429``, ``server_error``/``500``/``502``/``503``, ``hang``/``timeout``,
        ``malformed``, ``truncate``/``truncated``. A dict names ``kind`` (or a shorthand) plus fields.
        """
        if isinstance(value, Fault):
            return value
        if isinstance(value, int):
            return cls.rate_limit() if value == 429 else cls.server_error(value)
        if isinstance(value, str):
            return _SHORTHANDS[value.strip().lower()]()
        data = dict(value)
        kind = str(data.pop("kind", None) or data.pop("type", None) or "status").lower()
        if kind == "status":
            return cls(**data)
        if kind not in _SHORTHANDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        merged = {f.name: getattr(_SHORTHANDS[kind](), f.name) for f in fields(cls)}
        merged.update(data)
        return cls(**merged)


_SHORTHANDS: dict[str, Callable[[], Fault]] = {
    "rate_limit": Fault.rate_limit,
    "429": Fault.rate_limit,
    "server_error": Fault.server_error,
    "500": Fault.server_error,
    "502": lambda: Fault.server_error(502),
    "503": lambda: Fault.server_error(503),
    "hang": Fault.hang,
    "timeout": Fault.hang,
    "malformed": Fault.malformed,
    "truncate": Fault.truncated,
    "truncated": Fault.truncated,
}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the fake model makes; ``arguments`` is a dict (sent as JSON) or a JSON string."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(dict(self.arguments))

    @classmethod
    def from_value(cls, value: ToolCall | Mapping[str, Any]) -> ToolCall:
        if isinstance(value, ToolCall):
            return value
        data = dict(value)
        function = data.get("function")
        if isinstance(function, Mapping):  # OpenAI shape
            return cls(str(function["name"]), function.get("arguments") or {}, data.get("id"))
        return cls(str(data["name"]), data.get("arguments") or {}, data.get("id"))


Reply = str | Callable[[LLMRequest], str] | None


@dataclass(slots=True)
class Rule:
    """When a request matches every matcher given, answer with this response spec (or fault).

    Matchers (all optional, all must hold): ``contains`` — case-insensitive substring of the request
    text (last user message / prompt / embedding input); ``regex`` — ``re.search`` on that text;
    ``system`` — case-insensitive substring of the system prompt; ``system_regex``; ``model`` — glob
    on the model name (``fake-*``); ``endpoint`` — chat, completions or embeddings; ``when`` — any
    predicate on the :class:`LLMRequest`.

    Response: ``reply`` text or ``callable(request) -> text`` (None: the server's default echo);
    ``tool_calls``; ``finish_reason`` (default stop, or tool_calls); ``delay`` seconds before
    answering; ``ttft`` seconds between the stream's headers and its first chunk; ``chunk_chars``
    characters per streamed chunk and ``chunk_delay`` seconds between chunks; token counts
    (``input_tokens``/``output_tokens`` override the ~4-characters-per-token estimate;
    ``cached_tokens``/``reasoning_tokens`` add usage details); ``response_model`` (default: the
    requested model). ``fault`` answers with a failure instead. ``times`` limits how many requests
    the rule answers; after that it no longer matches and later rules apply.
    """

    reply: Reply = None
    contains: str | None = None
    regex: str | None = None
    system: str | None = None
    system_regex: str | None = None
    model: str | None = None
    endpoint: str | None = None
    when: Callable[[LLMRequest], bool] | None = None
    tool_calls: Sequence[ToolCall | Mapping[str, Any]] | None = None
    finish_reason: str | None = None
    delay: float = 0.0
    ttft: float = 0.0
    chunk_chars: int = 8
    chunk_delay: float = 0.0
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None
    response_model: str | None = None
    fault: Fault | None = None
    times: int | None = None
    name: str | None = None
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False)
    _system_regex: re.Pattern[str] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._regex = re.compile(self.regex) if self.regex else None
        self._system_regex = re.compile(self.system_regex) if self.system_regex else None
        if self.fault is not None and not isinstance(self.fault, Fault):
            self.fault = Fault.from_value(self.fault)
        if self.tool_calls is not None:
            self.tool_calls = [ToolCall.from_value(t) for t in self.tool_calls]
        if self.chunk_chars < 1:
            raise ValueError("chunk_chars must be at least 1")

    def matches(self, request: LLMRequest) -> bool:
        """True when every matcher this rule sets holds for ``request`` (``times`` is the server's business)."""
        if self.endpoint is not None and request.endpoint != self.endpoint:
            return False
        if self.model is not None and not fnmatch.fnmatchcase(request.model, self.model):
            return False
        if self.contains is not None and self.contains.lower() not in request.text.lower():
            return False
        if self._regex is not None and not self._regex.search(request.text):
            return False
        if self.system is not None and self.system.lower() not in request.system.lower():
            return False
        if self._system_regex is not None and not self._system_regex.search(request.system):
            return False
        return self.when is None or bool(self.when(request))

    def render(self, request: LLMRequest, default: Callable[[LLMRequest], str]) -> str:
        """The reply text for ``request`` (empty when the rule only makes tool calls)."""
        if callable(self.reply):
            return str(self.reply(request))
        if self.reply is not None:
            return self.reply
        return "" if self.tool_calls else default(request)

    @property
    def calls(self) -> list[ToolCall]:
        return [ToolCall.from_value(t) for t in self.tool_calls or ()]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """A rule from a plain mapping (e.g. one item of a YAML list); ``fault`` may be a shorthand."""
        known = {f.name for f in fields(cls) if not f.name.startswith("_")}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        values = dict(data)
        if values.get("fault") is not None:
            values["fault"] = Fault.from_value(values["fault"])
        return cls(**values)


def default_reply(request: LLMRequest) -> str:
    """The answer when no rule matches: an echo of the request text (a JSON object when JSON is requested)."""
    text = request.text[:500]
    if request.wants_json:
        return json.dumps({"answer": f"Echo: {text}"})
    return f"Echo: {text}" if text else "Hello from the fake LLM."

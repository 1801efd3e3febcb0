"""Automatic capture of litellm calls as Glassbox spans (``glassbox.instrument_litellm()``).

Every ``completion`` / ``acompletion`` / ``text_completion`` (streamed or not) becomes a
``generation`` span and every ``embedding`` / ``aembedding`` an ``embedding`` span, nested
under the span that was current where the app made the call; a call made outside any span
starts its own trace (unless ``root_spans=False``).

How the parent is carried: litellm runs sync success callbacks on a thread pool and stream
failures on fresh threads, where the caller's contextvars are gone. ``log_pre_api_call``
runs in the caller's context (its thread, or its asyncio task's copied context), so it
records the current span under the call's ``litellm_call_id``; the success or failure
callback, wherever it runs, takes that parent back out of the (bounded) map. The first
terminal event of a call id makes the span; later duplicates (litellm logs some calls
twice) are ignored. Start and end times are litellm's own; time to first token is
``completion_start_time - start_time`` for streams.

The callback never raises into litellm or the app, honours ``capture_io`` (no messages,
prompts or completions when it is off), and this module is only imported (and litellm
with it) when :func:`instrument` is called.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading
import time
from typing import Any

try:
    from litellm.integrations.custom_logger import CustomLogger
except ImportError as exc:  # pragma: no cover - depends on the app's environment
    raise ImportError("glassbox.instrument_litellm() needs litellm installed (pip install litellm)") from exc

from glassbox.common.logging import get_logger
from glassbox.sdk import client as _client_mod
from glassbox.sdk.client import CURRENT
from glassbox.sdk.span import RemoteParent, Span

log = get_logger("glassbox.sdk.litellm")

MAX_PENDING_CALLS = 10_000
"""Calls remembered between pre-call and their terminal event; the oldest are forgotten beyond this."""
MAX_FINISHED_IDS = 10_000
"""Recently finished call ids kept to ignore duplicate terminal events."""

CHAT_CALLS = {"completion": "chat", "acompletion": "chat", "text_completion": "text_completion",
              "atext_completion": "text_completion"}  # fmt: skip
EMBEDDING_CALLS = frozenset({"embedding", "aembedding"})
PROVIDER_NAMES = {
    "openai": "openai",
    "text-completion-openai": "openai",
    "azure": "azure.ai.openai",
    "azure_text": "azure.ai.openai",
    "azure_ai": "azure.ai.inference",
    "anthropic": "anthropic",
    "bedrock": "aws.bedrock",
    "sagemaker": "aws.sagemaker",
    "vertex_ai": "gcp.vertex_ai",
    "vertex_ai_beta": "gcp.vertex_ai",
    "gemini": "gcp.gemini",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "mistral": "mistral_ai",
    "groq": "groq",
    "deepseek": "deepseek",
    "perplexity": "perplexity",
    "xai": "x_ai",
    "watsonx": "ibm.watsonx.ai",
}
"""litellm provider names → OTel ``gen_ai.provider.name`` values (others pass through)."""
NAMED_PARAMS = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "max_tokens": "max_tokens",
    "max_completion_tokens": "max_tokens",
    "seed": "seed",
    "frequency_penalty": "frequency_penalty",
    "presence_penalty": "presence_penalty",
}
INTERNAL_PARAMS = frozenset(
    {"max_retries", "stream", "stream_options", "extra_headers", "extra_query", "timeout", "api_key",
     "api_base", "api_version", "organization", "messages", "model", "input", "prompt"}
)  # fmt: skip
JSON_FORMATS = frozenset({"json_object", "json_schema"})
_ROOT = object()
"""Marks a call made outside any span (it becomes the root of a new trace)."""


# ---------------------------------------------------------------------- value helpers


def _get(obj: Any, key: str, default: Any = None) -> Any:
    """Attribute or mapping lookup, whichever the object supports."""
    if obj is None:
        return default
    if isinstance(obj, dict):
        return obj.get(key, default)
    return getattr(obj, key, default)


def to_ns(value: Any) -> int | None:
    """Nanoseconds since the epoch from a datetime (naive = local time, as litellm makes them) or seconds."""
    if isinstance(value, dt.datetime):
        return int(value.replace(microsecond=0).timestamp()) * 1_000_000_000 + value.microsecond * 1000
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value * 1_000_000_000)
    return None


def _messages_out(response: Any) -> tuple[list[dict[str, Any]], str | None, list[str]]:
    """Output messages, the first choice's text and the finish reasons of a chat or text response."""
    messages: list[dict[str, Any]] = []
    text: str | None = None
    reasons: list[str] = []
    for choice in _get(response, "choices") or []:
        reason = _get(choice, "finish_reason")
        if reason:
            reasons.append(str(reason))
        message = _get(choice, "message")
        if message is None:  # text completion
            content = _get(choice, "text")
            out: dict[str, Any] = {"role": "assistant", "content": content}
        else:
            content = _get(message, "content")
            out = {"role": _get(message, "role") or "assistant", "content": content}
            calls = _get(message, "tool_calls")
            if calls:
                out["tool_calls"] = [_tool_call(c) for c in calls]
            reasoning = _get(message, "reasoning_content")
            if reasoning:
                out["reasoning_content"] = reasoning
        if reason:
            out["finish_reason"] = str(reason)
        messages.append(out)
        if text is None and isinstance(content, str):
            text = content
    return messages, text, reasons


def _tool_call(call: Any) -> dict[str, Any]:
    function = _get(call, "function")
    return {
        "id": _get(call, "id"),
        "type": _get(call, "type") or "function",
        "function": {"name": _get(function, "name"), "arguments": _get(function, "arguments")},
    }


def _usage(response: Any, fields: dict[str, Any], embedding: bool) -> None:
    usage = _get(response, "usage")
    if usage is None:
        return
    prompt = _get(usage, "prompt_tokens")
    if isinstance(prompt, int):
        fields["input_tokens"] = prompt
    if embedding:
        return
    completion = _get(usage, "completion_tokens")
    if isinstance(completion, int):
        fields["output_tokens"] = completion
    cached = _get(_get(usage, "prompt_tokens_details"), "cached_tokens")
    if isinstance(cached, int) and cached > 0:
        fields["cached_input_tokens"] = cached
    reasoning = _get(_get(usage, "completion_tokens_details"), "reasoning_tokens")
    if isinstance(reasoning, int) and reasoning > 0:
        fields["reasoning_tokens"] = reasoning


def _request_params(optional: dict[str, Any], fields: dict[str, Any]) -> None:
    """Spread litellm's optional_params over the named payload fields; the rest goes to ``parameters``."""
    rest: dict[str, Any] = {}
    for key, value in optional.items():
        if value is None or key in INTERNAL_PARAMS or (key == "extra_body" and not value):
            continue
        if key in NAMED_PARAMS:
            fields[NAMED_PARAMS[key]] = value
        elif key == "stop":
            fields["stop_sequences"] = [value] if isinstance(value, str) else value
        elif key == "tools":
            fields["tool_definitions"] = value
        elif key == "response_format":
            fields["response_format"] = value
            kind = _get(value, "type")
            fields["output_type"] = "json" if kind in JSON_FORMATS else "text"
        else:
            rest[key] = value
    fields.setdefault("output_type", "text")
    if rest:
        fields["parameters"] = rest


def _prompt_of(messages: Any) -> Any:
    """The prompt of a text completion (litellm hands it over as one user message)."""
    if isinstance(messages, list) and len(messages) == 1 and isinstance(messages[0], dict):
        return messages[0].get("content")
    return messages


def build_fields(
    call_type: str, kwargs: dict[str, Any], response: Any, capture_io: bool, failed: bool
) -> tuple[str, str, dict[str, Any], Any]:
    """Span kind, name, payload fields and envelope input for one litellm call. Pure."""
    model = str(kwargs.get("model") or "")
    provider = str(kwargs.get("custom_llm_provider") or _get(kwargs.get("litellm_params"), "custom_llm_provider") or "")
    fields: dict[str, Any] = {"request_model": model or None}
    if provider:
        fields["provider"] = PROVIDER_NAMES.get(provider, provider)
    cost = kwargs.get("response_cost")
    if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0 and not failed:
        fields["cost_usd"] = float(cost)
    envelope_input: Any = None
    if call_type in EMBEDDING_CALLS:
        inputs = kwargs.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if isinstance(inputs, list):
            fields["input_count"] = len(inputs)
            if capture_io:
                envelope_input = inputs
        data = _get(response, "data") or []
        vector = _get(data[0], "embedding") if data else None
        if isinstance(vector, list):
            fields["dimensions"] = len(vector)
        _usage(response, fields, embedding=True)
        return "embedding", f"embeddings {model}".strip(), fields, envelope_input

    operation = CHAT_CALLS[call_type]
    fields["operation"] = operation
    metadata = _call_metadata(kwargs)
    for key in ("prompt_name", "prompt_version"):
        if metadata.get(key) is not None:
            fields[key] = str(metadata[key])
    fields["streamed"] = bool(kwargs.get("stream"))
    messages = kwargs.get("messages")
    if capture_io and messages is not None:
        if operation == "text_completion":
            fields["prompt"] = _prompt_of(messages)
        else:
            fields["input_messages"] = messages
    optional = kwargs.get("optional_params")
    if isinstance(optional, dict):
        _request_params(optional, fields)
    if response is not None and not failed:
        output, text, reasons = _messages_out(response)
        if capture_io:
            if output and operation == "chat":
                fields["output_messages"] = output
            if text is not None:
                fields["completion"] = text
        if reasons:
            fields["finish_reasons"] = reasons
        response_id = _get(response, "id")
        if isinstance(response_id, str) and response_id:
            fields["response_id"] = response_id
        response_model = _get(response, "model")
        if isinstance(response_model, str) and response_model:
            fields["response_model"] = response_model
        _usage(response, fields, embedding=False)
        if fields["streamed"]:
            first, start = to_ns(kwargs.get("completion_start_time")), to_ns(kwargs.get("start_time"))
            if first is not None and start is not None and first >= start:
                fields["time_to_first_token_ms"] = (first - start) / 1_000_000
    name = metadata.get("generation_name")
    return "generation", str(name) if name else f"{operation} {model}".strip(), fields, envelope_input


def _call_metadata(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The ``metadata`` the app passed to litellm (``prompt_name``, ``prompt_version``, ``generation_name``)."""
    for source in (_get(kwargs.get("litellm_params"), "metadata"), kwargs.get("metadata")):
        if isinstance(source, dict):
            return source
    return {}


# ---------------------------------------------------------------------- the callback


class GlassboxLogger(CustomLogger):
    """litellm callback that turns each call into a span. Use :func:`instrument`, not this class directly."""

    glassbox_logger = True

    def __init__(self, capture_io: bool | None = None, root_spans: bool = True) -> None:
        super().__init__()
        self.capture_io = capture_io
        self.root_spans = root_spans
        self.enabled = True
        self.spans_created = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._parents: collections.OrderedDict[str, Any] = collections.OrderedDict()
        self._finished: collections.OrderedDict[str, None] = collections.OrderedDict()

    # ------------------------------------------------------------------ litellm hooks

    def log_pre_api_call(self, model: Any, messages: Any, kwargs: dict[str, Any]) -> None:
        self._remember(kwargs)

    async def async_log_pre_api_call(self, model: Any, messages: Any, kwargs: dict[str, Any]) -> None:
        self._remember(kwargs)

    def log_success_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=False)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=False)

    def log_failure_event(self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=True)

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._record(kwargs, response_obj, start_time, end_time, failed=True)

    # ------------------------------------------------------------------ bookkeeping

    def disable(self) -> None:
        """Stop recording and forget pending calls (their terminal events may never reach a removed callback)."""
        with self._lock:
            self.enabled = False
            self._parents.clear()
            self._idle.notify_all()

    @property
    def pending(self) -> int:
        """Calls that started (pre-call seen) and have not finished yet."""
        with self._lock:
            return len(self._parents)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every call seen so far has produced its span (litellm logs on background threads).

        True when nothing is pending. Call it before ``glassbox.flush()`` when a test or a short
        script must see every span; an abandoned stream stays pending until the timeout.
        """
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._parents:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def _remember(self, kwargs: dict[str, Any]) -> None:
        """At pre-call, in the caller's context: remember which span the call belongs under."""
        try:
            if not self.enabled:
                return
            call_id = kwargs.get("litellm_call_id")
            if not call_id:
                return
            parent = CURRENT.get()
            with self._lock:
                if call_id in self._parents or call_id in self._finished:
                    return
                self._parents[call_id] = _ROOT if parent is None else parent
                while len(self._parents) > MAX_PENDING_CALLS:
                    self._parents.popitem(last=False)
        except Exception as exc:  # never raise into litellm
            self.errors += 1
            log.debug("litellm.pre_call_failed", error=repr(exc))

    def _take_parent(self, call_id: str | None) -> tuple[bool, Any]:
        """(first terminal event of this call?, its parent or None if pre-call was not seen)."""
        with self._lock:
            if call_id is None:
                return True, None
            if call_id in self._finished:
                return False, None
            self._finished[call_id] = None
            while len(self._finished) > MAX_FINISHED_IDS:
                self._finished.popitem(last=False)
            parent = self._parents.pop(call_id, None)
            if not self._parents:
                self._idle.notify_all()
            return True, parent

    def _record(self, kwargs: dict[str, Any], response: Any, start_time: Any, end_time: Any, failed: bool) -> None:
        try:
            call_id = kwargs.get("litellm_call_id")
            first, parent = self._take_parent(call_id)
            if not first or not self.enabled:
                return
            call_type = str(kwargs.get("call_type") or "")
            if call_type not in CHAT_CALLS and call_type not in EMBEDDING_CALLS:
                return
            client = _client_mod._client or _client_mod.get_client()
            if not client.enabled:
                return
            if parent is None:  # pre-call not seen (failed before the request): we may be on the caller's thread
                parent = CURRENT.get() or _ROOT
            if parent is _ROOT and not self.root_spans:
                return
            capture_io = client.capture_io if self.capture_io is None else self.capture_io
            kind, name, fields, envelope_input = build_fields(call_type, kwargs, response, capture_io, failed)
            if isinstance(parent, Span | RemoteParent):
                span = client.start_span(name, kind, parent=parent)
            else:
                span = client.start_span(name, kind, new_trace=True)
            start_ns = to_ns(kwargs.get("start_time") or start_time)
            if start_ns:
                span.start_ns = start_ns
            span.payload = fields
            if envelope_input is not None:
                span.input = envelope_input
            if call_id:
                span.set_attribute("litellm.call_id", str(call_id))
            if kwargs.get("cache_hit"):
                span.set_attribute("litellm.cache_hit", True)
            if failed:  # success leaves the status unset, as the SDK's decorators do
                _record_error(span, kwargs)
            self.spans_created += 1
            span.end(to_ns(kwargs.get("end_time") or end_time) or time.time_ns())
        except Exception as exc:  # never raise into litellm
            self.errors += 1
            log.debug("litellm.capture_failed", error=repr(exc))


def _record_error(span: Span, kwargs: dict[str, Any]) -> None:
    exc = kwargs.get("exception")
    if isinstance(exc, BaseException):
        span.record_exception(exc)
        span.set_attribute("error.type", type(exc).__name__)
        status = getattr(exc, "status_code", None)
        if isinstance(status, int):
            span.set_attribute("http.response.status_code", status)
    else:
        span.set_status("error", str(exc or kwargs.get("traceback_exception") or "litellm call failed")[:2000])


# ---------------------------------------------------------------------- install / uninstall

_installed: GlassboxLogger | None = None
_install_lock = threading.Lock()


def _callback_lists() -> list[list[Any]]:
    import litellm

    names = ("callbacks", "input_callback", "success_callback", "failure_callback",
             "_async_success_callback", "_async_failure_callback", "_async_input_callback")  # fmt: skip
    return [value for value in (getattr(litellm, n, None) for n in names) if isinstance(value, list)]


def _remove_all() -> None:
    for callbacks in _callback_lists():
        for callback in [c for c in callbacks if getattr(c, "glassbox_logger", False)]:
            try:
                callbacks.remove(callback)
            except ValueError:
                pass


def instrument(
    enabled: bool = True, *, capture_io: bool | None = None, root_spans: bool = True
) -> GlassboxLogger | None:
    """Capture every litellm call from now on; idempotent (a second call only updates the options).

    ``capture_io``: override GLASSBOX_SDK_CAPTURE_IO for litellm calls (None follows the SDK).
    ``root_spans``: record calls made outside any span as traces of their own (default) or skip them.
    ``enabled=False`` is :func:`uninstrument`. Returns the installed callback (None when disabled).
    """
    global _installed
    if not enabled:
        uninstrument()
        return None
    import litellm

    with _install_lock:
        logger = _installed
        if logger is None:
            _remove_all()  # an instance left by a reloaded module must not capture twice
            logger = GlassboxLogger(capture_io=capture_io, root_spans=root_spans)
            _installed = logger
        logger.capture_io = capture_io
        logger.root_spans = root_spans
        logger.enabled = True
        if not any(c is logger for c in litellm.callbacks):
            litellm.callbacks.append(logger)
    return logger


def uninstrument() -> None:
    """Stop capturing litellm calls (removes the callback from every litellm callback list)."""
    global _installed
    with _install_lock:
        if _installed is not None:
            _installed.disable()
        _installed = None
        _remove_all()


def installed() -> GlassboxLogger | None:
    """The active callback, if :func:`instrument` is in effect."""
    return _installed

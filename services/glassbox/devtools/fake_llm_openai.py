"""Pure builders for OpenAI wire-protocol bodies: chat and text completions, stream chunks, embeddings.

Token counts follow the usual ~4 characters per token rule, so usage numbers
look like a real provider's; embedding vectors are unit vectors derived from a
hash of the input, so equal inputs give equal vectors across runs and machines.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

from glassbox.devtools.fake_llm_rules import LLMRequest, ToolCall

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 3
"""Tokens a chat message costs beyond its content (role and separators), as OpenAI counts."""


def count_tokens(text: str) -> int:
    """~4 characters per token; at least 1 for non-empty text."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def content_text(content: Any) -> str:
    """The text of a message content: a string, or the text parts of a content-part list."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return str(content)


def prompt_tokens(request: LLMRequest) -> int:
    """Input tokens of a request: message contents plus per-message overhead, or the prompt/input text."""
    if request.endpoint == "chat":
        total = MESSAGE_OVERHEAD_TOKENS
        for message in request.messages:
            if isinstance(message, dict):
                total += MESSAGE_OVERHEAD_TOKENS + count_tokens(content_text(message.get("content")))
        return total
    return sum(
        count_tokens(t)
        for t in input_texts(request.body.get("prompt" if request.endpoint == "completions" else "input"))
    )


def input_texts(value: Any) -> list[str]:
    """A prompt or embedding input as a list of strings (token-id arrays become their text form)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        if value and all(isinstance(v, int) for v in value):
            return [" ".join(str(v) for v in value)]
        return [v if isinstance(v, str) else " ".join(map(str, v)) if isinstance(v, list) else str(v) for v in value]
    return [str(value)]


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def apply_limits(text: str, body: dict[str, Any]) -> tuple[str, str | None]:
    """Cut ``text`` at the first stop sequence or at max_tokens; the finish reason the cut implies."""
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str) and s]
    reason: str | None = None
    for seq in stops:
        index = text.find(seq)
        if index >= 0:
            text, reason = text[:index], "stop"
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if isinstance(limit, int) and limit > 0 and count_tokens(text) > limit:
        text, reason = text[: limit * CHARS_PER_TOKEN], "length"
    return text, reason


def usage(
    input_tokens: int, output_tokens: int, cached_tokens: int | None = None, reasoning_tokens: int | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    if cached_tokens is not None:
        out["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    if reasoning_tokens is not None:
        out["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return out


def tool_call_dicts(calls: list[ToolCall]) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id or f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments_json},
        }
        for call in calls
    ]


def chat_response(
    response_id: str,
    model: str,
    text: str,
    calls: list[dict[str, Any]],
    finish_reason: str,
    usage_body: dict[str, Any],
) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": response_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_glassbox_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage_body,
    }


def text_response(
    response_id: str, model: str, text: str, finish_reason: str, usage_body: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}],
        "usage": usage_body,
    }


def stream_chunks(
    endpoint: str,
    response_id: str,
    model: str,
    text: str,
    calls: list[dict[str, Any]],
    finish_reason: str,
    chunk_chars: int,
    usage_body: dict[str, Any] | None,
) -> Iterator[dict[str, Any]]:
    """The chunks of a streamed answer: role, content pieces, tool calls, finish reason, then usage if asked."""
    created = int(time.time())
    chat = endpoint == "chat"

    def chunk(choice: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": response_id,
            "object": "chat.completion.chunk" if chat else "text_completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "logprobs": None, "finish_reason": None, **choice}],
        }
        if chat:
            body["system_fingerprint"] = "fp_glassbox_fake"
        return body

    pieces = [text[i : i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    if chat:
        first = pieces[0] if pieces else (None if calls else "")
        yield chunk({"delta": {"role": "assistant", "content": first}})
        for piece in pieces[1:]:
            yield chunk({"delta": {"content": piece}})
        for index, call in enumerate(calls):
            function = call["function"]
            head = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": function["name"], "arguments": ""},
            }
            yield chunk({"delta": {"tool_calls": [head]}})
            args = function["arguments"]
            for i in range(0, len(args), max(chunk_chars, 16)):
                part = {"index": index, "function": {"arguments": args[i : i + max(chunk_chars, 16)]}}
                yield chunk({"delta": {"tool_calls": [part]}})
        yield chunk({"delta": {}, "finish_reason": finish_reason})
    else:
        for piece in pieces or [""]:
            yield chunk({"text": piece})
        yield chunk({"text": "", "finish_reason": finish_reason})
    if usage_body is not None:
        last = chunk({})
        last["choices"] = []
        last["usage"] = usage_body
        yield last


def embedding_vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector of ``dimensions`` floats from the SHA-256 of ``text``."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend(v / 2**31 - 1.0 for v in struct.unpack("<8I", digest))
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 8) for v in values]


def embeddings_response(model: str, texts: list[str], dimensions: int, encoding: str | None) -> dict[str, Any]:
    """An embeddings list; ``encoding='base64'`` packs float32 little-endian as the OpenAI client asks by default."""
    data = []
    for index, text in enumerate(texts):
        vector = embedding_vector(text, dimensions)
        value: Any = vector
        if encoding == "base64":
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = sum(count_tokens(t) for t in texts)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def error_body(status: int, message: str) -> dict[str, Any]:
    """An OpenAI-style error object."""
    kinds = {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_exceeded"}
    kind = kinds.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}

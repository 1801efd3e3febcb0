"""The HTTP side of the fake LLM: parse a request, ask the server's rules, write the answer or the fault."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from glassbox.devtools import fake_llm_openai as wire
from glassbox.devtools.fake_llm_rules import Fault, LLMRequest, Rule

if TYPE_CHECKING:
    from glassbox.devtools.fake_llm import Decision, FakeLLM, _Server

ENDPOINTS = {"/chat/completions": "chat", "/completions": "completions", "/embeddings": "embeddings"}


def build_request(endpoint: str, body: dict[str, Any], headers: dict[str, str]) -> LLMRequest:
    """The rules' view of a decoded request body."""
    model = str(body.get("model") or "")
    system = ""
    if endpoint == "chat":
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        users = [m for m in messages if m.get("role") == "user"]
        last = users[-1] if users else (messages[-1] if messages else {})
        text = wire.content_text(last.get("content"))
        system = "\n".join(
            wire.content_text(m.get("content")) for m in messages if m.get("role") in ("system", "developer")
        )
    else:
        key = "prompt" if endpoint == "completions" else "input"
        text = "\n".join(wire.input_texts(body.get(key)))
    return LLMRequest(endpoint, model, body, text, system, bool(body.get("stream")), headers)


class FakeLLMHandler(BaseHTTPRequestHandler):
    """One connection (HTTP/1.1 keep-alive). Never lets an exception escape into the server loop."""

    protocol_version = "HTTP/1.1"
    server_version = "glassbox-fake-llm/1"
    timeout = 120
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms delayed-ACK stall
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read the server's request log instead."""

    @property
    def fake(self) -> FakeLLM:
        return self.server.fake

    def _sleep(self, seconds: float) -> bool:
        """Wait, waking early when the server stops; False if it stopped."""
        if seconds <= 0:
            return not self.server.stopping.is_set()
        return not self.server.stopping.wait(seconds)

    # ------------------------------------------------------------------ routing

    def do_GET(self) -> None:
        path = self._path()
        if path == "/models":
            models = sorted({r.model for r in self.fake.rules if r.model and "*" not in r.model} | {"fake-model"})
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "glassbox"} for m in models]
            self._json(200, {"object": "list", "data": data})
        elif path in ("/health", "/"):
            self._json(200, {"status": "ok"})
        else:
            self._json(404, wire.error_body(404, f"no route GET {self.path}"))

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
        except (ValueError, OSError):
            self.close_connection = True
            return
        endpoint = ENDPOINTS.get(self._path())
        if endpoint is None:
            self._json(404, wire.error_body(404, f"no route POST {self.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            self._json(400, wire.error_body(400, f"invalid JSON body: {exc}"))
            return
        request = build_request(endpoint, body, {k.lower(): v for k, v in self.headers.items()})
        decision = self.fake.decide(request)
        try:
            self._answer(request, decision)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a reply callable failed: tell the client, like a provider bug would
            decision.record.status = 500
            try:
                self._json(500, wire.error_body(500, f"fake LLM rule {decision.rule.name!r} failed: {exc!r}"))
            except OSError:
                self.close_connection = True

    def _path(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") or path == "/v1" else path

    # ------------------------------------------------------------------ answers

    def _answer(self, request: LLMRequest, decision: Decision) -> None:
        rule, fault = decision.rule, decision.fault
        if not self._sleep(self.fake.latency + rule.delay):
            self.close_connection = True
            return
        if fault is not None and fault.kind in ("status", "hang"):
            self._fault(fault, decision)
            return
        if request.endpoint == "embeddings":
            dims = request.body.get("dimensions")
            dims = dims if isinstance(dims, int) and dims > 0 else self.fake.embedding_dim
            texts = wire.input_texts(request.body.get("input"))
            body = wire.embeddings_response(
                rule.response_model or request.model, texts, dims, request.body.get("encoding_format")
            )
            self._deliver(body, fault, decision)
            return
        text = self.fake.reply_text(rule, request)
        text, limit_reason = wire.apply_limits(text, request.body)
        calls = wire.tool_call_dicts(rule.calls) if request.endpoint == "chat" else []
        finish = rule.finish_reason or ("tool_calls" if calls else limit_reason or "stop")
        usage = self._usage(rule, request, text, calls)
        response_id = wire.new_id("chatcmpl" if request.endpoint == "chat" else "cmpl")
        model = rule.response_model or request.model
        if request.stream:
            options = request.body.get("stream_options")
            include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
            chunks = wire.stream_chunks(
                request.endpoint,
                response_id,
                model,
                text,
                calls,
                finish,
                rule.chunk_chars,
                usage if include_usage else None,
            )
            self._stream(chunks, rule, fault, decision)
            return
        if request.endpoint == "chat":
            body = wire.chat_response(response_id, model, text, calls, finish, usage)
        else:
            body = wire.text_response(response_id, model, text, finish, usage)
        self._deliver(body, fault, decision)

    @staticmethod
    def _usage(rule: Rule, request: LLMRequest, text: str, calls: list[dict[str, Any]]) -> dict[str, Any]:
        input_tokens = rule.input_tokens if rule.input_tokens is not None else wire.prompt_tokens(request)
        output_tokens = rule.output_tokens
        if output_tokens is None:
            output_tokens = wire.count_tokens(text) + sum(
                wire.count_tokens(c["function"]["name"] + c["function"]["arguments"]) for c in calls
            )
            output_tokens += rule.reasoning_tokens or 0
        return wire.usage(input_tokens, output_tokens, rule.cached_tokens, rule.reasoning_tokens)

    def _fault(self, fault: Fault, decision: Decision) -> None:
        if fault.kind == "hang":
            self._sleep(fault.seconds)
            self.close_connection = True
            return
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after)))
            headers["retry-after-ms"] = str(int(fault.retry_after * 1000))
        message = fault.message or f"fake LLM injected HTTP {fault.status}"
        decision.record.status = fault.status
        self._json(fault.status, wire.error_body(fault.status, message), headers)

    def _deliver(self, body: dict[str, Any], fault: Fault | None, decision: Decision) -> None:
        """Send a JSON answer, or its malformed / truncated version when the fault says so."""
        decision.record.status = 200
        data = json.dumps(body).encode()
        if fault is None:
            self._raw(200, data)
        elif fault.kind == "malformed":
            self._raw(200, data[: max(1, len(data) // 2)])
        else:  # truncate: promise the whole body, send half, hang up
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._hang_up()

    def _stream(self, chunks: Iterable[dict[str, Any]], rule: Rule, fault: Fault | None, decision: Decision) -> None:
        decision.record.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        if not self._sleep(rule.ttft):
            self._hang_up()
            return
        for sent, chunk in enumerate(chunks):
            if fault is not None and fault.kind == "truncate" and sent >= fault.after_chunks:
                self._hang_up()
                return
            if sent and not self._sleep(rule.chunk_delay):
                self._hang_up()
                return
            payload = json.dumps(chunk)
            if fault is not None and fault.kind == "malformed":
                payload = payload[: len(payload) // 2]
            self._chunk(f"data: {payload}\n\n".encode())
        if fault is not None and fault.kind == "truncate":
            self._hang_up()
            return
        self._chunk(b"data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    # ------------------------------------------------------------------ low level

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _hang_up(self) -> None:
        import socket

        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._raw(status, json.dumps(body).encode(), headers)

    def _raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

"""A local, deterministic, OpenAI-compatible LLM provider for demos and tests.

It serves real HTTP on 127.0.0.1 (a free port unless one is given) from a
thread per connection, so concurrent requests with latency overlap instead of
queueing. It speaks what litellm's ``openai/...`` provider sends with
``api_base``: ``POST /v1/chat/completions`` (JSON, or SSE chunks ending with
``data: [DONE]``, usage in a last chunk when ``stream_options.include_usage``),
``POST /v1/completions``, ``POST /v1/embeddings`` (float or base64 vectors) and
``GET /v1/models``. Answers come from an ordered list of :class:`Rule`; the
first that matches wins, else the default echo. Faults (429 with Retry-After,
5xx, hangs, malformed JSON, truncated streams) come from a rule or from a
queue of next-N-request faults. Every request is counted (per endpoint, model,
rule, fault) and kept in a bounded log::

    from glassbox.devtools import FakeLLM, Fault, Rule

    with FakeLLM([Rule(contains="capital of France", reply="Paris.")]) as llm:
        litellm.completion(model="openai/fake-model", api_base=llm.base_url, api_key="x", messages=[...])
        llm.fail_next(Fault.rate_limit(retry_after=1), times=2)
        assert llm.count("chat", rule="rule1") == 1

``python -m glassbox.devtools --port 8089 --config rules.yaml`` runs it standalone.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from glassbox.devtools.fake_llm_handler import FakeLLMHandler
from glassbox.devtools.fake_llm_rules import Fault, LLMRequest, Rule, default_reply

__all__ = ["FakeLLM", "Fault", "LLMRequest", "RecordedRequest", "Rule"]

DEFAULT_RULE = "default"
"""Rule name counted when no rule matched."""
QUEUED = "queued"
"""Fault source recorded when the fault came from :meth:`FakeLLM.fail_next`."""


@dataclass(slots=True)
class RecordedRequest:
    """One request in the log: what came in, which rule answered, which fault (if any), the status sent."""

    request: LLMRequest
    rule: str
    fault: str | None
    received_at: float
    status: int | None = None

    @property
    def endpoint(self) -> str:
        return self.request.endpoint

    @property
    def model(self) -> str:
        return self.request.model

    @property
    def body(self) -> dict[str, Any]:
        return self.request.body


@dataclass(frozen=True, slots=True)
class Decision:
    """What the server does with a request: the rule that answers and the fault to produce instead, if any."""

    rule: Rule
    fault: Fault | None
    record: RecordedRequest


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512

    def __init__(self, address: tuple[str, int], fake: FakeLLM) -> None:
        self.fake = fake
        self.stopping = threading.Event()
        self._connections: set[Any] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, FakeLLMHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts, truncation tests) are normal here: stay quiet."""

    def close_connections(self) -> None:
        import socket

        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class FakeLLM:
    """An OpenAI-compatible HTTP server with scripted answers. See the module docstring.

    ``rules``: ordered; the first matching rule answers. ``latency``: seconds added to every request
    (settable while running). ``embedding_dim``: vector size when the request names no ``dimensions``.
    ``default_reply``: text or ``callable(request) -> text`` when no rule matches. ``log_size``: how many
    requests :attr:`requests` keeps.
    """

    def __init__(
        self,
        rules: Iterable[Rule | Mapping[str, Any]] = (),
        *,
        latency: float = 0.0,
        embedding_dim: int = 16,
        default_reply: str | Callable[[LLMRequest], str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        log_size: int = 1000,
    ) -> None:
        self.latency = latency
        self.embedding_dim = embedding_dim
        self.host = host
        self._port = port
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._named = 0
        self._hits: dict[int, int] = {}
        self._faults: collections.deque[tuple[Fault, str | None]] = collections.deque()
        self._counts: collections.Counter[tuple[str, str, str]] = collections.Counter()
        self._fault_counts: collections.Counter[str] = collections.Counter()
        self._log: collections.deque[RecordedRequest] = collections.deque(maxlen=log_size)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._default = Rule(reply=_default_from(default_reply), name=DEFAULT_RULE)
        for rule in rules:
            self.add_rule(rule)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeLLM:
        """Bind and serve from a daemon thread. Returns self."""
        if self._server is not None:
            return self
        server = _Server((self.host, self._port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake any hanging or delayed request and close open connections."""
        server, self._server = self._server, None
        if server is None:
            return
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeLLM is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``url + "/v1"``: what litellm's ``api_base`` (or the OpenAI client's ``base_url``) wants."""
        return f"{self.url}/v1"

    # ------------------------------------------------------------------ rules and faults

    def add_rule(self, rule: Rule | Mapping[str, Any] | None = None, /, *, first: bool = False, **spec: Any) -> Rule:
        """Add a rule (a Rule, a dict, or Rule keyword arguments) after the others, or before them with first=True.

        A rule without a name is named ``rule1``, ``rule2`` ... in the order added.
        """
        if rule is None:
            rule = Rule(**spec)
        elif not isinstance(rule, Rule):
            rule = Rule.from_dict(rule)
        with self._lock:
            if rule.name is None:
                self._named += 1
                rule.name = f"rule{self._named}"
            if first:
                self._rules.insert(0, rule)
            else:
                self._rules.append(rule)
        return rule

    def set_rules(self, rules: Iterable[Rule | Mapping[str, Any]]) -> None:
        """Replace every rule (hit counts of ``times`` rules start again)."""
        self.clear_rules()
        for rule in rules:
            self.add_rule(rule)

    def clear_rules(self) -> None:
        with self._lock:
            self._rules = []
            self._hits.clear()

    @property
    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def fail_next(
        self, fault: Fault | str | int | Mapping[str, Any], times: int = 1, endpoint: str | None = None
    ) -> None:
        """Answer the next ``times`` requests (of ``endpoint`` only, if given) with ``fault``, whatever rule matches."""
        resolved = Fault.from_value(fault)
        with self._lock:
            self._faults.extend([(resolved, endpoint)] * times)

    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    # ------------------------------------------------------------------ counters and log

    def count(self, endpoint: str | None = None, *, model: str | None = None, rule: str | None = None) -> int:
        """Requests received so far (faulted ones included), filtered by endpoint, model and rule name."""
        with self._lock:
            return sum(
                n
                for (e, m, r), n in self._counts.items()
                if (endpoint is None or e == endpoint) and (model is None or m == model) and (rule is None or r == rule)
            )

    @property
    def total(self) -> int:
        return self.count()

    def counts(self) -> dict[str, dict[str, int]]:
        """A snapshot: requests per endpoint, per model, per rule, and faults produced per kind."""
        out: dict[str, dict[str, int]] = {"endpoint": {}, "model": {}, "rule": {}}
        with self._lock:
            for (endpoint, model, rule), n in self._counts.items():
                for key, value in (("endpoint", endpoint), ("model", model), ("rule", rule)):
                    out[key][value] = out[key].get(value, 0) + n
            out["fault"] = dict(self._fault_counts)
        return out

    @property
    def requests(self) -> list[RecordedRequest]:
        """The most recent requests (up to ``log_size``), oldest first."""
        with self._lock:
            return list(self._log)

    def last_request(self, endpoint: str | None = None) -> RecordedRequest | None:
        with self._lock:
            for record in reversed(self._log):
                if endpoint is None or record.endpoint == endpoint:
                    return record
        return None

    def reset(self) -> None:
        """Forget counters, the log, queued faults and ``times`` hit counts (rules stay)."""
        with self._lock:
            self._counts.clear()
            self._fault_counts.clear()
            self._log.clear()
            self._faults.clear()
            self._hits.clear()

    # ------------------------------------------------------------------ used by the handler

    def decide(self, request: LLMRequest) -> Decision:
        """Pick the answering rule and fault for ``request``, and count and log it. Thread-safe."""
        with self._lock:
            chosen = self._default
            for rule in self._rules:
                if rule.times is not None and self._hits.get(id(rule), 0) >= rule.times:
                    continue
                try:
                    matched = rule.matches(request)
                except Exception:
                    matched = False
                if matched:
                    chosen = rule
                    self._hits[id(rule)] = self._hits.get(id(rule), 0) + 1
                    break
            fault = chosen.fault
            for index, (queued, endpoint) in enumerate(self._faults):
                if endpoint is None or endpoint == request.endpoint:
                    del self._faults[index]
                    fault = queued
                    break
            name = chosen.name or DEFAULT_RULE
            self._counts[(request.endpoint, request.model, name)] += 1
            if fault is not None:
                self._fault_counts[fault.label] += 1
            record = RecordedRequest(request, name, fault.label if fault else None, time.time())
            self._log.append(record)
        return Decision(chosen, fault, record)

    def reply_text(self, rule: Rule, request: LLMRequest) -> str:
        return rule.render(request, self._default_text)

    def _default_text(self, request: LLMRequest) -> str:
        return self._default.render(request, default_reply)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FakeLLM:
        """A server from a plain mapping: ``rules`` (list of rule dicts), ``latency``, ``embedding_dim``, ``host``,
        ``port``, ``log_size``, ``default_reply`` (text)."""
        data = dict(config)
        rules = [Rule.from_dict(r) for r in data.pop("rules", None) or []]
        return cls(rules, **data)


def _default_from(value: str | Callable[[LLMRequest], str] | None) -> str | Callable[[LLMRequest], str]:
    return default_reply if value is None else value

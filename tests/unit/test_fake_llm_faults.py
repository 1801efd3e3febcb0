"""Fault injection of the fake LLM over real HTTP: status errors, hangs, malformed and truncated bodies, queues."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from glassbox.devtools import FakeLLM, Fault, Rule


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def chat(llm: FakeLLM, text: str = "hi", timeout: float = 10, **body: Any) -> httpx.Response:
    payload = {"model": "fake-model", "messages": [{"role": "user", "content": text}], **body}
    return httpx.post(f"{llm.base_url}/chat/completions", json=payload, timeout=timeout)


def test_rate_limit_fault_sends_429_with_retry_after(llm: FakeLLM) -> None:
    """A 429 fault answers an OpenAI-style error body with Retry-After (seconds) and retry-after-ms."""
    llm.add_rule(contains="busy", fault=Fault.rate_limit(retry_after=2.5))
    response = chat(llm, "busy?")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "2500"
    assert response.json()["error"]["type"] == "rate_limit_exceeded"
    assert llm.counts()["fault"] == {"http_429": 1}
    assert llm.requests[0].status == 429


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_error_faults(llm: FakeLLM, status: int) -> None:
    """5xx faults answer that status with an error body; the next request (no fault) succeeds."""
    llm.fail_next(status)
    failed = chat(llm)
    assert failed.status_code == status
    assert failed.json()["error"]["message"] == f"fake LLM injected HTTP {status}"
    assert chat(llm).status_code == 200


def test_hang_outlasts_the_client_timeout_and_stop_wakes_it() -> None:
    """A hang fault never answers: the client times out; stopping the server releases the hanging handler."""
    llm = FakeLLM([Rule(fault=Fault.hang(seconds=30))]).start()
    try:
        start = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            chat(llm, timeout=0.3)
        assert time.monotonic() - start < 2
        assert llm.counts()["fault"] == {"hang": 1}
    finally:
        stopping = time.monotonic()
        llm.stop()
    assert time.monotonic() - stopping < 2


def test_malformed_fault_returns_200_with_a_body_that_is_not_json(llm: FakeLLM) -> None:
    """A malformed fault answers 200 application/json whose body does not parse."""
    llm.fail_next(Fault.malformed())
    response = chat(llm)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


def test_truncated_stream_closes_without_done(llm: FakeLLM) -> None:
    """A truncate fault on a stream sends after_chunks chunks, then drops the connection without [DONE]."""
    llm.add_rule(reply="a long answer that will not arrive whole", chunk_chars=4, fault=Fault.truncated(after_chunks=2))
    payload = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}
    received: list[str] = []

    def read_stream() -> None:
        with httpx.stream("POST", f"{llm.base_url}/chat/completions", json=payload) as response:
            received.extend(line for line in response.iter_lines() if line.startswith("data: "))

    with pytest.raises(httpx.RemoteProtocolError):
        read_stream()
    assert len(received) == 2
    assert "data: [DONE]" not in received


def test_truncated_json_body_is_cut_mid_way(llm: FakeLLM) -> None:
    """A truncate fault on a non-streamed answer promises the full Content-Length and hangs up half way."""
    llm.fail_next("truncate")
    with pytest.raises(httpx.RemoteProtocolError):
        chat(llm)


def test_fault_queue_applies_to_the_next_n_requests_of_an_endpoint(llm: FakeLLM) -> None:
    """fail_next(fault, times, endpoint) consumes one queued fault per matching request, in order."""
    llm.fail_next(Fault.rate_limit(0), times=2, endpoint="chat")
    llm.fail_next(503, endpoint="embeddings")
    assert llm.pending_faults() == 3
    embed = httpx.post(f"{llm.base_url}/embeddings", json={"model": "e", "input": "x"})
    assert embed.status_code == 503
    assert [chat(llm).status_code for _ in range(3)] == [429, 429, 200]
    assert llm.pending_faults() == 0
    assert llm.counts()["fault"] == {"http_429": 2, "http_503": 1}
    assert [r.fault for r in llm.requests] == ["http_503", "http_429", "http_429", None]


def test_fail_twice_then_succeed_with_a_limited_rule(llm: FakeLLM) -> None:
    """A faulting rule with times=2 followed by a normal rule models a provider that recovers."""
    llm.add_rule(fault=Fault.server_error(502), times=2, name="flaky")
    llm.add_rule(reply="recovered", name="ok")
    statuses = [chat(llm).status_code for _ in range(3)]
    assert statuses == [502, 502, 200]
    assert llm.count(rule="flaky") == 2
    assert llm.count(rule="ok") == 1


def test_global_latency_applies_to_every_request(llm: FakeLLM) -> None:
    """latency adds a fixed delay to each request and can change while the server runs."""
    llm.latency = 0.2
    start = time.monotonic()
    assert chat(llm).status_code == 200
    assert time.monotonic() - start >= 0.2
    llm.latency = 0.0
    start = time.monotonic()
    chat(llm)
    assert time.monotonic() - start < 0.2


def test_failing_reply_callable_answers_500_naming_the_rule(llm: FakeLLM) -> None:
    """A reply callable that raises becomes an HTTP 500 naming the rule; the server keeps serving."""

    def broken(_request: object) -> str:
        raise RuntimeError("bad verdict")

    llm.add_rule(contains="judge", reply=broken, name="judge")
    response = chat(llm, "judge this")
    assert response.status_code == 500
    assert "judge" in response.json()["error"]["message"]
    assert chat(llm, "other").status_code == 200


def test_stop_closes_idle_keep_alive_connections() -> None:
    """stop() returns promptly even while a client holds a keep-alive connection open."""
    llm = FakeLLM().start()
    client = httpx.Client()
    try:
        assert client.post(f"{llm.base_url}/chat/completions", json={"model": "m", "messages": []}).status_code == 200
        before = threading.active_count()
        start = time.monotonic()
        llm.stop()
        assert time.monotonic() - start < 2
        time.sleep(0.2)
        assert threading.active_count() < before
    finally:
        client.close()

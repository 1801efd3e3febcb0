"""The fake OpenAI-compatible provider over real HTTP: protocol, rules, counters and concurrency."""

from __future__ import annotations

import base64
import json
import math
import struct
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from glassbox.devtools import FakeLLM, LLMRequest, Rule, ToolCall


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM() as server:
        yield server


def chat(llm: FakeLLM, text: str, **body: Any) -> httpx.Response:
    payload = {"model": body.pop("model", "fake-model"), "messages": [{"role": "user", "content": text}], **body}
    return httpx.post(f"{llm.base_url}/chat/completions", json=payload, timeout=10)


def sse_events(response_text: str) -> list[str]:
    return [line[len("data: ") :] for line in response_text.split("\n\n") if line.startswith("data: ")]


def test_chat_answers_from_the_first_matching_rule_with_realistic_usage(llm: FakeLLM) -> None:
    """A substring rule answers a matching chat request; usage counts ~4 characters per token, model is echoed."""
    llm.add_rule(contains="capital of france", reply="Paris is the capital of France.")
    llm.add_rule(contains="capital", reply="I do not know.")
    response = chat(llm, "What is the CAPITAL of France?", model="gpt-fake")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "gpt-fake"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Paris is the capital of France."}
    assert choice["finish_reason"] == "stop"
    # 3 (priming) + 3 (message) + ceil(30 / 4) = 14 prompt tokens; ceil(31 / 4) = 8 completion tokens
    assert body["usage"] == {"prompt_tokens": 14, "completion_tokens": 8, "total_tokens": 22}


def test_matchers_regex_system_model_endpoint_and_predicate_must_all_hold(llm: FakeLLM) -> None:
    """Each matcher narrows a rule: regex on the user text, system substring, model glob, endpoint, predicate."""
    llm.add_rule(regex=r"\bscore\b \d+", system="judge", model="judge-*", reply='{"verdict": "pass"}', name="judge")
    llm.add_rule(when=lambda r: r.body.get("temperature") == 0.7, reply="warm", name="warm")
    judge_request = {
        "model": "judge-v1",
        "messages": [{"role": "system", "content": "You are a strict JUDGE."}, {"role": "user", "content": "score 3"}],
    }
    url = f"{llm.base_url}/chat/completions"
    assert httpx.post(url, json=judge_request).json()["choices"][0]["message"]["content"] == '{"verdict": "pass"}'
    wrong_model = {**judge_request, "model": "other"}
    assert httpx.post(url, json=wrong_model).json()["choices"][0]["message"]["content"] == "Echo: score 3"
    assert chat(llm, "hello", temperature=0.7).json()["choices"][0]["message"]["content"] == "warm"
    assert llm.count(rule="judge") == 1
    assert llm.count(rule="warm") == 1
    assert llm.count(rule="default") == 1


def test_callable_reply_receives_the_parsed_request(llm: FakeLLM) -> None:
    """A reply callable gets the LLMRequest (endpoint, model, last user text, system prompt, body)."""
    seen: list[LLMRequest] = []

    def reply(request: LLMRequest) -> str:
        seen.append(request)
        return request.text.upper()

    llm.add_rule(reply=reply)
    body = {
        "model": "m1",
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "x"},
            {"role": "user", "content": [{"type": "text", "text": "last one"}]},
        ],
    }
    answer = httpx.post(f"{llm.base_url}/chat/completions", json=body).json()
    assert answer["choices"][0]["message"]["content"] == "LAST ONE"
    request = seen[0]
    assert (request.endpoint, request.model, request.text, request.system, request.stream) == (
        "chat",
        "m1",
        "last one",
        "sys",
        False,
    )


def test_default_reply_echoes_and_returns_json_when_json_is_requested(llm: FakeLLM) -> None:
    """Without rules the server echoes the user text; with a JSON response_format it answers a JSON object."""
    assert chat(llm, "ping").json()["choices"][0]["message"]["content"] == "Echo: ping"
    content = chat(llm, "ping", response_format={"type": "json_object"}).json()["choices"][0]["message"]["content"]
    assert json.loads(content) == {"answer": "Echo: ping"}


def test_stream_sends_role_content_finish_and_done_with_usage_only_when_asked(llm: FakeLLM) -> None:
    """A streamed answer is SSE chunks whose deltas rebuild the reply, a finish chunk, then data: [DONE]."""
    llm.add_rule(reply="The quick brown fox jumps.", chunk_chars=5)
    response = chat(llm, "go", stream=True)
    assert response.headers["content-type"] == "text/event-stream"
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "The quick brown fox jumps."
    assert len(chunks) == 6 + 1  # 26 characters in 5-character pieces, then the finish chunk
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert all("usage" not in c for c in chunks)

    with_usage = [
        json.loads(e)
        for e in sse_events(chat(llm, "go", stream=True, stream_options={"include_usage": True}).text)[:-1]
    ]
    assert with_usage[-1]["choices"] == []
    assert with_usage[-1]["usage"]["completion_tokens"] == 7


def test_stream_waits_ttft_before_the_first_chunk(llm: FakeLLM) -> None:
    """ttft delays the first chunk after the response headers; chunk_delay spaces the following ones."""
    llm.add_rule(reply="abcdefgh", ttft=0.3, chunk_chars=4, chunk_delay=0.1)
    start = time.monotonic()
    arrivals: list[float] = []
    with httpx.stream(
        "POST",
        f"{llm.base_url}/chat/completions",
        json={"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]},
    ) as response:
        headers_at = time.monotonic() - start
        for line in response.iter_lines():
            if line.startswith("data: {"):
                arrivals.append(time.monotonic() - start)
    assert arrivals[0] >= 0.3
    assert arrivals[0] - headers_at >= 0.25  # the delay is after the headers, before the first chunk
    # Two more chunks, 0.1 s apart (0.2 s). A first chunk read late under load shortens the gap seen here,
    # so the check allows 50 ms of it; with no chunk_delay the gap is a few milliseconds.
    assert arrivals[-1] - arrivals[0] >= 0.15


def test_tool_calls_in_json_and_in_stream(llm: FakeLLM) -> None:
    """A rule with tool_calls answers an assistant message with tool_calls and finish_reason tool_calls."""
    llm.add_rule(contains="weather", tool_calls=[ToolCall("get_weather", {"city": "Paris"}, id="call_1")])
    message = chat(llm, "weather in Paris?").json()["choices"][0]
    assert message["finish_reason"] == "tool_calls"
    assert message["message"]["content"] is None
    assert message["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    ]
    chunks = [json.loads(e) for e in sse_events(chat(llm, "weather?", stream=True).text)[:-1]]
    deltas = [c["choices"][0]["delta"].get("tool_calls") for c in chunks]
    parts = [d[0] for d in deltas if d]
    assert parts[0]["function"]["name"] == "get_weather"
    assert "".join(p["function"]["arguments"] for p in parts) == '{"city": "Paris"}'
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_max_tokens_cuts_with_length_and_stop_sequences_cut_with_stop(llm: FakeLLM) -> None:
    """max_tokens truncates the reply (finish_reason length); a stop sequence ends it before the sequence."""
    llm.add_rule(reply="one two three four five six seven eight")
    cut = chat(llm, "x", max_tokens=2).json()["choices"][0]
    assert (cut["message"]["content"], cut["finish_reason"]) == ("one two ", "length")
    stopped = chat(llm, "x", stop=["four"]).json()["choices"][0]
    assert (stopped["message"]["content"], stopped["finish_reason"]) == ("one two three ", "stop")


def test_text_completions_endpoint(llm: FakeLLM) -> None:
    """POST /v1/completions answers a text_completion with choices[].text, plain and streamed."""
    llm.add_rule(endpoint="completions", contains="once upon", reply=" a time")
    body = httpx.post(f"{llm.base_url}/completions", json={"model": "m", "prompt": "Once upon"}).json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"] == " a time"
    assert body["usage"]["prompt_tokens"] == 3
    streamed = httpx.post(f"{llm.base_url}/completions", json={"model": "m", "prompt": "Once upon", "stream": True})
    chunks = [json.loads(e) for e in sse_events(streamed.text)[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == " a time"


def test_embeddings_are_deterministic_unit_vectors_in_float_or_base64(llm: FakeLLM) -> None:
    """Equal inputs give equal unit vectors; dimensions come from the request or the server; base64 is float32."""
    url = f"{llm.base_url}/embeddings"
    first = httpx.post(url, json={"model": "e", "input": ["alpha", "beta"]}).json()
    again = httpx.post(url, json={"model": "e", "input": "alpha"}).json()
    vectors = [d["embedding"] for d in first["data"]]
    assert len(vectors[0]) == 16
    assert vectors[0] == again["data"][0]["embedding"]
    assert vectors[0] != vectors[1]
    assert math.isclose(math.sqrt(sum(v * v for v in vectors[0])), 1.0, rel_tol=1e-6)
    assert first["usage"] == {"prompt_tokens": 3, "total_tokens": 3}  # ceil(5/4) + ceil(4/4)
    packed = httpx.post(url, json={"model": "e", "input": "alpha", "dimensions": 4, "encoding_format": "base64"}).json()
    decoded = struct.unpack("<4f", base64.b64decode(packed["data"][0]["embedding"]))
    assert len(decoded) == 4
    assert math.isclose(math.sqrt(sum(v * v for v in decoded)), 1.0, rel_tol=1e-5)


def test_models_listing_and_unknown_routes(llm: FakeLLM) -> None:
    """GET /v1/models lists fake-model plus models named by rules; unknown routes are 404, bad JSON 400."""
    llm.add_rule(model="judge-v1", reply="ok")
    ids = [m["id"] for m in httpx.get(f"{llm.base_url}/models").json()["data"]]
    assert ids == ["fake-model", "judge-v1"]
    assert httpx.post(f"{llm.base_url}/nope", json={}).status_code == 404
    bad = httpx.post(
        f"{llm.base_url}/chat/completions", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.status_code == 400
    assert "invalid JSON" in bad.json()["error"]["message"]


def test_rule_with_times_answers_n_requests_then_falls_through(llm: FakeLLM) -> None:
    """times=N: the rule answers N matching requests, later ones go to the next rule."""
    llm.add_rule(reply="first two", times=2, name="limited")
    answers = [chat(llm, "x").json()["choices"][0]["message"]["content"] for _ in range(3)]
    assert answers == ["first two", "first two", "Echo: x"]
    assert llm.counts()["rule"] == {"limited": 2, "default": 1}


def test_counters_and_bounded_request_log() -> None:
    """Requests are counted per endpoint, model and rule; the log keeps the last log_size with their status."""
    with FakeLLM([Rule(model="judge", reply="ok", name="judge")], log_size=3) as llm:
        for model in ("judge", "judge", "other", "other"):
            chat(llm, "x", model=model)
        httpx.post(f"{llm.base_url}/embeddings", json={"model": "emb", "input": "x"})
        assert llm.count() == llm.total == 5
        assert llm.count("chat") == 4
        assert llm.count("chat", model="judge") == 2
        assert llm.count(rule="judge") == 2
        assert llm.count("embeddings", rule="default") == 1
        assert llm.counts() == {
            "endpoint": {"chat": 4, "embeddings": 1},
            "model": {"judge": 2, "other": 2, "emb": 1},
            "rule": {"judge": 2, "default": 3},
            "fault": {},
        }
        log = llm.requests
        assert [(r.endpoint, r.model, r.status) for r in log] == [
            ("chat", "other", 200),
            ("chat", "other", 200),
            ("embeddings", "emb", 200),
        ]
        last_chat = llm.last_request("chat")
        assert last_chat is not None
        assert last_chat.body["messages"][0]["content"] == "x"
        llm.reset()
        assert llm.total == 0
        assert llm.requests == []


def test_concurrent_requests_overlap_instead_of_queueing() -> None:
    """64 concurrent requests with 200 ms latency each finish in well under the 12.8 s a serial server needs."""
    with FakeLLM(latency=0.2) as llm, httpx.Client(limits=httpx.Limits(max_connections=100), timeout=10) as client:
        barrier = threading.Barrier(64)

        def call(i: int) -> int:
            barrier.wait()
            body = {"model": "m", "messages": [{"role": "user", "content": str(i)}]}
            return client.post(f"{llm.base_url}/chat/completions", json=body).status_code

        with ThreadPoolExecutor(64) as pool:
            start = time.monotonic()
            statuses = list(pool.map(call, range(64)))
            elapsed = time.monotonic() - start
    assert statuses == [200] * 64
    assert 0.2 <= elapsed < 2.5  # a serial server needs 64 x 0.2 s
    assert llm.count() == 64


def test_openai_client_speaks_to_it() -> None:
    """The official OpenAI client (what litellm uses) parses chat, streams and base64 embeddings from the fake."""
    import openai

    with FakeLLM([Rule(contains="hi", reply="Hello there!")], embedding_dim=8) as llm:
        client = openai.OpenAI(base_url=llm.base_url, api_key="x", max_retries=0)
        completion = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}])
        assert completion.choices[0].message.content == "Hello there!"
        assert completion.usage is not None
        assert completion.usage.completion_tokens == 3
        stream = client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage = [], None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces.append(chunk.choices[0].delta.content)
            usage = chunk.usage or usage
        assert "".join(pieces) == "Hello there!"
        assert usage is not None
        assert usage.total_tokens == usage.prompt_tokens + 3
        embedding = client.embeddings.create(model="fake-embed", input="hi")  # the client asks for base64
        assert len(embedding.data[0].embedding) == 8
        assert llm.count("embeddings") == 1

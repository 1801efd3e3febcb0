"""litellm's ``openai/...`` provider against the fake LLM over real HTTP: answers, streams, embeddings, faults."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from glassbox.devtools import FakeLLM, Fault, LLMRequest, Rule, ToolCall
from tests.support.fake_llm import litellm_module_fixture  # noqa: F401

USER = [{"role": "user", "content": "What is the capital of France?"}]
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    with FakeLLM([Rule(contains="capital of france", reply="Paris.", name="capital")], embedding_dim=12) as server:
        yield server


def options(llm: FakeLLM, **extra: Any) -> dict[str, Any]:
    return {"api_base": llm.base_url, "api_key": "x", "num_retries": 0, **extra}


def test_completion_returns_the_rule_answer_and_usage(litellm_module: Any, llm: FakeLLM) -> None:
    """litellm.completion gets the rule's answer, the provider's usage and the echoed model."""
    response = litellm_module.completion(model="openai/fake-model", messages=USER, **options(llm))
    assert response.choices[0].message.content == "Paris."
    assert response.choices[0].finish_reason == "stop"
    assert response.model == "fake-model"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (14, 2)
    assert llm.count("chat", model="fake-model", rule="capital") == 1


def test_streamed_completion_arrives_in_chunks_after_ttft(litellm_module: Any, llm: FakeLLM) -> None:
    """stream=True yields the reply in chunk_chars pieces; the first content arrives after the rule's ttft."""
    story = "Once upon a time there was a fake model."
    llm.add_rule(contains="story", reply=story, ttft=0.25, chunk_chars=6, first=True)
    start = time.monotonic()
    stream = litellm_module.completion(
        model="openai/fake-model", messages=[{"role": "user", "content": "a story"}], stream=True, **options(llm)
    )
    pieces: list[str] = []
    first_at: float | None = None
    for chunk in stream:
        content = chunk.choices[0].delta.content if chunk.choices else None
        if content:
            first_at = first_at or time.monotonic() - start
            pieces.append(content)
    assert "".join(pieces) == story
    assert len(pieces) == 7
    assert first_at is not None
    assert first_at >= 0.25


async def test_acompletion_and_async_stream(litellm_module: Any, llm: FakeLLM) -> None:
    """acompletion and an async stream get the same answers as the sync calls."""
    response = await litellm_module.acompletion(model="openai/fake-model", messages=USER, **options(llm))
    assert response.choices[0].message.content == "Paris."
    stream = await litellm_module.acompletion(model="openai/fake-model", messages=USER, stream=True, **options(llm))
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Paris."
    assert llm.count("chat") == 2


def test_embedding_vectors_are_deterministic(litellm_module: Any, llm: FakeLLM) -> None:
    """litellm.embedding gets one vector per input, of the server's dimension, equal for equal inputs."""
    first = litellm_module.embedding(model="openai/fake-embed", input=["alpha", "beta"], **options(llm))
    again = litellm_module.embedding(model="openai/fake-embed", input=["alpha"], **options(llm))
    vectors = [item["embedding"] for item in first.data]
    assert [len(v) for v in vectors] == [12, 12]
    assert again.data[0]["embedding"] == vectors[0]
    assert vectors[0] != vectors[1]
    assert llm.count("embeddings", model="fake-embed") == 2


def test_tool_calls_reach_litellm(litellm_module: Any, llm: FakeLLM) -> None:
    """A rule's tool call comes back as litellm tool_calls with JSON arguments and finish_reason tool_calls."""
    llm.add_rule(contains="weather", tool_calls=[ToolCall("get_weather", {"city": "Paris"})], first=True)
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    response = litellm_module.completion(
        model="openai/fake-model",
        messages=[{"role": "user", "content": "weather in Paris"}],
        tools=tools,
        **options(llm),
    )
    call = response.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    assert response.choices[0].finish_reason == "tool_calls"
    assert llm.last_request("chat").body["tools"] == tools  # type: ignore[union-attr]


def test_rate_limit_and_server_errors_surface_as_litellm_exceptions(litellm_module: Any, llm: FakeLLM) -> None:
    """A 429 fault raises litellm.RateLimitError, a 503 raises ServiceUnavailableError; each is one request."""
    llm.fail_next(Fault.rate_limit(retry_after=0))
    with pytest.raises(litellm_module.RateLimitError):
        litellm_module.completion(model="openai/fake-model", messages=USER, **options(llm))
    llm.fail_next(503)
    with pytest.raises(litellm_module.ServiceUnavailableError):
        litellm_module.completion(model="openai/fake-model", messages=USER, **options(llm))
    assert llm.counts()["fault"] == {"http_429": 1, "http_503": 1}
    assert llm.count("chat") == 2


def test_hang_becomes_a_litellm_timeout(litellm_module: Any, llm: FakeLLM) -> None:
    """A hang longer than the call's timeout raises litellm.Timeout after about that timeout."""
    llm.fail_next(Fault.hang(seconds=10))
    start = time.monotonic()
    with pytest.raises(litellm_module.Timeout):
        litellm_module.completion(model="openai/fake-model", messages=USER, **options(llm, timeout=0.4))
    assert 0.4 <= time.monotonic() - start < 3


def test_malformed_json_and_truncated_stream_raise(litellm_module: Any, llm: FakeLLM) -> None:
    """A malformed body and a stream cut before [DONE] both fail the call instead of returning garbage."""
    llm.fail_next(Fault.malformed())
    with pytest.raises(litellm_module.InternalServerError, match=r"(?i)unterminated|expecting"):
        litellm_module.completion(model="openai/fake-model", messages=USER, **options(llm))
    llm.add_rule(contains="long", reply="x" * 200, chunk_chars=10, fault=Fault.truncated(after_chunks=3), first=True)
    stream = litellm_module.completion(
        model="openai/fake-model", messages=[{"role": "user", "content": "long"}], stream=True, **options(llm)
    )
    with pytest.raises(Exception, match=r"(?i)connection|incomplete|peer closed"):
        list(stream)


def test_counters_show_a_cached_verdict_did_not_call_the_judge_again(litellm_module: Any, llm: FakeLLM) -> None:
    """The judge pattern: a JSON verdict rule keyed on the system prompt, counted per rule."""

    def verdict(request: LLMRequest) -> str:
        return json.dumps({"score": 1 if "Paris" in request.text else 0})

    llm.add_rule(system="you are a judge", reply=verdict, name="judge", first=True)
    messages = [{"role": "system", "content": "You are a judge."}, {"role": "user", "content": "Answer: Paris"}]
    cache: dict[str, Any] = {}
    for _ in range(3):
        key = json.dumps(messages)
        if key not in cache:
            response = litellm_module.completion(
                model="openai/judge",
                messages=messages,
                response_format={"type": "json_object"},
                **options(llm),
            )
            cache[key] = json.loads(response.choices[0].message.content)
    assert cache[json.dumps(messages)] == {"score": 1}
    assert llm.count(rule="judge") == 1
    assert llm.last_request().body["response_format"] == {"type": "json_object"}  # type: ignore[union-attr]

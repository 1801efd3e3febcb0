"""glassbox.instrument_litellm(): litellm calls against the fake LLM become spans on a real Tansu spans topic.

Each test gets its own topic prefix and SDK client, runs litellm calls inside ``@glassbox.trace``d
functions, and reads the spans topic back with aiokafka. Every event is validated against the
checked-in JSON Schema and the pydantic contract.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import glassbox
from glassbox.common.kafka import ensure_topics
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.devtools import FakeLLM, Fault, Rule
from glassbox.devtools.fake_llm_openai import count_tokens
from glassbox.embedded.broker import EmbeddedBroker
from glassbox.models.topics import SPANS
from glassbox.sdk import litellm as capture_mod
from tests.support.fake_llm import litellm_module_fixture  # noqa: F401
from tests.support.kafka import consume_span_events, spans_topic, validate_span_event

Event = dict[str, Any]
pytestmark = pytest.mark.filterwarnings("ignore:.*ReadOnly.*:UserWarning")

STORY = "Once upon a time, a fake model streamed its answer."
PRICES = {
    "openai/fake-priced": {
        "input_cost_per_token": 1e-6,
        "output_cost_per_token": 2e-6,
        "litellm_provider": "openai",
        "mode": "chat",
    },
    "openai/fake-embed-priced": {
        "input_cost_per_token": 1e-7,
        "output_cost_per_token": 0.0,
        "litellm_provider": "openai",
        "mode": "embedding",
    },
}


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLLM]:
    rules = [
        Rule(contains="capital of france", reply="Paris is the capital of France.", name="capital"),
        Rule(contains="story", reply=STORY, ttft=0.3, chunk_chars=5, name="story"),
        Rule(contains="cached", reply="From cache.", cached_tokens=6, reasoning_tokens=4, name="cached"),
        Rule(contains="overloaded", fault=Fault.server_error(500), name="down"),
        Rule(contains="too fast", fault=Fault.rate_limit(retry_after=0), name="limited"),
        Rule(contains="hang", fault=Fault.hang(seconds=10), name="hang"),
    ]
    with FakeLLM(rules, embedding_dim=12) as server:
        yield server


@pytest.fixture(scope="module")
def capture(litellm_module: Any) -> Iterator[capture_mod.GlassboxLogger]:
    litellm_module.register_model(PRICES)
    logger = glassbox.instrument_litellm()
    assert isinstance(logger, capture_mod.GlassboxLogger)
    yield logger
    capture_mod.uninstrument()


@dataclass
class Tracing:
    servers: str
    prefix: str
    topic: str
    logger: capture_mod.GlassboxLogger

    def init(self, **overrides: Any) -> None:
        glassbox.init(
            kafka_bootstrap_servers=self.servers,
            kafka_topic_prefix=self.prefix,
            service_name="litellm-capture-test",
            **overrides,
        )

    def active_logger(self) -> capture_mod.GlassboxLogger:
        return capture_mod.installed() or self.logger

    def collect(self, expected: int, settle: float = 0.0) -> list[Event]:
        """Wait for litellm's background callbacks, flush the SDK, read ``expected`` events and validate them."""
        assert self.active_logger().wait_idle(10)
        assert glassbox.flush(10)
        return self._validated(
            asyncio.run(consume_span_events(self.servers, self.topic, expected=expected, settle=settle)), expected
        )

    async def acollect(self, expected: int) -> list[Event]:
        assert await asyncio.to_thread(self.active_logger().wait_idle, 10)
        assert await asyncio.to_thread(glassbox.flush, 10)
        return self._validated(await consume_span_events(self.servers, self.topic, expected=expected), expected)

    @staticmethod
    def _validated(events: list[Event], expected: int) -> list[Event]:
        assert len(events) == expected, [e["name"] for e in events]
        for event in events:
            validate_span_event(event)
        return events


@pytest.fixture
def tracing(broker: EmbeddedBroker, unique: str, capture: capture_mod.GlassboxLogger) -> Iterator[Tracing]:
    prefix = f"t{unique}."
    ensure_topics(
        KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_prefix=prefix), PipelineSettings(), (SPANS,)
    )
    tracing = Tracing(broker.bootstrap_servers, prefix, spans_topic(prefix), capture)
    tracing.init()
    yield tracing
    glassbox.shutdown(5)


def options(llm: FakeLLM, **extra: Any) -> dict[str, Any]:
    return {"api_base": llm.base_url, "api_key": "x", "num_retries": 0, **extra}


def one(events: list[Event], **match: Any) -> Event:
    found = [e for e in events if all(e.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (match, [e["name"] for e in events])
    return found[0]


STREAM_END_SLACK_NS = 100_000_000
"""litellm stamps a sync stream's end when its logging thread assembles the response, just after the last chunk."""


def assert_nested(child: Event, parent: Event) -> None:
    """child is a direct child of parent, and litellm's start/end times lie within the parent's."""
    assert child["trace_id"] == parent["trace_id"]
    assert child["parent_span_id"] == parent["span_id"]
    assert parent["start_time_unix_nano"] <= child["start_time_unix_nano"] <= child["end_time_unix_nano"]
    slack = STREAM_END_SLACK_NS if child.get("payload", {}).get("glassbox.response.streamed") else 0
    assert child["end_time_unix_nano"] <= parent["end_time_unix_nano"] + slack


def test_completion_is_a_generation_span_under_the_caller(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """A sync completion inside a trace becomes a generation child with model, params, messages, tokens and cost."""
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]

    @glassbox.trace("ask", user_id="u-7")
    def ask() -> Any:
        return litellm_module.completion(
            model="openai/fake-priced",
            messages=messages,
            temperature=0.2,
            top_p=0.9,
            max_tokens=64,
            seed=7,
            stop=["\n\n"],
            response_format={"type": "json_object"},
            tools=tools,
            tool_choice="auto",
            **options(llm),
        )

    response = ask()
    events = tracing.collect(2)
    root, gen = one(events, name="ask"), one(events, kind="generation")
    assert_nested(gen, root)
    assert gen["name"] == "chat fake-priced"
    assert gen["status"] == {"code": "unset"}
    assert gen["user_id"] == "u-7"
    assert gen["resource"]["service.name"] == "litellm-capture-test"
    payload = gen["payload"]
    assert payload["gen_ai.operation.name"] == "chat"
    assert payload["gen_ai.provider.name"] == "openai"
    assert payload["gen_ai.request.model"] == "fake-priced"
    assert payload["gen_ai.response.model"] == "fake-priced"
    assert payload["gen_ai.response.id"] == response.id
    assert payload["gen_ai.input.messages"] == messages
    assert payload["glassbox.completion"] == "Paris is the capital of France."
    assert payload["gen_ai.output.messages"] == [
        {"role": "assistant", "content": "Paris is the capital of France.", "finish_reason": "stop"}
    ]
    assert payload["gen_ai.response.finish_reasons"] == ["stop"]
    assert payload["gen_ai.request.temperature"] == 0.2
    assert payload["gen_ai.request.top_p"] == 0.9
    assert payload["gen_ai.request.max_tokens"] == 64
    assert payload["gen_ai.request.seed"] == 7
    assert payload["gen_ai.request.stop_sequences"] == ["\n\n"]
    assert payload["glassbox.request.response_format"] == {"type": "json_object"}
    assert payload["gen_ai.output.type"] == "json"
    assert payload["gen_ai.tool.definitions"] == tools
    assert payload["glassbox.request.parameters"] == {"tool_choice": "auto"}
    assert payload["glassbox.response.streamed"] is False
    # system 15 chars, user 30 chars, answer 31 chars at ~4 chars per token, 3 tokens per message + 3
    assert (payload["gen_ai.usage.input_tokens"], payload["gen_ai.usage.output_tokens"]) == (21, 8)
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (21, 8)
    assert payload["glassbox.usage.cost_usd"] == pytest.approx(21 * 1e-6 + 8 * 2e-6)
    assert gen["attributes"]["litellm.call_id"]


def test_streamed_completion_records_ttft(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """A sync stream becomes one generation span, streamed, with TTFT >= the provider's first-token delay."""

    @glassbox.trace("storyteller")
    def tell() -> str:
        stream = litellm_module.completion(
            model="openai/fake-model",
            messages=[{"role": "user", "content": "tell me a story"}],
            stream=True,
            stream_options={"include_usage": True},
            **options(llm),
        )
        return "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert tell() == STORY
    events = tracing.collect(2)
    root, gen = one(events, name="storyteller"), one(events, kind="generation")
    assert_nested(gen, root)
    payload = gen["payload"]
    assert payload["glassbox.response.streamed"] is True
    assert payload["glassbox.response.time_to_first_token_ms"] >= 300
    assert (
        payload["glassbox.response.time_to_first_token_ms"]
        <= (gen["end_time_unix_nano"] - gen["start_time_unix_nano"]) / 1e6
    )
    assert payload["glassbox.completion"] == STORY
    assert payload["gen_ai.usage.output_tokens"] == count_tokens(STORY)
    assert payload["gen_ai.response.finish_reasons"] == ["stop"]
    assert "glassbox.request.parameters" not in payload  # stream and stream_options are not model parameters


async def test_async_calls_nest_under_the_async_trace(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """acompletion, an async stream and aembedding inside an async trace are children of that trace's span."""

    @glassbox.trace("async-app")
    async def app() -> None:
        await litellm_module.acompletion(
            model="openai/fake-model", messages=[{"role": "user", "content": "use the cached prompt"}], **options(llm)
        )
        stream = await litellm_module.acompletion(
            model="openai/fake-model",
            messages=[{"role": "user", "content": "another story"}],
            stream=True,
            **options(llm),
        )
        async for _ in stream:
            pass
        await litellm_module.aembedding(model="openai/fake-embed", input="embed me", **options(llm))

    await app()
    events = await tracing.acollect(4)
    root = one(events, name="async-app")
    children = [e for e in events if e is not root]
    for child in children:
        assert_nested(child, root)
    cached = next(e for e in children if e["payload"].get("glassbox.completion") == "From cache.")
    assert cached["payload"]["gen_ai.usage.cache_read.input_tokens"] == 6
    assert cached["payload"]["gen_ai.usage.reasoning.output_tokens"] == 4
    assert cached["payload"]["gen_ai.usage.output_tokens"] == count_tokens("From cache.") + 4
    streamed = next(e for e in children if e["payload"].get("glassbox.response.streamed"))
    assert streamed["payload"]["glassbox.completion"] == STORY
    assert streamed["payload"]["glassbox.response.time_to_first_token_ms"] >= 300
    embedding = one(events, kind="embedding")
    assert embedding["name"] == "embeddings fake-embed"
    assert embedding["payload"]["gen_ai.embeddings.dimension.count"] == 12
    assert embedding["input"] == ["embed me"]


async def test_concurrent_tasks_keep_their_own_parents(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """acompletions gathered from 4 tasks, each inside its own child span, nest under their own task's span."""

    @glassbox.span("task")
    async def task(i: int) -> None:
        await litellm_module.acompletion(
            model="openai/fake-model", messages=[{"role": "user", "content": f"task {i}"}], **options(llm)
        )

    @glassbox.trace("fan-out")
    async def fan_out() -> None:
        await asyncio.gather(*(task(i) for i in range(4)))

    await fan_out()
    events = await tracing.acollect(9)
    root = one(events, name="fan-out")
    tasks = {e["span_id"]: e for e in events if e["name"] == "task"}
    assert len(tasks) == 4
    for span in tasks.values():
        assert span["parent_span_id"] == root["span_id"]
    for gen in (e for e in events if e["kind"] == "generation"):
        parent = tasks[gen["parent_span_id"]]
        assert_nested(gen, parent)
        assert gen["payload"]["gen_ai.input.messages"][0]["content"] == f"task {parent['input']['i']}"


def test_embedding_span_with_cost(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """A sync embedding becomes an embedding span with input count, dimensions, tokens and the registered price."""

    @glassbox.trace("index")
    def index() -> None:
        litellm_module.embedding(model="openai/fake-embed-priced", input=["first text", "second text"], **options(llm))

    index()
    events = tracing.collect(2)
    root, emb = one(events, name="index"), one(events, kind="embedding")
    assert_nested(emb, root)
    tokens = count_tokens("first text") + count_tokens("second text")
    assert emb["payload"] == {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "fake-embed-priced",
        "glassbox.embeddings.input_count": 2,
        "gen_ai.embeddings.dimension.count": 12,
        "gen_ai.usage.input_tokens": tokens,
        "glassbox.usage.cost_usd": pytest.approx(tokens * 1e-7),
    }
    assert emb["input"] == ["first text", "second text"]


def test_provider_errors_become_error_spans(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """A 500, a 429 and a timeout each become an error generation span with the exception, still nested."""
    raised: list[str] = []

    @glassbox.trace("fragile")
    def fragile() -> None:
        for text, extra in (("overloaded", {}), ("too fast", {}), ("hang", {"timeout": 0.3})):
            try:
                litellm_module.completion(
                    model="openai/fake-model", messages=[{"role": "user", "content": text}], **options(llm, **extra)
                )
            except Exception as exc:
                raised.append(type(exc).__name__)

    llm.reset()
    fragile()
    assert raised == ["InternalServerError", "RateLimitError", "Timeout"]
    assert llm.counts()["fault"] == {"http_500": 1, "http_429": 1, "hang": 1}
    events = tracing.collect(4)
    root = one(events, name="fragile")
    assert root["status"]["code"] == "unset"  # the app handled the errors
    errors = sorted((e for e in events if e["kind"] == "generation"), key=lambda e: e["start_time_unix_nano"])
    assert [e["attributes"]["error.type"] for e in errors] == ["InternalServerError", "RateLimitError", "Timeout"]
    assert [e["attributes"].get("http.response.status_code") for e in errors] == [500, 429, 408]
    for event, expected in zip(errors, ("InternalServerError", "RateLimitError", "Timeout"), strict=True):
        assert_nested(event, root)
        assert event["status"]["code"] == "error"
        assert expected in event["status"]["message"]
        exception = one(event["events"], name="exception")
        assert exception["attributes"]["exception.type"].endswith(expected)
        assert "glassbox.completion" not in event["payload"]
    assert errors[2]["end_time_unix_nano"] - errors[2]["start_time_unix_nano"] >= 300_000_000


def test_text_completion_records_the_prompt(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """litellm.text_completion becomes one text_completion generation span with the prompt and the text."""

    @glassbox.trace("complete")
    def complete() -> None:
        litellm_module.text_completion(model="openai/fake-model", prompt="Once upon", **options(llm))

    complete()
    events = tracing.collect(2, settle=0.5)  # litellm logs text completions twice: still one span
    gen = one(events, kind="generation")
    assert_nested(gen, one(events, name="complete"))
    assert gen["payload"]["gen_ai.operation.name"] == "text_completion"
    assert gen["payload"]["glassbox.prompt"] == "Once upon"
    assert gen["payload"]["glassbox.completion"] == "Echo: Once upon"
    assert "gen_ai.output.messages" not in gen["payload"]


def test_capture_io_off_keeps_content_out(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """With capture_io=False the span has model and tokens but no messages, completion or embedding input."""
    tracing.init(capture_io=False)

    @glassbox.trace("private")
    def private() -> None:
        litellm_module.completion(
            model="openai/fake-model", messages=[{"role": "user", "content": "my secret question"}], **options(llm)
        )
        litellm_module.embedding(model="openai/fake-embed", input="secret text", **options(llm))

    private()
    events = tracing.collect(3)
    gen, emb = one(events, kind="generation"), one(events, kind="embedding")
    assert gen["payload"]["gen_ai.request.model"] == "fake-model"
    assert gen["payload"]["gen_ai.usage.output_tokens"] > 0
    for key in ("gen_ai.input.messages", "gen_ai.output.messages", "glassbox.completion"):
        assert key not in gen["payload"]
    assert "input" not in emb
    assert "secret" not in str(events)


def test_concurrent_threads_keep_their_own_parents(tracing: Tracing, llm: FakeLLM, litellm_module: Any) -> None:
    """Calls from 8 threads, each in its own trace, land under the right trace although callbacks share a pool."""
    barrier = threading.Barrier(8)

    @glassbox.trace("worker")
    def worker(i: int) -> None:
        barrier.wait()
        litellm_module.completion(
            model="openai/fake-model", messages=[{"role": "user", "content": f"question {i}"}], **options(llm)
        )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = tracing.collect(16)
    roots = {e["span_id"]: e for e in events if e["name"] == "worker"}
    generations = [e for e in events if e["kind"] == "generation"]
    assert len(roots) == 8
    assert len({e["trace_id"] for e in roots.values()}) == 8
    for gen in generations:
        parent = roots[gen["parent_span_id"]]
        assert_nested(gen, parent)
        assert gen["payload"]["gen_ai.input.messages"][0]["content"] == f"question {parent['input']['i']}"


async def test_callback_never_raises_on_unexpected_input(tracing: Tracing) -> None:
    """Hooks fed odd kwargs and responses neither raise nor emit an invalid event."""
    logger = tracing.active_logger()
    odd: dict[str, Any] = {
        "litellm_call_id": "odd-1",
        "call_type": "completion",
        "model": None,
        "messages": 5,
        "optional_params": "not a dict",
        "start_time": "yesterday",
        "stream": True,
        "completion_start_time": object(),
    }
    logger.log_pre_api_call(None, None, odd)
    logger.log_success_event(odd, object(), None, None)
    await logger.async_log_failure_event({"call_type": "embedding", "exception": "boom"}, None, None, None)
    logger.log_success_event({}, None, None, None)
    events = await tracing.acollect(2)
    failed = one(events, kind="embedding")
    assert failed["status"] == {"code": "error", "message": "boom"}
    odd_span = one(events, kind="generation")
    assert odd_span["name"] == "chat"
    assert "parent_span_id" not in odd_span


def test_installing_twice_captures_once_and_uninstrument_stops(
    tracing: Tracing, llm: FakeLLM, litellm_module: Any
) -> None:
    """A second instrument_litellm() is a no-op; an untraced call is a root span (unless root_spans=False);
    after uninstrument() nothing is captured."""
    assert glassbox.instrument_litellm() is tracing.logger
    try:
        litellm_module.completion(
            model="openai/fake-model", messages=[{"role": "user", "content": "untraced"}], **options(llm)
        )
        events = tracing.collect(1, settle=0.5)
        assert "parent_span_id" not in events[0]
        assert events[0]["payload"]["glassbox.completion"] == "Echo: untraced"

        glassbox.instrument_litellm(root_spans=False)  # untraced calls are no longer recorded
        litellm_module.completion(
            model="openai/fake-model", messages=[{"role": "user", "content": "untraced again"}], **options(llm)
        )
        capture_mod.uninstrument()
        assert capture_mod.installed() is None

        @glassbox.trace("after-uninstrument")
        def traced() -> None:
            litellm_module.completion(
                model="openai/fake-model", messages=[{"role": "user", "content": "not captured"}], **options(llm)
            )

        traced()
        after = tracing.collect(2, settle=1.0)
        assert sorted(e["name"] for e in after) == ["after-uninstrument", "chat fake-model"]
        assert one(after, kind="generation") == events[0]
        assert llm.count("chat") >= 3
    finally:
        glassbox.instrument_litellm()

"""Helpers for storage and sink tests: message builders, a producer, waiting, and a fault injector.

Everything here talks to real engines (Tansu, chDB). The one wrapper, :class:`FlakyClient`,
injects ClickHouse outages around a real client: while an outage lasts its inserts and
queries raise clickhouse-connect's OperationalError, afterwards they go through.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from clickhouse_connect.driver.exceptions import OperationalError

from glassbox.common.clickhouse import Client
from glassbox.models.deadletter import DeadLetter
from glassbox.models.evaluation import EvaluationResult, evaluation_id
from glassbox.models.span import SpanBase, parse_span, span_to_dict
from glassbox.models.trace import AssembledTrace
from glassbox.sink.consumer import Sink

T = TypeVar("T")

RESOURCE = {
    "service.name": "support-bot",
    "deployment.environment.name": "production",
    "service.version": "2026.11.3",
    "telemetry.sdk.name": "glassbox",
    "telemetry.sdk.version": "0.1.0",
}

PAYLOADS: dict[str, dict[str, Any] | None] = {
    "span": None,
    "generation": {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18",
        "gen_ai.input.messages": [{"role": "user", "content": "hi"}],
        "gen_ai.output.messages": [{"role": "assistant", "content": "hello"}],
        "gen_ai.request.temperature": 0.2,
        "gen_ai.usage.input_tokens": 412,
        "gen_ai.usage.output_tokens": 23,
        "gen_ai.usage.cache_read.input_tokens": 256,
        "gen_ai.usage.reasoning.output_tokens": 7,
        "glassbox.usage.cost_usd": 0.0000756,
        "glassbox.response.time_to_first_token_ms": 420.5,
        "glassbox.response.streamed": True,
        "glassbox.prompt.name": "support-answer",
        "glassbox.prompt.version": "3",
    },
    "retrieval": {
        "glassbox.retrieval.query": "reset password",
        "glassbox.retrieval.top_k": 2,
        "gen_ai.data_source.id": "kb-articles",
        "glassbox.retrieval.documents": [{"id": "doc-12", "score": 0.91, "content": "Settings → Security"}],
    },
    "tool": {
        "gen_ai.tool.name": "lookup_order",
        "gen_ai.tool.call.id": "call-1",
        "gen_ai.tool.call.arguments": {"order_id": "A4160"},
        "gen_ai.tool.call.result": {"status": "processing"},
    },
    "agent": {"gen_ai.agent.name": "planner", "glassbox.agent.iteration": 2, "glassbox.agent.thought": "look it up"},
    "embedding": {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "glassbox.embeddings.input_count": 4,
        "gen_ai.embeddings.dimension.count": 1536,
        "gen_ai.usage.input_tokens": 40,
        "glassbox.usage.cost_usd": 0.000001,
    },
    "guardrail": {
        "glassbox.guardrail.name": "pii",
        "glassbox.guardrail.passed": False,
        "glassbox.guardrail.action": "redact",
    },
}
KINDS = tuple(PAYLOADS)


def new_trace_id() -> str:
    return uuid.uuid4().hex


def new_span_id() -> str:
    return os.urandom(8).hex().replace("0000000000000000", "0000000000000001")


def make_span(
    kind: str = "span",
    *,
    trace_id: str,
    span_id: str | None = None,
    parent: str | None = None,
    name: str | None = None,
    start_ns: int | None = None,
    duration_ms: float = 25.0,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> SpanBase:
    """A valid span event of ``kind`` (payload from :data:`PAYLOADS` unless given), starting now by default."""
    start = start_ns if start_ns is not None else time.time_ns()
    data: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": trace_id,
        "span_id": span_id or new_span_id(),
        "name": name or f"{kind}-step",
        "kind": kind,
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + int(duration_ms * 1_000_000),
        "resource": dict(RESOURCE),
        **fields,
    }
    if parent:
        data["parent_span_id"] = parent
    body = payload if payload is not None else PAYLOADS[kind]
    if body is not None:
        data["payload"] = body
    return parse_span(data)


def trace_of_every_kind(trace_id: str | None = None) -> list[SpanBase]:
    """A root span plus one child of every other kind, in one trace."""
    trace_id = trace_id or new_trace_id()
    root = make_span("span", trace_id=trace_id, name="answer_question", input={"q": "hi"}, output="hello",
                     session_id="sess-1", user_id="user-1", cohort="enterprise", tags=["rag", "v2"])  # fmt: skip
    return [root] + [make_span(k, trace_id=trace_id, parent=root.span_id) for k in KINDS if k != "span"]


def span_message(spans: Iterable[SpanBase]) -> bytes:
    """A spans-topic message value: a JSON array of span events."""
    return json.dumps([span_to_dict(s) for s in spans]).encode()


def make_trace(spans: list[SpanBase], *, version: int = 1, **metrics: Any) -> AssembledTrace:
    """An assembled trace over ``spans`` with the given metric values."""
    root = spans[0]
    return AssembledTrace.model_validate(
        {
            "trace_id": root.trace_id,
            "version": version,
            "status": "complete",
            "root_span_id": root.span_id,
            "name": root.name,
            "service_name": root.resource.service_name,
            "environment": root.resource.environment,
            "start_time_unix_nano": min(s.start_time_unix_nano for s in spans),
            "end_time_unix_nano": max(s.end_time_unix_nano for s in spans),
            "metrics": {"span_count": len(spans), **metrics},
            "assembled_at_unix_nano": time.time_ns(),
        }
    )


def make_result(trace_id: str, evaluator: str = "faithfulness", **fields: Any) -> EvaluationResult:
    base: dict[str, Any] = {
        "evaluation_id": evaluation_id(trace_id, 1, evaluator, "1"),
        "trace_id": trace_id,
        "trace_version": 1,
        "evaluator": evaluator,
        "evaluator_type": "llm_judge",
        "status": "failed",
        "score": 0.25,
        "failure_category": "hallucination",
        "evidence": {"unsupported_claims": ["x"]},
        "service_name": "support-bot",
        "created_at_unix_nano": time.time_ns(),
    }
    return EvaluationResult.model_validate({**base, **fields})


def make_letter(**fields: Any) -> DeadLetter:
    base: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "stage": "assembler",
        "source_topic": "glassbox.spans",
        "partition": 1,
        "offset": 42,
        "key": "k",
        "error_type": "malformed_json",
        "reason": "not valid JSON",
        "raw_base64": "e30x",
        "raw_size": 3,
        "created_at_unix_nano": time.time_ns(),
    }
    return DeadLetter.model_validate({**base, **fields})


def produce(bootstrap: str, messages: Iterable[tuple[str, bytes | None, bytes | None]]) -> list[tuple[int, int]]:
    """Send (topic, key, value) messages with kafka-python; returns each one's (partition, offset) once acknowledged."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [producer.send(topic, key=key, value=value) for topic, key, value in messages]
        producer.flush(timeout=30)
        return [(f.get(timeout=30).partition, f.get(timeout=30).offset) for f in futures]
    finally:
        producer.close(timeout=10)


def scalar(client: Client, sql: str) -> Any:
    return client.query(sql).result_rows[0][0]


async def wait_for(check: Callable[[], T], within: float = 30.0, interval: float = 0.1) -> T:
    """Poll ``check()`` until it returns something truthy; its last value after ``within`` seconds otherwise."""
    deadline = time.monotonic() + within
    value = check()
    while not value and time.monotonic() < deadline:
        await asyncio.sleep(interval)
        value = check()
    return value


@asynccontextmanager
async def running(sink: Sink, within: float = 30.0) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``sink`` as a task; on exit stop it gracefully and re-raise anything it raised."""
    task = asyncio.create_task(sink.run())
    started = asyncio.create_task(sink.started.wait())
    await asyncio.wait({task, started}, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if task.done():
        task.result()
    try:
        yield task
    finally:
        await asyncio.wait_for(sink.stop(), timeout=within)
        await task


class FlakyClient:
    """A real client whose inserts and queries raise OperationalError while an injected outage lasts."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._down_until = 0.0
        self.failures = 0

    def outage(self, seconds: float) -> None:
        """Make ClickHouse 'unavailable' for the next ``seconds``."""
        self._down_until = time.monotonic() + seconds

    def _check(self) -> None:
        if time.monotonic() < self._down_until:
            self.failures += 1
            raise OperationalError("injected fault: connection refused (ClickHouse unavailable)")

    def insert(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return self._client.insert(*args, **kwargs)

    def query(self, *args: Any, **kwargs: Any) -> Any:
        self._check()
        return self._client.query(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

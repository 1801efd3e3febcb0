"""Realistic Glassbox data for dashboard and alert tests, written through the sink's own code path.

:func:`fill` generates a few hours of traffic of three instrumented services — a RAG support bot,
a tool-using order agent and a ticket summarizer — across environments, models, cohorts and
prompt versions, with every failure kind next to healthy traces: hallucinations, empty and
irrelevant retrievals, instruction drift (broken JSON), tool errors, reasoning loops, latency and
cost spikes and LLM errors. Each trace is assembled by the assembler's pure ``assemble``; the
evaluations (rules, statistics, LLM judges with cost, skipped and errored runs, user feedback
scores), dead letters of every stage and each stage's pipeline metrics are made with the
pipeline's own models and reporters. Everything becomes Kafka-like messages that go through
:func:`glassbox.sink.process.process_message` and the sink's :class:`BatchWriter`, so the
materialized views (rollups, trace-id index, offsets) fill exactly as in production.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from glassbox.assembler.metrics import assemble
from glassbox.common.clickhouse import Client
from glassbox.common.metrics import MetricsReporter
from glassbox.models.deadletter import make_dead_letter
from glassbox.models.evaluation import evaluation_id
from glassbox.models.messages import Rejected, RejectReason
from glassbox.sink.batch import Batch
from glassbox.sink.metrics import SinkMetrics
from glassbox.sink.process import PendingRow, TopicRole, process_message
from glassbox.sink.stats import SinkStats
from glassbox.sink.tables import Source
from glassbox.sink.writer import BatchWriter

MS = 1_000_000
SERVICES = ("support-bot", "order-agent", "ticket-summarizer")
COHORTS = ("self-serve", "enterprise", "enterprise-batch", "agents-console")
RAG_SCENARIOS = ("healthy",) * 10 + ("hallucination", "retrieval_miss", "retrieval_irrelevant", "latency_spike",
                                     "cost_spike", "llm_error")  # fmt: skip
AGENT_SCENARIOS = ("healthy",) * 6 + ("bad_tool_args", "tool_loop")
TICKET_SCENARIOS = ("json_ok",) * 4 + ("json_drift",)
CATEGORY = {
    "hallucination": "hallucination", "retrieval_miss": "retrieval_failure",
    "retrieval_irrelevant": "retrieval_failure", "latency_spike": "latency_spike", "cost_spike": "cost_spike",
    "bad_tool_args": "tool_error", "tool_loop": "reasoning_loop", "json_drift": "instruction_drift",
}  # fmt: skip
"""Scenario → the failure category its evaluations file."""


@dataclass
class DemoData:
    """What :func:`fill` wrote."""

    now: datetime
    start: datetime
    scenarios: dict[str, str] = field(default_factory=dict)
    """Trace id → scenario."""
    rows: Counter[str] = field(default_factory=Counter)
    """Table → rows written."""

    def traces_of(self, scenario: str) -> list[str]:
        return [t for t, s in self.scenarios.items() if s == scenario]


class Messages:
    """Numbered Kafka-like messages per topic."""

    def __init__(self) -> None:
        self.offsets: Counter[str] = Counter()
        self.rows: dict[str, list[PendingRow]] = {}

    def add(self, role: TopicRole, topic: str, key: bytes, value: bytes, partition: int = 0) -> None:
        source = Source(f"demo/{topic}", topic, partition, self.offsets[topic], key)
        self.offsets[topic] += 1
        out = process_message(role, value, source, max_bytes=4 * 1024 * 1024)
        assert not out.invalid and not out.rejected_elements, f"demo message refused on {topic}"
        for table, rows in out.rows.items():
            self.rows.setdefault(table, []).extend(rows)

    def write(self, client: Client, database: str) -> Counter[str]:
        """Insert every row through the sink's BatchWriter (one batch per table); rows written per table."""
        writer = BatchWriter(client, database)
        written: Counter[str] = Counter()
        for table, rows in self.rows.items():
            result = writer.write(Batch(table, rows, {}))
            assert result.inserted == len(rows) and not result.refused, f"demo rows refused in {table}"
            written[table] += result.inserted
        self.rows.clear()
        return written


def span(trace_id: str, name: str, kind: str, start: int, ms: float, service: str, env: str, *,
          parent: str | None = None, payload: dict[str, Any] | None = None, error: str | None = None,
          **fields: Any) -> dict[str, Any]:  # fmt: skip
    span: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": trace_id,
        "span_id": uuid.uuid4().hex[:16],
        "name": name,
        "kind": kind,
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + int(ms * MS),
        "resource": {
            "service.name": service,
            "deployment.environment.name": env,
            "service.version": "2026.11",
            "telemetry.sdk.name": "glassbox",
            "telemetry.sdk.version": "0.1.0",
        },
        "status": {"code": "error", "message": error} if error else {"code": "ok"},
        **fields,
    }
    if parent:
        span["parent_span_id"] = parent
    if payload is not None:
        span["payload"] = payload
    return span


def generation_payload(
    model: str, prompt: str, tokens_in: int, tokens_out: int, price: float, ttft: float | None
) -> dict[str, Any]:
    name, _, version = prompt.partition("@")
    payload: dict[str, Any] = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic" if "claude" in model else "openai",
        "gen_ai.request.model": model, "gen_ai.response.model": model,
        "gen_ai.input.messages": [{"role": "user", "content": "question"}],
        "gen_ai.output.messages": [{"role": "assistant", "content": "answer"}],
        "gen_ai.usage.input_tokens": tokens_in, "gen_ai.usage.output_tokens": tokens_out,
        "glassbox.usage.cost_usd": round((tokens_in + 4 * tokens_out) * price, 8),
        "glassbox.prompt.name": name, "glassbox.prompt.version": version,
    }  # fmt: skip
    if ttft is not None:
        payload["glassbox.response.time_to_first_token_ms"] = ttft
        payload["glassbox.response.streamed"] = True
    return payload


def _rag(rnd: random.Random, trace_id: str, start: int, scenario: str, env: str, cohort: str) -> list[dict[str, Any]]:
    svc = "support-bot"
    model, price, tokens_in = ("gpt-4o", 2.5e-6, 60_000) if scenario == "cost_spike" else ("gpt-4o-mini", 1.5e-7, 900)
    prompt = rnd.choice(("support-answer@3", "support-answer@4"))
    gen_ms = 9_000.0 if scenario == "latency_spike" else rnd.uniform(600, 1_800)
    docs = [] if scenario == "retrieval_miss" else [
        {"id": f"doc-{i}", "score": round(rnd.uniform(0.1, 0.3) if scenario == "retrieval_irrelevant"
                                          else rnd.uniform(0.65, 0.95), 3), "content": f"article {i}"}
        for i in range(3)
    ]  # fmt: skip
    user = rnd.choice(("u-ana", "u-ben", "u-chloe", "u-dev"))
    total = 40 + 25 + gen_ms + 20
    envelope: dict[str, Any] = {"session_id": f"sess-{user}", "user_id": user, "cohort": cohort, "tags": ["rag"]}
    root = span(
        trace_id,
        "answer_question",
        "span",
        start,
        total,
        svc,
        env,
        **envelope,
        input={"question": "How do I reset my password?"},
        output="Go to Settings.",
    )
    emb = span(
        trace_id,
        "embed_query",
        "embedding",
        start + 2 * MS,
        35,
        svc,
        env,
        parent=root["span_id"],
        **envelope,
        payload={
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "text-embedding-3-small",
            "gen_ai.usage.input_tokens": 12,
            "glassbox.usage.cost_usd": 2.4e-7,
        },
    )
    ret = span(
        trace_id,
        "search_kb",
        "retrieval",
        start + 40 * MS,
        25 + rnd.uniform(0, 30),
        svc,
        env,
        parent=root["span_id"],
        **envelope,
        payload={
            "glassbox.retrieval.query": "reset password",
            "glassbox.retrieval.top_k": 3,
            "gen_ai.data_source.id": "kb-articles",
            "glassbox.retrieval.documents": docs,
        },
    )
    error = "RateLimitError: 429 Too Many Requests" if scenario == "llm_error" else None
    gen = span(
        trace_id,
        "generate_answer",
        "generation",
        start + 70 * MS,
        gen_ms,
        svc,
        env,
        parent=root["span_id"],
        **envelope,
        payload=generation_payload(
            model, prompt, tokens_in, rnd.randint(60, 220), price, None if error else rnd.uniform(180, 450)
        ),
        error=error,
    )
    if rnd.random() < 0.3:
        gen["scores"] = [{"name": "user_feedback", "value": 0.0 if scenario in CATEGORY else 1.0}]
    return [root, emb, ret, gen]  # fmt: skip


def _agent(rnd: random.Random, trace_id: str, start: int, scenario: str, env: str, cohort: str) -> list[dict[str, Any]]:
    svc = "order-agent"
    model = rnd.choice(("claude-3-5-haiku", "gpt-4o-mini"))
    steps = 5 if scenario == "tool_loop" else 2
    envelope: dict[str, Any] = {"user_id": "u-ops", "cohort": cohort, "tags": ["agent"]}
    root = span(
        trace_id,
        "handle_order",
        "span",
        start,
        0,
        svc,
        env,
        **envelope,
        input={"request": "where is order A4160?"},
        output="It ships tomorrow.",
    )
    spans = [root]
    t = start + 5 * MS
    for i in range(1, steps + 1):
        step = span(
            trace_id,
            "plan_step",
            "agent",
            t,
            0,
            svc,
            env,
            parent=root["span_id"],
            **envelope,
            payload={"gen_ai.agent.name": "planner", "glassbox.agent.iteration": i},
        )
        gen_ms = rnd.uniform(300, 900)
        gen = span(
            trace_id,
            "choose_tool",
            "generation",
            t + MS,
            gen_ms,
            svc,
            env,
            parent=step["span_id"],
            **envelope,
            payload=generation_payload(model, "order-planner@1", 700, 40, 2.5e-7, rnd.uniform(120, 300)),
        )
        args = {"order_id": "A4160"} if scenario == "tool_loop" else {"order_id": f"A{4100 + i}"}
        bad = scenario == "bad_tool_args" and i == 1
        tool_ms = rnd.uniform(40, 400)
        tool = span(
            trace_id,
            "lookup_order",
            "tool",
            t + MS + int(gen_ms * MS),
            tool_ms,
            svc,
            env,
            parent=step["span_id"],
            **envelope,
            error="ValueError: invalid order id 'A-??'" if bad else None,
            payload={
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.arguments": {"order_id": "A-??"} if bad else args,
                "gen_ai.tool.call.result": None if bad else {"status": "processing"},
            },
        )
        step_ms = gen_ms + tool_ms + 2
        step["end_time_unix_nano"] = step["start_time_unix_nano"] + int(step_ms * MS)
        spans += [step, gen, tool]
        t += int((step_ms + 3) * MS)
    root["end_time_unix_nano"] = t + 2 * MS
    return spans  # fmt: skip


def _ticket(
    rnd: random.Random, trace_id: str, start: int, scenario: str, env: str, cohort: str
) -> list[dict[str, Any]]:
    svc = "ticket-summarizer"
    gen_ms = rnd.uniform(400, 900)
    envelope: dict[str, Any] = {"user_id": "agent-7", "cohort": "agents-console", "tags": ["tickets"]}
    root = span(
        trace_id,
        "summarize_ticket",
        "span",
        start,
        gen_ms + 10,
        svc,
        env,
        **envelope,
        input={"ticket": "parcel late"},
        output="not json" if scenario == "json_drift" else {"summary": "late parcel", "priority": "high"},
    )
    gen = span(
        trace_id,
        "generate_summary",
        "generation",
        start + 5 * MS,
        gen_ms,
        svc,
        env,
        parent=root["span_id"],
        **envelope,
        payload=generation_payload("gpt-4o-mini", "ticket-summary@2", 300, 60, 1.5e-7, None),
    )
    return [root, gen]  # fmt: skip


def _results(rnd: random.Random, trace: dict[str, Any], scenario: str) -> Iterator[dict[str, Any]]:
    """Evaluation results for one assembled trace: rules always, judges for a sample."""
    service, trace_id = trace["service_name"], trace["trace_id"]
    created = trace["end_time_unix_nano"] + int(rnd.uniform(2, 20) * 1e9)
    category = CATEGORY.get(scenario)
    if service == "support-bot":
        evaluators = {
            "empty_retrieval": ("rule", "retrieval_failure", scenario == "retrieval_miss"),
            "latency_spike": ("statistical", "latency_spike", scenario == "latency_spike"),
            "cost_spike": ("statistical", "cost_spike", scenario == "cost_spike"),
            "faithfulness": ("llm_judge", "hallucination", scenario == "hallucination"),
            "context_relevance": ("llm_judge", "retrieval_failure", scenario == "retrieval_irrelevant"),
        }
    elif service == "order-agent":
        evaluators = {
            "tool_arguments": ("rule", "tool_error", scenario == "bad_tool_args"),
            "loop_detector": ("rule", "reasoning_loop", scenario == "tool_loop"),
            "tool_choice": ("llm_judge", "tool_error", scenario == "bad_tool_args"),
        }
    else:
        evaluators = {"json_validity": ("rule", "instruction_drift", scenario == "json_drift")}
    for name, (kind, cat, failed) in evaluators.items():
        judged = kind == "llm_judge"
        if judged and not failed and rnd.random() < 0.4:
            continue  # judges sample healthy traces
        status = "failed" if failed else "passed"
        if judged and not failed and rnd.random() < 0.12:
            status = rnd.choice(("skipped", "error"))
        score = (
            None if status in ("skipped", "error") else (rnd.uniform(0.1, 0.45) if failed else rnd.uniform(0.8, 1.0))
        )
        yield {
            "evaluation_id": evaluation_id(trace_id, 1, name, "1"), "trace_id": trace_id, "trace_version": 1,
            "evaluator": name, "evaluator_version": "1", "evaluator_type": kind, "status": status,
            "score": None if score is None else round(score, 3),
            "reason": f"{name}: {status}" + (f" ({category})" if failed else ""),
            "failure_category": cat if failed else None, "evidence": {"scenario": scenario},
            "service_name": service, "environment": trace.get("environment"),
            "prompt_versions": trace.get("prompt_versions", []),
            "judge_model": "openai/gpt-4o-mini" if judged else None,
            "judge_input_tokens": 900 if judged and status != "skipped" else 0,
            "judge_output_tokens": 80 if judged and status != "skipped" else 0,
            "judge_cost_usd": 0.00018 if judged and status in ("passed", "failed") else 0.0,
            "latency_ms": rnd.uniform(400, 1500) if judged else rnd.uniform(0.1, 3),
            "created_at_unix_nano": created,
        }  # fmt: skip


def _dead_letters(start: datetime, now: datetime) -> Iterator[dict[str, Any]]:
    cases = [
        ("assembler", "glassbox.spans", RejectReason.MALFORMED_JSON, b'{"schema_version": 1, "trace_id": "4bf9'),
        ("assembler", "glassbox.spans", RejectReason.MALFORMED_JSON, b'[{"schema_version": 1,'),
        ("assembler", "glassbox.spans", RejectReason.UNKNOWN_VERSION, b'{"schema_version": 7}'),
        ("assembler", "glassbox.spans", RejectReason.INVALID, b'{"schema_version": 1, "trace_id": "0af7"}'),
        ("evaluator", "glassbox.evaluation-requests", RejectReason.INVALID, b'{"trace": {}}'),
        ("sink", "glassbox.traces", RejectReason.STORAGE, b'{"trace_id": "x"}'),
    ]
    span = (now - start) / (len(cases) + 1)
    for i, (stage, topic, kind, raw) in enumerate(cases):
        letter = make_dead_letter(Rejected(-1, kind, f"{kind.value}: demo input", raw), stage=stage,
                                  source_topic=topic, partition=i % 2, offset=100 + i, key=b"k")  # fmt: skip
        at = start + span * (i + 1)
        yield letter.model_copy(update={"created_at_unix_nano": int(at.timestamp() * 1e9)}).model_dump(mode="json")


def _metric_reports(rnd: random.Random, start: datetime, now: datetime) -> Iterator[tuple[str, bytes]]:
    """Assembler and evaluator reports every minute (through the real reporter) with lag and dead letters."""
    totals: dict[str, dict[str, Any]] = {
        "assembler": {"messages": 0, "spans": 0, "traces_emitted": 0, "dead_letters": 0, "by_reason": {}},
        "evaluator": {"traces": 0, "requests": 0, "results_passed": 0, "results_failed": 0, "results_error": 0},
    }
    lag = {"assembler": 0}

    def assembler_lags() -> dict[tuple[str, int], int]:
        return {("glassbox.spans", p): lag["assembler"] + p for p in range(2)}

    reporters = {
        "assembler": MetricsReporter("assembler", lambda: totals["assembler"], interval_s=60.0,
                                     instance="assembler-1", lags=assembler_lags),
        "evaluator": MetricsReporter("evaluator", lambda: totals["evaluator"], interval_s=60.0,
                                     instance="evaluator-1"),
    }  # fmt: skip
    at = start
    while at < now:
        a, e = totals["assembler"], totals["evaluator"]
        spans = rnd.randint(200, 600)
        a["messages"] += spans // 4
        a["spans"] += spans
        a["traces_emitted"] += spans // 5
        if rnd.random() < 0.2:
            a["dead_letters"] += 1
            a["by_reason"]["malformed_json"] = a["by_reason"].get("malformed_json", 0) + 1
        e["traces"] += spans // 5
        e["requests"] += spans // 12
        e["results_passed"] += spans // 6
        e["results_failed"] += spans // 40
        e["results_error"] += int(rnd.random() < 0.3)
        lag["assembler"] = rnd.randint(0, 50)
        for stage, reporter in reporters.items():
            report, sent = reporter.record()
            reporter.mark_sent(sent)
            report = report.model_copy(update={"recorded_at_unix_nano": int(at.timestamp() * 1e9)})
            yield stage, report.model_dump_json().encode()
        at += timedelta(minutes=1)


def _sink_rows(rnd: random.Random, start: datetime, now: datetime) -> list[PendingRow]:
    """The sink's own rows (real SinkMetrics), one report per minute, timestamps moved into the range."""
    metrics, stats = SinkMetrics(60.0, instance="sink-1"), SinkStats()
    rows: list[PendingRow] = []
    at = start
    while at < now:
        ms = int(at.timestamp() * 1000)
        for table in ("spans", "traces", "evaluations"):
            inserted = rnd.randint(50, 800)
            stats.count_rows(table, inserted)
            metrics.observe_batch(table, inserted, rnd.uniform(0.004, 0.08))
        stats.batches += 3
        stats.messages += rnd.randint(100, 300)
        stats.retries += int(rnd.random() < 0.05)
        for pending in metrics.rows(stats, {("glassbox.traces", 0): rnd.randint(0, 20)}):
            pending.row[0] = ms
            rows.append(pending)
        at += timedelta(minutes=1)
    return rows


def fill(client: Client, database: str, *, now: datetime | None = None, hours: float = 3.0, seed: int = 7) -> DemoData:
    """Write the demo traffic of the last ``hours`` (ending a minute before ``now``) into ``database``."""
    rnd = random.Random(seed)
    now = now or datetime.now(UTC)
    start = now - timedelta(hours=hours)
    data = DemoData(now=now, start=start)
    messages = Messages()
    plans = [("support-bot", _rag, RAG_SCENARIOS, 10), ("order-agent", _agent, AGENT_SCENARIOS, 5),
             ("ticket-summarizer", _ticket, TICKET_SCENARIOS, 3)]  # fmt: skip
    span_s = (now - start).total_seconds() - 120
    for _service, make, scenarios, per_scenario in plans:
        for scenario in sorted(set(scenarios)):
            count = per_scenario * scenarios.count(scenario) if scenario in ("healthy", "json_ok") else per_scenario
            for _ in range(count):
                trace_id = uuid.UUID(int=rnd.getrandbits(128)).hex
                begin = start + timedelta(seconds=rnd.uniform(0, span_s))
                env = "staging" if rnd.random() < 0.2 else "production"
                cohort = "enterprise-batch" if scenario == "cost_spike" else rnd.choice(COHORTS[:3])
                spans = make(rnd, trace_id, int(begin.timestamp() * 1e9), scenario, env, cohort)
                key = trace_id.encode()
                partition = int(trace_id[:4], 16) % 6
                messages.add(TopicRole.SPANS, "glassbox.spans", key, json.dumps(spans).encode(), partition)
                trace = assemble(spans, version=1, complete=True, assembled_at_ns=time.time_ns())
                messages.add(TopicRole.TRACES, "glassbox.traces", key, json.dumps(trace).encode(), partition)
                for result in _results(rnd, trace, scenario):
                    messages.add(TopicRole.RESULTS, "glassbox.evaluation-results", key, json.dumps(result).encode(),
                                 partition)  # fmt: skip
                data.scenarios[trace_id] = scenario
    for letter in _dead_letters(start, now):
        messages.add(TopicRole.DEAD_LETTERS, "glassbox.dead-letters", letter["source_topic"].encode(),
                     json.dumps(letter).encode())  # fmt: skip
    for stage, value in _metric_reports(rnd, start, now):
        messages.add(TopicRole.METRICS, "glassbox.pipeline-metrics", stage.encode(), value)
    messages.rows.setdefault("pipeline_metrics", []).extend(_sink_rows(rnd, start, now))
    data.rows.update(messages.write(client, database))
    return data

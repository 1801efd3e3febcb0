"""A labelled corpus of assembled traces: healthy ones and at least ten per failure category.

Traces are produced with the tracing SDK (``glassbox.init(sender=InMemorySender())`` and its
context managers, as an instrumented app would), then given deterministic timestamps (so latency
is part of the scenario, not of the test machine's mood) and assembled with the assembler's own
:func:`glassbox.assembler.metrics.assemble`. Every trace is labelled with the failure categories it
must get. Three routes of one service: ``answer_question`` (RAG), ``run_agent`` (tools) and
``extract_invoice`` (JSON output); :class:`Background` feeds the normal traffic around the corpus
(from an hour before it) into the spike baselines. The judge in tests is the package's simulated
judge (:mod:`glassbox.evaluators.judge.simulated`), whose verdicts depend on the prompt's content.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import glassbox
from glassbox.assembler.metrics import assemble
from glassbox.evaluators.baselines import Baselines
from glassbox.models.evaluation import FailureCategory as C
from glassbox.models.trace import AssembledTrace
from glassbox.sdk.testing import InMemorySender

SERVICE = "acme-assistant"
T0_NS = 1_795_000_000_000_000_000
"""Start of the corpus (the warm-up history covers the hour before)."""
IN_PRICE, OUT_PRICE = 1.5e-6, 6e-6
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "units": {"enum": ["metric", "imperial"]}},
    "required": ["city"],
    "additionalProperties": False,
}
INVOICE_SCHEMA = {
    "type": "object",
    "properties": {"invoice_id": {"type": "string"}, "total": {"type": "number"}, "currency": {"type": "string"}},
    "required": ["invoice_id", "total", "currency"],
}


@dataclass(frozen=True)
class LabelledTrace:
    scenario: str
    trace: AssembledTrace
    expected: frozenset[C]


@dataclass(frozen=True)
class Scenario:
    name: str
    expected: frozenset[C]
    run: Callable[[random.Random], None]
    durations: dict[str, float]
    """Span name → milliseconds (leaves); parents span their children."""


def _gen(
    name: str,
    rng: random.Random,
    *,
    messages: list[dict[str, Any]],
    completion: str,
    tokens: tuple[int, int] | None = None,
    cost: float | None = None,
    **extra: Any,
) -> None:
    tin, tout = tokens or (rng.randint(600, 900), rng.randint(80, 150))
    with glassbox.generation(name, model="gpt-4o-mini", provider="openai") as g:
        g.update(
            input_messages=messages,
            completion=completion,
            input_tokens=tin,
            output_tokens=tout,
            cost_usd=cost if cost is not None else round(tin * IN_PRICE + tout * OUT_PRICE, 8),
            **extra,
        )


def _rag(kind: str, rng: random.Random, *, tokens: tuple[int, int] | None = None, cost: float | None = None) -> None:
    topic = rng.choice(sorted(KNOWLEDGE))
    question = rng.choice(QUESTIONS[topic])
    sentences = KNOWLEDGE[topic]
    others = [t for t in sorted(KNOWLEDGE) if t != topic]
    docs = [{"id": f"{topic}-1", "score": round(rng.uniform(0.78, 0.9), 3), "content": " ".join(sentences)}] + [
        {"id": f"{o}-1", "score": round(rng.uniform(0.3, 0.45), 3), "content": " ".join(KNOWLEDGE[o])}
        for o in rng.sample(others, 2)
    ]
    answer = " ".join(rng.sample(sentences, 2))
    if kind == "empty":
        docs, answer = [], "I could not find anything about that in our help center."
    elif kind == "refusal":
        answer = "I'm sorry, I don't know the answer to that."
    elif kind == "low_scores":
        docs = [
            {"id": f"{o}-1", "score": round(rng.uniform(0.1, 0.3), 3), "content": " ".join(KNOWLEDGE[o])}
            for o in rng.sample(others, 2)
        ]
        answer = "I don't know."
    elif kind == "hallucination":
        answer = f"{rng.choice(sentences)} {rng.choice(FABRICATIONS)}"
    with glassbox.trace("answer_question", user_id=f"u-{rng.randint(1, 50)}", tags=["rag"]) as root:
        root.set_input({"question": question})
        with glassbox.retrieval("search_docs", query=question, top_k=3, data_source="help-center") as r:
            r.update(documents=docs)
        system = "Answer from the context. If the context does not contain the answer, say you don't know."
        context = "\n".join(d["content"] for d in docs)
        _gen(
            "generate_answer",
            rng,
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": f"{context}\n\nQuestion: {question}"},
            ],
            completion=answer,
            tokens=tokens,
            cost=cost,
        )
        root.set_output({"answer": answer})


def _weather_call(args: Any, *, error: str | None = None) -> None:
    with glassbox.tool("get_weather", arguments=args, json_schema=WEATHER_SCHEMA) as t:
        if error:
            t.update(error=error)
            t.set_status("error", error)
        else:
            t.update(result={"temp_c": 18, "sky": "cloudy"})


def _agent(kind: str, rng: random.Random) -> None:
    city = rng.choice(["Paris", "Lyon", "Oslo", "Lima", "Kyoto", "Perth"])
    question = f"Should I take an umbrella in {city} today?"
    messages = [{"role": "user", "content": question}]
    try:
        with glassbox.trace("run_agent", tags=["agent"]) as root:
            root.set_input(question)
            _gen("plan", rng, messages=messages, completion="", tokens=(300, 40))
            if kind == "healthy":
                _weather_call({"city": city, "units": rng.choice(["metric", "imperial"])})
            elif kind == "bad_args":
                _weather_call(
                    rng.choice(
                        [
                            {"units": "metric"},
                            {"city": city, "units": "kelvin"},
                            {"city": city, "country": "FR"},
                            {"city": 42},
                        ]
                    )
                )
            elif kind == "unhandled":
                _weather_call({"city": city}, error="weather API timed out after 10s")
                raise TimeoutError("weather API timed out after 10s")
            elif kind == "repeat":
                for _ in range(4):
                    _weather_call({"city": city, "units": "metric"})
            elif kind == "error_cycle":
                for units in ("metric", "imperial", "metric"):
                    _weather_call({"city": city, "units": units}, error="HTTP 503 from weather API")
            elif kind == "iterations":
                for i in range(12):
                    with glassbox.agent("agent_step", iteration=i, agent_name="planner"):
                        _gen("think", rng, messages=messages, completion="Let me think again.", tokens=(40, 10))
            answer = f"It looks cloudy in {city}; an umbrella would not hurt."
            _gen("final_answer", rng, messages=messages, completion=answer, tokens=(400, 60))
            root.set_output(answer)
    except TimeoutError:
        pass


def _extract(kind: str, rng: random.Random) -> None:
    invoice = {
        "invoice_id": f"INV-{rng.randint(1000, 9999)}",
        "total": round(rng.uniform(10, 900), 2),
        "currency": rng.choice(["EUR", "USD"]),
    }
    output = json.dumps(invoice)
    if kind == "markdown":
        output = f"```json\n{output}\n```"
    elif kind == "prose":
        output = f"The invoice {invoice['invoice_id']} totals {invoice['total']} {invoice['currency']}."
    elif kind == "schema":
        output = json.dumps({k: v for k, v in invoice.items() if k != "total"})
    fmt = {"type": "json_schema", "json_schema": {"name": "invoice", "schema": INVOICE_SCHEMA}}
    with glassbox.trace("extract_invoice", tags=["extraction"]) as root:
        root.set_input({"document": f"Invoice {invoice['invoice_id']}"})
        _gen(
            "extract",
            rng,
            messages=[
                {"role": "system", "content": "Return the invoice fields as JSON."},
                {"role": "user", "content": "Invoice text ..."},
            ],
            completion=output,
            output_type="json",
            response_format=fmt,
            tokens=(500, 60),
        )
        root.set_output(output)


RAG_MS = {"search_docs": 120.0, "generate_answer": 800.0}
AGENT_MS = {"plan": 150.0, "get_weather": 60.0, "final_answer": 250.0, "think": 20.0}
EXTRACT_MS = {"extract": 400.0}


def scenarios() -> list[tuple[Scenario, int]]:
    """Every scenario with how many traces of it the corpus holds."""
    S = Scenario
    return [
        (S("rag_healthy", frozenset(), lambda r: _rag("ok", r), RAG_MS), 20),
        (S("agent_healthy", frozenset(), lambda r: _agent("healthy", r), AGENT_MS), 10),
        (S("extract_healthy", frozenset(), lambda r: _extract("ok", r), EXTRACT_MS), 10),
        (S("rag_hallucination", frozenset({C.HALLUCINATION}), lambda r: _rag("hallucination", r), RAG_MS), 10),
        (S("rag_empty", frozenset({C.RETRIEVAL_FAILURE}), lambda r: _rag("empty", r), RAG_MS), 6),
        (S("rag_refusal", frozenset({C.RETRIEVAL_FAILURE}), lambda r: _rag("refusal", r), RAG_MS), 4),
        (S("rag_low_scores", frozenset({C.RETRIEVAL_FAILURE}), lambda r: _rag("low_scores", r), RAG_MS), 3),
        (S("json_markdown", frozenset({C.INSTRUCTION_DRIFT}), lambda r: _extract("markdown", r), EXTRACT_MS), 4),
        (S("json_prose", frozenset({C.INSTRUCTION_DRIFT}), lambda r: _extract("prose", r), EXTRACT_MS), 3),
        (S("json_schema", frozenset({C.INSTRUCTION_DRIFT}), lambda r: _extract("schema", r), EXTRACT_MS), 3),
        (S("tool_bad_args", frozenset({C.TOOL_ERROR}), lambda r: _agent("bad_args", r), AGENT_MS), 6),
        (S("tool_unhandled", frozenset({C.TOOL_ERROR}), lambda r: _agent("unhandled", r), AGENT_MS), 4),
        (S("loop_repeat", frozenset({C.REASONING_LOOP}), lambda r: _agent("repeat", r), AGENT_MS), 4),
        (S("loop_error_cycle", frozenset({C.REASONING_LOOP}), lambda r: _agent("error_cycle", r), AGENT_MS), 3),
        (S("loop_iterations", frozenset({C.REASONING_LOOP}), lambda r: _agent("iterations", r), AGENT_MS), 3),
        (
            S(
                "latency_spike",
                frozenset({C.LATENCY_SPIKE}),
                lambda r: _rag("ok", r),
                {**RAG_MS, "generate_answer": 9000.0},
            ),
            10,
        ),
        (S("token_spike", frozenset({C.COST_SPIKE}), lambda r: _rag("ok", r, tokens=(40_000, 2_000)), RAG_MS), 5),
        (S("cost_spike", frozenset({C.COST_SPIKE}), lambda r: _rag("ok", r, cost=0.08), RAG_MS), 5),
    ]


def run_scenario(name: str, rng: random.Random) -> None:
    """Run one scenario's app code under the current SDK client (e.g. one exporting to a real broker)."""
    next(scenario for scenario, _ in scenarios() if scenario.name == name).run(rng)


def _retime(events: list[dict[str, Any]], start_ns: int, durations: dict[str, float], rng: random.Random) -> None:
    """Deterministic timestamps: leaves last their scenario's duration (±10%), parents span their children."""
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for event in sorted(events, key=lambda e: (e["start_time_unix_nano"], e["span_id"])):
        children[event.get("parent_span_id")].append(event)

    def place(span: dict[str, Any], at: int) -> int:
        kids = children.get(span["span_id"], [])
        cursor = at + 2_000_000
        for kid in kids:
            cursor = place(kid, cursor) + 1_000_000
        leaf_ms = durations.get(span["name"], 5.0) * rng.uniform(0.9, 1.1)
        end = cursor + 1_000_000 if kids else at + int(leaf_ms * 1e6)
        span["start_time_unix_nano"], span["end_time_unix_nano"] = at, end
        for record in span.get("events") or []:
            record["time_unix_nano"] = end
        return end

    for root in children.get(None, []):
        place(root, start_ns)


def build_corpus(seed: int = 7) -> list[LabelledTrace]:
    """The labelled corpus, in a fixed shuffled order (same seed, same corpus)."""
    rng = random.Random(seed)
    plan = [(scenario, i) for scenario, count in scenarios() for i in range(count)]
    rng.shuffle(plan)
    sender = InMemorySender()
    glassbox.init(sender=sender, service_name=SERVICE, environment="production", redact_builtin="")
    for scenario, _ in plan:
        scenario.run(rng)
    glassbox.flush()
    by_trace: dict[str, list[dict[str, Any]]] = defaultdict(list)
    order: list[str] = []
    for event in sender.events:
        if event["trace_id"] not in by_trace:
            order.append(event["trace_id"])
        by_trace[event["trace_id"]].append(event)
    corpus: list[LabelledTrace] = []
    for index, ((scenario, _), trace_id) in enumerate(zip(plan, order, strict=True)):
        events = by_trace[trace_id]
        start = T0_NS + index * 20_000_000_000
        _retime(events, start, scenario.durations, rng)
        end = max(e["end_time_unix_nano"] for e in events)
        doc = assemble(events, version=1, complete=True, assembled_at_ns=end + 2_000_000_000)
        corpus.append(LabelledTrace(scenario.name, AssembledTrace.model_validate(doc), scenario.expected))
    return corpus


def background_traffic(seed: int = 11) -> list[tuple[str, float, float, float, float]]:
    """(route, time s, latency ms, tokens, cost) of normal traffic on the three routes: from an hour
    before the corpus to its end, one trace per route every 2.5 s, in time order."""
    rng = random.Random(seed)
    start_s = T0_NS / 1e9 - 3600
    out = []
    for i in range(int((3600 + 120 * 20) / 2.5)):
        at = start_s + i * 2.5
        tin, tout = rng.randint(600, 900), rng.randint(80, 150)
        out.append(
            (
                f"{SERVICE}/answer_question",
                at,
                rng.uniform(0.9, 1.1) * 930,
                tin + tout,
                tin * IN_PRICE + tout * OUT_PRICE,
            )
        )
        out.append(
            (f"{SERVICE}/run_agent", at, rng.uniform(500, 700), rng.randint(780, 1000), rng.uniform(1.4e-3, 1.9e-3))
        )
        out.append((f"{SERVICE}/extract_invoice", at, rng.uniform(380, 460), 560, 1.1e-3))
    return out


class Background:
    """Feeds the background traffic into a sampler's baselines up to a point in time."""

    def __init__(self, baselines: Baselines) -> None:
        self.baselines = baselines
        self.pending = background_traffic()
        self.next = 0

    def until(self, trace: AssembledTrace) -> None:
        """Every background trace that ended before ``trace`` joins the baselines first."""
        limit = trace.end_time_unix_nano / 1e9
        while self.next < len(self.pending) and self.pending[self.next][1] < limit:
            self.baselines.observe(*self.pending[self.next])
            self.next += 1


# --------------------------------------------------------------------------- the help-center

KNOWLEDGE: dict[str, list[str]] = {
    "refunds": [
        "Refunds are issued to the original payment method within 14 days.",
        "A refund request must be made within 30 days of delivery.",
        "Shipping fees are refunded only when the item arrived damaged.",
    ],
    "passwords": [
        "To reset your password, open Settings and choose Security.",
        "The reset link in the email expires after 24 hours.",
        "Passwords need at least 12 characters including one digit.",
    ],
    "shipping": [
        "Standard shipping takes 3 to 5 business days.",
        "Express shipping delivers the next business day for orders placed before noon.",
        "Tracking numbers are emailed as soon as the parcel leaves the warehouse.",
    ],
    "subscriptions": [
        "Subscriptions renew automatically on the first day of each month.",
        "You can cancel a subscription at any time from the Billing page.",
        "Cancelled subscriptions stay active until the end of the paid month.",
    ],
    "warranty": [
        "Every device carries a two year warranty against manufacturing defects.",
        "The warranty does not cover water damage or broken screens.",
        "Warranty repairs are free and take about ten days.",
    ],
    "accounts": [
        "Accounts can be deleted from the Privacy section of Settings.",
        "Deleting an account removes order history after 90 days.",
        "Business accounts may add up to 50 team members.",
    ],
}

QUESTIONS: dict[str, list[str]] = {
    "refunds": ["How long do refunds take to reach my payment method?", "Until when can I request a refund?"],
    "passwords": ["How do I reset my password?", "How long is the password reset link valid?"],
    "shipping": ["How long does standard shipping take?", "When is express shipping delivered?"],
    "subscriptions": ["When do subscriptions renew?", "How can I cancel my subscription?"],
    "warranty": ["How long is the device warranty?", "Does the warranty cover broken screens?"],
    "accounts": ["How do I delete my account?", "How many team members can business accounts add?"],
}

FABRICATIONS: list[str] = [
    "Customers also receive a free lifetime membership to our partner airline lounge.",
    "Our drones deliver every parcel within ninety minutes in all countries.",
    "Payments can be settled in gold bullion at any regional vault.",
    "A complimentary hot air balloon ride is included with each purchase.",
    "The CEO personally answers every complaint by handwritten letter.",
]

# --------------------------------------------------------------------------- hand-built traces for unit tests

_ids = iter(range(1, 1 << 30))
_children: dict[str, int] = {}


def span(
    name: str,
    kind: str = "span",
    *,
    parent: dict[str, Any] | None = None,
    ms: float = 10.0,
    error: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A wire-form span event; ``payload`` fields and envelope fields (input, output, metadata ...) as keywords.
    A child starts 20 ms after its previous sibling (the first 20 ms after its parent); call
    :func:`make_trace` to assemble them."""
    n = next(_ids)
    if parent is None:
        start = T0_NS + n * 1_000_000_000
    else:
        _children[parent["span_id"]] = _children.get(parent["span_id"], 0) + 1
        start = parent["start_time_unix_nano"] + _children[parent["span_id"]] * 20_000_000
    event: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": parent["trace_id"] if parent else f"{n:032x}",
        "span_id": f"{n:016x}",
        "parent_span_id": parent["span_id"] if parent else None,
        "name": name,
        "kind": kind,
        "start_time_unix_nano": start,
        "end_time_unix_nano": start + int(ms * 1e6),
        "resource": {"service.name": SERVICE},
        "status": {"code": "error", "message": error} if error else {"code": "ok"},
    }
    payload = fields.pop("payload", None)
    event.update(fields)
    if kind != "span":
        event["payload"] = payload or ({"gen_ai.tool.name": name} if kind == "tool" else {})
    return event


def make_trace(*spans: dict[str, Any], version: int = 1) -> AssembledTrace:
    """Assemble hand-built spans (the first is the root) into an AssembledTrace."""
    events = list(spans)
    return AssembledTrace.model_validate(
        assemble(events, version=version, complete=True, assembled_at_ns=max(e["end_time_unix_nano"] for e in events))
    )

"""Example: a support bot that answers from a knowledge base (retrieval-augmented generation).

Run by `glassbox demo` as its own process (service "support-bot"):

    python -m glassbox.examples.rag_app --api-base URL --scenario healthy=20 --scenario hallucination=3 ...

Prints one JSON line per trace: {"scenario", "trace_id", "expected"} (the failure
categories the scenario is built to show).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import sys
from collections.abc import Callable
from typing import Any

import glassbox
from glassbox.examples.knowledge import DOCS, Retriever
from glassbox.examples.provider import LARGE_MODEL, SUPPORT_MODEL, register_prices

SYSTEM = "You are a support assistant. Answer only from the context and cite the document id in brackets."
TICKET_SYSTEM = "Summarize the support ticket. Respond only with a JSON object with keys summary and priority."
HEALTHY_QUESTIONS = (
    "How do I reset my password?",
    "How long does express shipping take?",
    "Do gift cards expire?",
    "How many loyalty points do I earn per dollar?",
    "Which payment methods do you accept?",
    "How long do you keep my order history?",
    "Are return labels free for defective items?",
    "When are refunds paid to my card?",
)
USERS = ("u-ana", "u-ben", "u-chloe", "u-dev", "u-emma", "u-farid")

retriever = Retriever()


@glassbox.retrieval(name="search_kb", data_source="kb-articles")
def search_kb(query: str, top_k: int = 3) -> list[dict[str, Any]]:
    glassbox.update_current_span(top_k=top_k)
    return retriever.search(query, top_k=top_k)


def _context(docs: list[dict[str, Any]]) -> str:
    return "\n".join(f"[{d['id']}] {d['content']}" for d in docs)


def _complete(api_base: str, model: str, messages: list[dict[str, str]], **kwargs: Any) -> str:
    import litellm

    response = litellm.completion(
        model=f"openai/{model}",
        api_base=api_base,
        api_key="demo-key",
        messages=messages,
        temperature=0.2,
        metadata={"prompt_name": "support-answer", "prompt_version": "3", "generation_name": "generate_answer"},
        **kwargs,
    )
    if kwargs.get("stream"):
        return "".join(chunk.choices[0].delta.content or "" for chunk in response)
    return str(response.choices[0].message.content)


def answer_question(api_base: str, question: str, *, user: str, cohort: str = "self-serve", model: str = SUPPORT_MODEL,
                    top_k: int = 3, history: int = 0, stream: bool = True) -> str:  # fmt: skip
    @glassbox.trace(name="answer_question", user_id=user, session_id=f"sess-{user}", cohort=cohort, tags=["rag"])
    def handle(question: str) -> str:
        remember_trace()
        docs = search_kb(question, top_k=top_k)
        context = _context(docs)
        if history:  # a long conversation pasted in full: the cost spike
            context = "\n".join([context] + [f"[{d.id}] {d.text}" for d in DOCS] * history)
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
        ]
        return _complete(api_base, model, messages, stream=stream)

    return handle(question)


def summarize_ticket(api_base: str, ticket: str, *, user: str) -> str:
    @glassbox.trace(name="summarize_ticket", user_id=user, cohort="agents-console", tags=["tickets"])
    def handle(ticket: str) -> str:
        remember_trace()
        messages = [{"role": "system", "content": TICKET_SYSTEM}, {"role": "user", "content": f"Ticket: {ticket}"}]
        return _complete(api_base, SUPPORT_MODEL, messages, response_format={"type": "json_object"})

    return handle(ticket)


Scenario = Callable[[str, random.Random], Any]

SCENARIOS: dict[str, tuple[tuple[str, ...], Scenario]] = {
    "healthy": ((), lambda api, rnd: answer_question(api, rnd.choice(HEALTHY_QUESTIONS), user=rnd.choice(USERS))),
    "hallucination": (
        ("hallucination",),
        lambda api, rnd: answer_question(api, "What is the refund window for electronics?", user=rnd.choice(USERS)),
    ),
    "retrieval_miss": (
        ("retrieval_failure",),
        lambda api, rnd: answer_question(api, "Is there a warranty on refurbished phones?", user=rnd.choice(USERS)),
    ),
    "retrieval_irrelevant": (
        ("retrieval_failure",),
        lambda api, rnd: answer_question(
            api, "Do refurbished phones come with free return shipping labels?", user=rnd.choice(USERS)
        ),
    ),
    "json_drift": (
        ("instruction_drift",),
        lambda api, rnd: summarize_ticket(api, "URGENT!!! my parcel is 3 weeks late, call me now", user="agent-7"),
    ),
    "json_ok": (
        (),
        lambda api, rnd: summarize_ticket(api, "Customer asks how to change the delivery address.", user="agent-7"),
    ),
    "latency_spike": (
        ("latency_spike",),
        lambda api, rnd: answer_question(api, "What are your store hours on Sunday?", user=rnd.choice(USERS)),
    ),
    "cost_spike": (
        ("cost_spike",),
        lambda api, rnd: answer_question(
            api, "How do I reset my password?", user="u-bulk-importer", cohort="enterprise-batch",
            model=LARGE_MODEL, top_k=10, history=40, stream=False,
        ),
    ),
}  # fmt: skip


def warm_up(api_base: str) -> None:
    """One plain and one streamed call before tracing starts, as a running service has warm clients."""
    import litellm

    for chunk in litellm.completion(
        model=f"openai/{SUPPORT_MODEL}", api_base=api_base, api_key="demo-key", stream=True,
        messages=[{"role": "user", "content": "ping"}], max_tokens=1,
    ):  # fmt: skip
        del chunk
    litellm.completion(model=f"openai/{SUPPORT_MODEL}", api_base=api_base, api_key="demo-key",
                       messages=[{"role": "user", "content": "ping"}], max_tokens=1)  # fmt: skip


LAST_TRACE: dict[str, str] = {}
"""The trace id of the request that just ran (set inside each traced handler)."""


def remember_trace() -> None:
    LAST_TRACE["id"] = glassbox.current_span().trace_id_hex


def run(
    api_base: str, plan: list[tuple[str, int]], seed: int = 7, scenarios: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Run each scenario ``count`` times, in order (this app's scenarios unless given); one row per trace."""
    rnd = random.Random(seed)
    known = scenarios if scenarios is not None else SCENARIOS
    out = []
    for scenario, count in plan:
        expected, action = known[scenario]
        for _ in range(count):
            LAST_TRACE.clear()
            action(api_base, rnd)
            out.append({"scenario": scenario, "trace_id": LAST_TRACE.get("id", ""), "expected": list(expected)})
    return out


def main(
    argv: list[str] | None = None,
    service: str = "support-bot",
    scenarios: dict[str, Any] | None = None,
) -> int:
    """Command line of an example app: run the planned scenarios, flush, print one JSON line per trace."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    known = scenarios if scenarios is not None else SCENARIOS
    parser.add_argument("--api-base", required=True, help="OpenAI-compatible base URL of the LLM provider")
    parser.add_argument("--scenario", action="append", default=[], help="name=count (repeatable, run in order)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    plan = []
    for item in args.scenario:
        name, _, count = item.partition("=")
        if name not in known:
            parser.error(f"unknown scenario {name!r}; known: {', '.join(known)}")
        plan.append((name, int(count or 1)))
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never reach for the network
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    glassbox.init(service_name=service, environment="demo", release="2026.11")
    register_prices()
    warm_up(args.api_base)  # a running service has warm clients; keep the first request's setup out of traces
    glassbox.instrument_litellm()
    results = run(args.api_base, plan, args.seed, known)
    ok = glassbox.flush(30)
    for row in results:
        sys.stdout.write(json.dumps(row) + "\n")
    sys.stdout.flush()
    stats = glassbox.stats()
    sys.stderr.write(json.dumps({"service": service, "flushed": ok, **stats}) + "\n")
    glassbox.shutdown(10)
    return 0 if ok and stats["dropped"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

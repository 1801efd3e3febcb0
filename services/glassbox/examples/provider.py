"""The demo's LLM: a local fake OpenAI-compatible provider whose answers depend on the request content.

The support model answers from the context it is given (picks the supporting
sentence and cites its document), except where a scenario makes it misbehave:
invent facts (hallucination), answer prose when JSON was required (instruction
drift), stall (latency spike). The agent model plans tool calls from the
conversation, and keeps retrying a failing call when asked to cancel an order
that does not exist (a reasoning loop).
"""

from __future__ import annotations

import json
import re
from typing import Any

from glassbox.devtools import FakeLLM, LLMRequest, Rule, ToolCall
from glassbox.examples.knowledge import tokens

SUPPORT_MODEL = "support-mini"
LARGE_MODEL = "support-large"
AGENT_MODEL = "agent-mini"
PRICES = {
    SUPPORT_MODEL: (0.15e-6, 0.60e-6),
    LARGE_MODEL: (5.0e-6, 15.0e-6),
    AGENT_MODEL: (0.40e-6, 1.60e-6),
}
"""USD per input and output token, registered with litellm so spans carry real costs."""

_CONTEXT_LINE = re.compile(r"^\[(?P<id>[\w-]+)\]\s*(?P<text>.+)$", re.MULTILINE)
HALLUCINATED = (
    "The refund window for electronics is 90 days, opened or unopened, and we also refund the "
    "original shipping cost. [kb-refunds]"
)


def register_prices() -> None:
    """Tell litellm what the fake models cost (as a real app's litellm knows real models' prices)."""
    import litellm

    litellm.register_model(
        {
            f"openai/{model}": {
                "input_cost_per_token": cost_in,
                "output_cost_per_token": cost_out,
                "litellm_provider": "openai",
                "mode": "chat",
                "max_tokens": 128_000,
            }
            for model, (cost_in, cost_out) in PRICES.items()
        }
    )


def grounded_answer(request: LLMRequest) -> str:
    """Answer with the context sentence that best matches the question, citing its document."""
    question = request.text.split("Question:", 1)[-1]
    wanted = set(tokens(question))
    best: tuple[int, str, str] | None = None
    for match in _CONTEXT_LINE.finditer(request.text):
        for sentence in re.split(r"(?<=\.)\s+", match.group("text")):
            overlap = len(wanted & set(tokens(sentence)))
            if overlap and (best is None or overlap > best[0]):
                best = (overlap, match.group("id"), sentence.strip())
    if best is None:
        return "I don't know based on the provided context."
    return f"{best[2]} [{best[1]}]"


def _question(request: LLMRequest) -> str:
    """The question the support bot was asked (its prompt also carries retrieved documents)."""
    return request.text.rsplit("Question:", 1)[-1].lower()


def _asks_about(word: str) -> Any:
    return lambda request: word in _question(request)


def _last(request: LLMRequest) -> dict[str, Any]:
    messages = request.messages
    return messages[-1] if messages else {}


def _tool_result_answer(request: LLMRequest) -> str:
    content = str(_last(request).get("content") or "")
    try:
        data = json.loads(content)
    except ValueError:
        return f"Sorry, something went wrong: {content[:120]}"
    if isinstance(data, dict) and data.get("error"):
        return f"I'm sorry, I could not complete that: {data['error']}"
    if isinstance(data, dict) and "status" in data:
        return f"Order {data.get('order_id')} is {data['status']} (last update {data.get('updated')})."
    return f"Done: {content[:160]}"


def _after_tool(request: LLMRequest) -> bool:
    return _last(request).get("role") == "tool"


def _failing_lookup(request: LLMRequest) -> bool:
    return _after_tool(request) and "not found" in str(_last(request).get("content") or "")


def rules() -> list[Rule]:
    """Every rule the demo's fake provider answers with, most specific first."""
    return [
        # --- the agent (tool calls) -------------------------------------------------------
        Rule(name="agent-loop", model=AGENT_MODEL, contains="cancel order", when=_failing_lookup,
             tool_calls=[ToolCall("get_order", {"order_id": "Z-404"})], delay=0.02),
        Rule(name="agent-final", model=AGENT_MODEL, when=_after_tool, reply=_tool_result_answer, delay=0.03),
        Rule(name="agent-cancel", model=AGENT_MODEL, contains="cancel order",
             tool_calls=[ToolCall("get_order", {"order_id": "Z-404"})], delay=0.02),
        Rule(name="agent-refund-bad-args", model=AGENT_MODEL, contains="refund order",
             tool_calls=[ToolCall("refund_order", {"order_id": 1002, "reason": "damaged"})], delay=0.02),
        Rule(name="agent-where", model=AGENT_MODEL, regex=r"(?i)where is (my )?order",
             tool_calls=[ToolCall("get_order", {"order_id": "A-1001"})], delay=0.02),
        # --- the support bot ---------------------------------------------------------------
        Rule(name="rag-hallucination", model=SUPPORT_MODEL, when=_asks_about("electronics"),
             reply=HALLUCINATED, delay=0.04),
        Rule(name="rag-refurbished", model=SUPPORT_MODEL, when=_asks_about("refurbished"),
             reply="I don't know, the provided context does not say.", delay=0.03),
        Rule(name="rag-latency", model=SUPPORT_MODEL, contains="store hours", reply=grounded_answer, delay=2.5),
        Rule(name="ticket-prose", model=SUPPORT_MODEL, contains="URGENT",
             reply="Sure! Here is a quick summary: the customer is very upset about a late delivery and "
             "wants a call back today. I would rate this as high priority.", delay=0.03),
        Rule(name="ticket-json", model=SUPPORT_MODEL, contains="Ticket:",
             reply=lambda r: json.dumps({"summary": r.text.split("Ticket:", 1)[-1].strip()[:80], "priority": "normal"}),
             delay=0.03),
        Rule(name="rag-large", model=LARGE_MODEL, reply=grounded_answer, delay=0.08),
        Rule(name="rag-grounded", model=SUPPORT_MODEL, reply=grounded_answer, delay=0.03, ttft=0.02),
    ]  # fmt: skip


def start_provider(extra_rules: list[Rule] | None = None) -> FakeLLM:
    """Start the demo's provider on a free loopback port (extra rules, e.g. an LLM judge, come first)."""
    return FakeLLM([*(extra_rules or []), *rules()]).start()

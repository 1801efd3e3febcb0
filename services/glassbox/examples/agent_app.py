"""Example: an order-support agent that plans tool calls with an LLM, runs them, and loops until done.

Run by `glassbox demo` as its own process (service "order-agent"):

    python -m glassbox.examples.agent_app --api-base URL --scenario healthy=10 --scenario bad_tool_args=3 ...
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import jsonschema

import glassbox
from glassbox.examples.provider import AGENT_MODEL
from glassbox.examples.rag_app import main, remember_trace

MAX_ITERATIONS = 6
SYSTEM = "You are an order support agent. Use the tools to look orders up or refund them, then answer briefly."
SCHEMAS: dict[str, dict[str, Any]] = {
    "get_order": {
        "type": "object",
        "properties": {"order_id": {"type": "string", "pattern": "^[A-Z]-\\d+$"}},
        "required": ["order_id"],
        "additionalProperties": False,
    },
    "refund_order": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "exclusiveMinimum": 0}},
        "required": ["order_id", "amount"],
        "additionalProperties": False,
    },
}
TOOLS = [
    {"type": "function", "function": {"name": name, "description": f"{name.replace('_', ' ')}", "parameters": schema}}
    for name, schema in SCHEMAS.items()
]
ORDERS = {
    "A-1001": {"order_id": "A-1001", "status": "shipped", "updated": "2026-11-23"},
    "A-1002": {"order_id": "A-1002", "status": "delivered", "updated": "2026-11-20"},
}


class ToolArgumentError(ValueError):
    """The model called a tool with arguments its JSON Schema rejects."""


def get_order(order_id: str) -> dict[str, Any]:
    if order_id not in ORDERS:
        raise LookupError(f"order {order_id} not found")
    return ORDERS[order_id]


def refund_order(order_id: str, amount: float) -> dict[str, Any]:
    return {"order_id": order_id, "refunded": amount}


IMPLEMENTATIONS: dict[str, Callable[..., dict[str, Any]]] = {"get_order": get_order, "refund_order": refund_order}


def run_tool(name: str, arguments: dict[str, Any], call_id: str) -> dict[str, Any]:
    """Validate the arguments against the tool's schema, run it, and return what the model should see."""
    try:
        with glassbox.tool(name, json_schema=SCHEMAS[name], arguments=arguments, call_id=call_id) as span:
            errors = sorted(jsonschema.Draft202012Validator(SCHEMAS[name]).iter_errors(arguments), key=str)
            if errors:
                raise ToolArgumentError("; ".join(e.message for e in errors[:3]))
            result = IMPLEMENTATIONS[name](**arguments)
            span.update(result=result)
            return result
    except (ToolArgumentError, LookupError) as exc:
        return {"error": str(exc)}


def plan_step(api_base: str, messages: list[dict[str, Any]]) -> Any:
    import litellm

    response = litellm.completion(
        model=f"openai/{AGENT_MODEL}",
        api_base=api_base,
        api_key="demo-key",
        messages=messages,
        tools=TOOLS,
        temperature=0.0,
        metadata={"prompt_name": "order-agent", "prompt_version": "5", "generation_name": "plan_next_action"},
    )
    return response.choices[0].message


def handle_ticket(api_base: str, text: str, user: str) -> str:
    @glassbox.trace(name="handle_ticket", user_id=user, session_id=f"chat-{user}", cohort="self-serve", tags=["agent"])
    def handle(text: str) -> str:
        remember_trace()
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
        for iteration in range(MAX_ITERATIONS):
            with glassbox.agent(
                "agent_step", agent_name="order-agent", iteration=iteration, max_iterations=MAX_ITERATIONS
            ):
                message = plan_step(api_base, messages)
                calls = message.tool_calls or []
                if not calls:
                    return str(message.content)
                messages.append(
                    {
                        "role": "assistant",
                        "content": message.content,
                        "tool_calls": [
                            {
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.function.name, "arguments": c.function.arguments},
                            }
                            for c in calls
                        ],
                    }
                )
                for call in calls:
                    try:
                        arguments = json.loads(call.function.arguments or "{}")
                    except ValueError:
                        arguments = {"_unparsable": call.function.arguments}
                    result = run_tool(call.function.name, arguments, call.id)
                    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)})
        return "I could not finish this request, a human will follow up."

    return handle(text)


SCENARIOS: dict[str, tuple[tuple[str, ...], Any]] = {
    "healthy": ((), lambda api, rnd: handle_ticket(api, "Where is my order A-1001?", rnd.choice(("u-ana", "u-ben")))),
    "bad_tool_args": (
        ("tool_error",),
        lambda api, rnd: handle_ticket(api, "Please refund order 1002, it arrived damaged.", "u-chloe"),
    ),
    "tool_loop": (
        ("reasoning_loop",),
        lambda api, rnd: handle_ticket(api, "Please cancel order Z-404 for me.", "u-dev"),
    ),
}


if __name__ == "__main__":
    sys.exit(main(service="order-agent", scenarios=SCENARIOS))

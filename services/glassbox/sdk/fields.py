"""Payload field names and wire names per span kind, without importing the pydantic models.

The SDK must import fast, so this static table mirrors ``glassbox.models.span``;
a unit test fails when the two drift apart. Each entry is
``python_name: (wire_name, type_tag)`` where the tag tells the exporter how to
coerce a value the application set.
"""

from __future__ import annotations

Field = tuple[str, str]

GENERATION: dict[str, Field] = {
    "operation": ("gen_ai.operation.name", "str"),
    "provider": ("gen_ai.provider.name", "str"),
    "request_model": ("gen_ai.request.model", "str"),
    "response_model": ("gen_ai.response.model", "str"),
    "input_messages": ("gen_ai.input.messages", "messages"),
    "prompt": ("glassbox.prompt", "json"),
    "output_messages": ("gen_ai.output.messages", "messages"),
    "completion": ("glassbox.completion", "json"),
    "output_type": ("gen_ai.output.type", "str"),
    "response_format": ("glassbox.request.response_format", "json"),
    "tool_definitions": ("gen_ai.tool.definitions", "json"),
    "temperature": ("gen_ai.request.temperature", "float"),
    "top_p": ("gen_ai.request.top_p", "float"),
    "top_k": ("gen_ai.request.top_k", "float"),
    "max_tokens": ("gen_ai.request.max_tokens", "uint"),
    "stop_sequences": ("gen_ai.request.stop_sequences", "list_str"),
    "seed": ("gen_ai.request.seed", "int"),
    "frequency_penalty": ("gen_ai.request.frequency_penalty", "float"),
    "presence_penalty": ("gen_ai.request.presence_penalty", "float"),
    "parameters": ("glassbox.request.parameters", "dict"),
    "input_tokens": ("gen_ai.usage.input_tokens", "uint"),
    "output_tokens": ("gen_ai.usage.output_tokens", "uint"),
    "cached_input_tokens": ("gen_ai.usage.cache_read.input_tokens", "uint"),
    "reasoning_tokens": ("gen_ai.usage.reasoning.output_tokens", "uint"),
    "cost_usd": ("glassbox.usage.cost_usd", "ufloat"),
    "time_to_first_token_ms": ("glassbox.response.time_to_first_token_ms", "ufloat"),
    "streamed": ("glassbox.response.streamed", "bool"),
    "finish_reasons": ("gen_ai.response.finish_reasons", "list_str"),
    "response_id": ("gen_ai.response.id", "str"),
    "prompt_name": ("glassbox.prompt.name", "str"),
    "prompt_version": ("glassbox.prompt.version", "str"),
}

RETRIEVAL: dict[str, Field] = {
    "query": ("glassbox.retrieval.query", "json"),
    "top_k": ("glassbox.retrieval.top_k", "uint"),
    "documents": ("glassbox.retrieval.documents", "documents"),
    "data_source": ("gen_ai.data_source.id", "str"),
    "embedding_model": ("glassbox.retrieval.embedding_model", "str"),
}

TOOL: dict[str, Field] = {
    "name": ("gen_ai.tool.name", "str"),
    "call_id": ("gen_ai.tool.call.id", "str"),
    "description": ("gen_ai.tool.description", "str"),
    "tool_type": ("gen_ai.tool.type", "str"),
    "arguments": ("gen_ai.tool.call.arguments", "json"),
    "json_schema": ("glassbox.tool.json_schema", "json"),
    "result": ("gen_ai.tool.call.result", "json"),
    "error": ("glassbox.tool.error", "str"),
}

AGENT: dict[str, Field] = {
    "agent_name": ("gen_ai.agent.name", "str"),
    "agent_id": ("gen_ai.agent.id", "str"),
    "iteration": ("glassbox.agent.iteration", "uint"),
    "max_iterations": ("glassbox.agent.max_iterations", "uint"),
    "thought": ("glassbox.agent.thought", "json"),
    "action": ("glassbox.agent.action", "json"),
}

EMBEDDING: dict[str, Field] = {
    "provider": ("gen_ai.provider.name", "str"),
    "request_model": ("gen_ai.request.model", "str"),
    "input_count": ("glassbox.embeddings.input_count", "uint"),
    "dimensions": ("gen_ai.embeddings.dimension.count", "uint"),
    "input_tokens": ("gen_ai.usage.input_tokens", "uint"),
    "cost_usd": ("glassbox.usage.cost_usd", "ufloat"),
}

GUARDRAIL: dict[str, Field] = {
    "name": ("glassbox.guardrail.name", "str"),
    "passed": ("glassbox.guardrail.passed", "bool"),
    "action": ("glassbox.guardrail.action", "str"),
    "score": ("glassbox.guardrail.score", "float"),
    "reason": ("glassbox.guardrail.reason", "str"),
}

PAYLOAD_FIELDS: dict[str, dict[str, Field]] = {
    "span": {},
    "generation": GENERATION,
    "retrieval": RETRIEVAL,
    "tool": TOOL,
    "agent": AGENT,
    "embedding": EMBEDDING,
    "guardrail": GUARDRAIL,
}

REQUIRED: dict[str, tuple[str, ...]] = {"tool": ("name",), "guardrail": ("name", "passed")}
"""Payload fields the contract requires; the SDK fills them from the span name when unset."""

CONVENIENCE: dict[str, str] = {
    "model": "request_model",
    "messages": "input_messages",
    "ttft_ms": "time_to_first_token_ms",
    "cost": "cost_usd",
    "cached_tokens": "cached_input_tokens",
    "tool_name": "name",
    "args": "arguments",
}
"""Short names accepted by ``span.update(...)``."""

ENVELOPE_FIELDS = frozenset({"user_id", "session_id", "cohort", "tags", "metadata", "name", "input", "output"})

"""Replay requests without a provider: what the stored generation sent, and the overrides applied to it."""

from __future__ import annotations

import time

import pytest

from glassbox.assembler.metrics import assemble
from glassbox.datasets.prompt_template import Prompt
from glassbox.datasets.replay import (
    ReplayError,
    litellm_arguments,
    original_call,
    pick_generation,
    with_overrides,
)
from glassbox.models.trace import AssembledTrace

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
T0 = time.time_ns()
V1 = Prompt(
    name="answer",
    version=1,
    messages=[
        {"role": "system", "content": "Answer from the context."},
        {"role": "user", "content": "Context: {{context}}\nQuestion: {{question}}"},
    ],
)
V2 = Prompt(
    name="answer",
    version=2,
    messages=[
        {"role": "system", "content": "Quote the context sentence that answers."},
        {"role": "user", "content": "Q: {{question}}\nC: {{context}}"},
    ],
    parameters={"max_tokens": 50},
)


def span(span_id: str, name: str, start_ms: int, **payload: object) -> dict[str, object]:
    return {
        "schema_version": 1,
        "trace_id": TRACE_ID,
        "span_id": span_id,
        "parent_span_id": "a" * 16,
        "name": name,
        "kind": "generation",
        "start_time_unix_nano": T0 + start_ms * 1_000_000,
        "end_time_unix_nano": T0 + (start_ms + 40) * 1_000_000,
        "payload": payload,
    }


def trace() -> AssembledTrace:
    root = {
        "schema_version": 1,
        "trace_id": TRACE_ID,
        "span_id": "a" * 16,
        "name": "answer",
        "kind": "span",
        "start_time_unix_nano": T0,
        "end_time_unix_nano": T0 + 200_000_000,
    }
    sent = V1.render(context="Refunds within 30 days.", question="Refund window?").messages
    final = span(
        "c" * 16,
        "generate_answer",
        100,
        **{
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "support-mini",
            "gen_ai.input.messages": sent,
            "glassbox.completion": "Within 90 days.",
            "gen_ai.request.temperature": 0.7,
            "gen_ai.request.stop_sequences": ["\n\n"],
            "glassbox.request.parameters": {"tool_choice": "none"},
            "glassbox.prompt.name": "answer",
            "glassbox.prompt.version": "1",
            "gen_ai.usage.input_tokens": 30,
            "gen_ai.usage.output_tokens": 5,
        },
    )
    first = span(
        "b" * 16,
        "rewrite_query",
        10,
        **{"gen_ai.request.model": "azure/gpt-4o", "gen_ai.input.messages": [{"role": "user", "content": "x"}]},
    )
    return AssembledTrace.model_validate(assemble([root, first, final], version=1, complete=True, assembled_at_ns=T0))


def test_the_last_generation_is_replayed_unless_a_span_is_named() -> None:
    """Default: the generation that ended last; --span picks by id prefix; an unknown span lists the choices."""
    t = trace()
    assert pick_generation(t).span_id == "c" * 16
    assert pick_generation(t, "bbb").name == "rewrite_query"
    with pytest.raises(ReplayError, match=r"0 generation spans match 'ff'; the trace has: bbbb"):
        pick_generation(t, "ff")


def test_the_original_call_is_rebuilt_with_model_provider_parameters_and_prompt() -> None:
    """Model gets its litellm provider prefix; named payload fields become litellm arguments; the rest kept."""
    old = original_call(trace(), pick_generation(trace()))
    assert old.model == "openai/support-mini"
    assert old.parameters == {"temperature": 0.7, "stop": ["\n\n"], "tool_choice": "none"}
    assert old.messages[1]["content"] == "Context: Refunds within 30 days.\nQuestion: Refund window?"
    assert (old.prompt, old.output, old.input_tokens, old.output_tokens) == ("answer@1", "Within 90 days.", 30, 5)
    assert original_call(trace(), pick_generation(trace(), "b")).model == "azure/gpt-4o"


def test_model_and_temperature_overrides_change_only_those() -> None:
    """Everything else (messages, other parameters) is sent as it was; notes say what changed."""
    old = original_call(trace(), pick_generation(trace()))
    new = with_overrides(old, model="openai/support-large", temperature=0.0)
    assert (new.model, new.parameters["temperature"], new.parameters["stop"]) == ("openai/support-large", 0.0, ["\n\n"])
    assert new.messages == old.messages
    assert new.notes == ["model openai/support-mini → openai/support-large", "temperature 0.7 → 0.0"]


def test_a_new_prompt_version_is_rendered_with_the_variables_of_the_original_call() -> None:
    """The original version's template recovers context and question; the new version is rendered with them,
    its parameters added, and the generation tagged with the new version."""
    old = original_call(trace(), pick_generation(trace()))
    new = with_overrides(old, prompt=V2, sources=[V1])
    assert new.messages[1]["content"] == "Q: Refund window?\nC: Refunds within 30 days."
    assert new.parameters["max_tokens"] == 50 and new.prompt == "answer@2"
    kwargs = litellm_arguments(new, api_base="http://127.0.0.1:1/v1", api_key=None, span_name="generate_answer")
    assert kwargs["metadata"] == {"generation_name": "generate_answer", "prompt_name": "answer", "prompt_version": "2"}
    assert kwargs["api_key"] == "glassbox-replay" and kwargs["model"] == "openai/support-mini"
    with pytest.raises(ReplayError, match="no value for question"):
        with_overrides(old, prompt=V2, sources=[V2], variables={"context": "c"})
    given = with_overrides(old, prompt=V2, variables={"context": "C", "question": "Q"})
    assert given.messages[1]["content"] == "Q: Q\nC: C"

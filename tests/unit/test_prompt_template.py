"""Prompt templates without an engine: rendering, litellm arguments with version tags, variable recovery."""

from __future__ import annotations

import pytest

from glassbox.datasets.prompt_template import MissingVariablesError, Prompt, messages_from, variables_of
from glassbox.datasets.prompts import parse_prompt_ref

MESSAGES = [
    {"role": "system", "content": "Answer from the context. Cite {{ source }}."},
    {"role": "user", "content": "Context:\n{{context}}\n\nQuestion: {{question}} ({{source}})"},
]


def prompt(**fields: object) -> Prompt:
    base: dict[str, object] = {
        "name": "support-answer",
        "version": 4,
        "messages": MESSAGES,
        "model": "openai/gpt-4o-mini",
        "parameters": {"temperature": 0.2},
    }
    return Prompt.model_validate({**base, **fields})


def test_variables_are_listed_once_in_order_of_first_use() -> None:
    """Placeholders may have spaces inside the braces; repeated ones are listed once."""
    assert variables_of(MESSAGES) == ["source", "context", "question"]


def test_render_replaces_every_placeholder_and_keeps_roles() -> None:
    """Strings go in as they are, other values as JSON; roles and message order are kept."""
    rendered = prompt().render(source="kb", context=["doc 1", "doc 2"], question="Refund window?")
    assert rendered.messages == [
        {"role": "system", "content": "Answer from the context. Cite kb."},
        {"role": "user", "content": 'Context:\n["doc 1", "doc 2"]\n\nQuestion: Refund window? (kb)'},
    ]


def test_render_without_a_variable_names_what_is_missing() -> None:
    """A missing variable is an error naming the prompt version and the variable."""
    with pytest.raises(MissingVariablesError, match=r"support-answer@4 needs context, question"):
        prompt().render(source="kb")


def test_litellm_kwargs_carry_model_parameters_and_the_version_tags() -> None:
    """The arguments hold model, messages, parameters and metadata prompt_name / prompt_version (as text),
    which the SDK's litellm capture puts on the generation span; overrides win and metadata merges."""
    kwargs = prompt().litellm_kwargs(source="kb", context="c", question="q")
    assert kwargs["model"] == "openai/gpt-4o-mini"
    assert kwargs["temperature"] == 0.2
    assert kwargs["metadata"] == {"prompt_name": "support-answer", "prompt_version": "4"}
    assert kwargs["messages"][1]["content"] == "Context:\nc\n\nQuestion: q (kb)"
    rendered = prompt().render(source="kb", context="c", question="q")
    custom = rendered.litellm_kwargs(temperature=0.0, metadata={"generation_name": "answer"})
    assert custom["temperature"] == 0.0
    assert custom["metadata"] == {"prompt_name": "support-answer", "prompt_version": "4", "generation_name": "answer"}


def test_extract_recovers_the_variables_a_rendering_used() -> None:
    """Matching the template against rendered messages gives back the values (multi-line ones too)."""
    values = {"source": "kb", "context": "line 1\nline 2 (with parens) [x]", "question": "Why?"}
    assert prompt().extract(prompt().render(**values).messages) == values


def test_extract_refuses_messages_the_template_cannot_render() -> None:
    """Other text, another role, another message count, or a repeated variable with two values: None."""
    rendered = prompt().render(source="kb", context="c", question="q").messages
    assert prompt().extract([rendered[0], {"role": "user", "content": "something else"}]) is None
    assert prompt().extract([{"role": "user", "content": rendered[0]["content"]}, rendered[1]]) is None
    assert prompt().extract(rendered[:1]) is None
    clash = [rendered[0], {"role": "user", "content": "Context:\nc\n\nQuestion: q (other)"}]
    assert prompt().extract(clash) is None


def test_messages_from_a_text_a_json_list_or_system_and_user() -> None:
    """A plain text is one user message; a JSON list is taken as is; --system/--user make two messages."""
    assert messages_from("Hi {{name}}") == [{"role": "user", "content": "Hi {{name}}"}]
    assert messages_from('[{"role": "system", "content": "S"}]') == [{"role": "system", "content": "S"}]
    assert messages_from(None, system="S", user="U") == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U"},
    ]
    with pytest.raises(ValueError, match="non-empty list of messages"):
        messages_from(None)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [("p", ("p", None, "latest")), ("p@3", ("p", 3, "")), ("p@production", ("p", None, "production"))],
)
def test_prompt_references_name_a_version_or_a_label(ref: str, expected: tuple[str, int | None, str]) -> None:
    """NAME (latest), NAME@N (a version) and NAME@LABEL are accepted."""
    assert parse_prompt_ref(ref) == expected

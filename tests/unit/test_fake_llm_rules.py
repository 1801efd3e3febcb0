"""Declaring fake-LLM rules and faults from Python values, dicts and YAML (no HTTP)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from glassbox.devtools import FakeLLM, Fault, LLMRequest, Rule, ToolCall
from glassbox.devtools.fake_llm_cli import load_config
from glassbox.devtools.fake_llm_handler import build_request


def request(text: str, system: str = "", model: str = "fake-model", endpoint: str = "chat") -> LLMRequest:
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": text}]
    return build_request(endpoint, {"model": model, "messages": messages}, {})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rate_limit", Fault("status", 429, 1.0, "Rate limit reached for requests")),
        (429, Fault("status", 429, 1.0, "Rate limit reached for requests")),
        (503, Fault("status", 503)),
        ("timeout", Fault("hang", seconds=30.0)),
        ("malformed", Fault("malformed", status=200)),
        ({"kind": "truncate", "after_chunks": 3}, Fault("truncate", status=200, after_chunks=3)),
        ({"kind": "rate_limit", "retry_after": 5}, Fault("status", 429, 5, "Rate limit reached for requests")),
        ({"status": 502}, Fault("status", 502)),
        ({"kind": "hang", "seconds": 2}, Fault("hang", seconds=2)),
    ],
)
def test_fault_from_shorthands_codes_and_dicts(value: object, expected: Fault) -> None:
    """Faults build from a shorthand name, an HTTP status or a dict naming the kind and its fields."""
    assert Fault.from_value(value) == expected  # type: ignore[arg-type]


def test_unknown_fault_kind_is_rejected() -> None:
    """A dict with an unknown fault kind raises ValueError naming it."""
    with pytest.raises(ValueError, match="explode"):
        Fault.from_value({"kind": "explode"})


def test_rule_from_dict_with_fault_shorthand_and_tool_calls() -> None:
    """Rule.from_dict accepts the dataclass fields; fault shorthands and OpenAI-shaped tool calls are converted."""
    rule = Rule.from_dict(
        {
            "contains": "weather",
            "tool_calls": [{"function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}, "id": "c1"}],
            "fault": "429",
            "times": 1,
        }
    )
    assert rule.fault == Fault.rate_limit()
    assert rule.calls == [ToolCall("get_weather", '{"city": "Oslo"}', "c1")]
    with pytest.raises(ValueError, match="unknown rule keys"):
        Rule.from_dict({"contain": "typo"})


def test_matching_is_case_insensitive_for_substrings_and_glob_for_models() -> None:
    """contains/system ignore case; regex is case-sensitive unless the pattern says otherwise; model is a glob."""
    assert Rule(contains="HELLO").matches(request("well hello there"))
    assert not Rule(regex="HELLO").matches(request("hello"))
    assert Rule(regex="(?i)HELLO").matches(request("hello"))
    assert Rule(system="grader").matches(request("x", system="You are a GRADER"))
    assert not Rule(system="grader").matches(request("x"))
    assert Rule(system_regex=r"^You are").matches(request("x", system="You are a grader"))
    assert Rule(model="judge-*").matches(request("x", model="judge-large"))
    assert not Rule(model="judge-*").matches(request("x", model="gpt"))
    assert not Rule(endpoint="embeddings").matches(request("x"))


def test_text_of_embedding_and_completion_requests() -> None:
    """For embeddings and text completions the matched text is the input / prompt (lists joined by newlines)."""
    embed = build_request("embeddings", {"model": "e", "input": ["a", "b"]}, {})
    assert embed.text == "a\nb"
    completion = build_request("completions", {"model": "m", "prompt": "Once"}, {})
    assert completion.text == "Once"
    assert Rule(endpoint="embeddings", contains="b").matches(embed)


def test_server_from_yaml_config(tmp_path: Path) -> None:
    """A YAML file declares rules (with faults) and options; the server built from it follows them."""
    path = tmp_path / "rules.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "latency": 0.0,
                "embedding_dim": 4,
                "rules": [
                    {"name": "judge", "system": "judge", "reply": '{"score": 1}'},
                    {"name": "down", "contains": "outage", "fault": {"kind": "status", "status": 503}},
                ],
            }
        )
    )
    with FakeLLM.from_config(load_config(path)) as llm:
        url = f"{llm.base_url}/chat/completions"
        judged = httpx.post(
            url,
            json={"model": "m", "messages": [{"role": "system", "content": "judge"}, {"role": "user", "content": "x"}]},
        )
        assert judged.json()["choices"][0]["message"]["content"] == '{"score": 1}'
        assert (
            httpx.post(url, json={"model": "m", "messages": [{"role": "user", "content": "outage"}]}).status_code == 503
        )
        embed = httpx.post(f"{llm.base_url}/embeddings", json={"model": "e", "input": "x"}).json()
        assert len(embed["data"][0]["embedding"]) == 4
        assert [r.name for r in llm.rules] == ["judge", "down"]


def test_add_rule_first_and_set_rules() -> None:
    """add_rule(first=True) takes precedence over earlier rules; set_rules replaces them all."""
    llm = FakeLLM([Rule(reply="old")])
    llm.add_rule(reply="new", first=True)
    assert [r.reply for r in llm.rules] == ["new", "old"]
    assert [r.name for r in llm.rules] == ["rule2", "rule1"]
    llm.set_rules([{"reply": "only"}])
    assert [r.reply for r in llm.rules] == ["only"]

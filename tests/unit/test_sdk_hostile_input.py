"""Hostile values never raise into the app; they are represented, cut, or marked, and stay valid JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassbox
from glassbox.models.span import TRUNCATED_MARKER, parse_span
from glassbox.sdk.capture import Capturer
from glassbox.sdk.testing import InMemorySender


@pytest.fixture
def mem() -> Iterator[InMemorySender]:
    sender = InMemorySender()
    glassbox.init(sender=sender, max_value_bytes=2048, max_depth=8, redact_builtin="")
    yield sender
    glassbox.shutdown(1)


def only_event(mem: InMemorySender) -> dict[str, Any]:
    assert glassbox.flush(5)
    (event,) = mem.events
    parse_span(event)
    json.dumps(event, allow_nan=False)  # strict JSON: no NaN/Infinity literals
    return event


class Unserializable:
    __slots__ = ()

    def __repr__(self) -> str:
        raise RuntimeError("repr explodes")


def echo(value: Any) -> Any:
    @glassbox.span(name="echo")
    def inner(value: Any) -> Any:
        return value

    return inner(value)


def test_unserializable_objects_become_a_described_placeholder(mem: InMemorySender) -> None:
    """An object whose repr raises is returned unchanged to the app and shown as a placeholder."""
    obj = Unserializable()
    assert echo(obj) is obj
    event = only_event(mem)
    assert "repr failed: RuntimeError" in event["output"]


def test_cyclic_structures_are_marked_not_followed(mem: InMemorySender) -> None:
    """A list that contains itself is captured once with a cycle marker in place of the loop."""
    loop: list[Any] = [1]
    loop.append(loop)
    echo(loop)
    event = only_event(mem)
    assert event["output"][0] == 1
    assert event["output"][1][TRUNCATED_MARKER] is True and event["output"][1]["reason"] == "cycle"
    assert {"path": "output", "original_bytes": 0, "reason": "cycle"} in event["truncations"]


def test_huge_strings_are_cut_with_the_original_size(mem: InMemorySender) -> None:
    """A 1 MB string is replaced by a marker with original_bytes and a preview within the cap."""
    echo("x" * 1_000_000)
    event = only_event(mem)
    out = event["output"]
    assert out[TRUNCATED_MARKER] is True and out["original_bytes"] == 1_000_000
    assert len(out["preview"].encode()) <= 2048
    assert {"path": "output", "original_bytes": 1_000_000, "reason": "size"} in event["truncations"]


def test_invalid_utf8_and_lone_surrogates_are_replaced(mem: InMemorySender) -> None:
    """Bytes that are not UTF-8 become a base64 preview; lone surrogates become U+FFFD."""
    echo({"bytes": b"\xff\xfe\x00abc", "text": "ok \ud800 end", "good": "héllo".encode()})
    out = only_event(mem)["output"]
    assert out["bytes"]["glassbox.binary"] is True and out["bytes"]["bytes"] == 6
    assert out["text"] == "ok \ufffd end"
    assert out["good"] == "héllo"


def test_nan_and_infinities_become_strings(mem: InMemorySender) -> None:
    """Non-finite floats are carried as 'NaN', 'Infinity', '-Infinity' so the JSON stays strict."""
    echo([math.nan, math.inf, -math.inf, 1.5])
    assert only_event(mem)["output"] == ["NaN", "Infinity", "-Infinity", 1.5]


def test_deep_nesting_is_cut_at_the_depth_cap(mem: InMemorySender) -> None:
    """Nesting deeper than max_depth ends in a depth marker instead of recursing (no RecursionError)."""
    deep: Any = "bottom"
    for _ in range(5000):
        deep = [deep]
    echo(deep)
    event = only_event(mem)
    node = event["output"]
    levels = 0
    while isinstance(node, list):
        node = node[0]
        levels += 1
    assert node[TRUNCATED_MARKER] is True and node["reason"] == "depth"
    assert levels == 8


def test_wrong_typed_payload_values_move_to_attributes(mem: InMemorySender) -> None:
    """A payload value of the wrong type does not invalidate the span; it is kept under glassbox.invalid.*."""
    with glassbox.generation("g") as g:
        g.update(input_tokens="many", output_tokens=-3, temperature=float("nan"), model=123, cost_usd="0.5")
    event = only_event(mem)
    assert event["payload"]["gen_ai.request.model"] == "123"
    assert event["payload"]["glassbox.usage.cost_usd"] == 0.5
    assert event["attributes"]["glassbox.invalid.gen_ai.usage.input_tokens"] == "many"
    assert event["attributes"]["glassbox.invalid.gen_ai.usage.output_tokens"] == -3
    assert event["attributes"]["glassbox.invalid.gen_ai.request.temperature"] == "NaN"


def test_attribute_count_cap_is_reported(mem: InMemorySender) -> None:
    """Attributes beyond the cap are dropped and counted in dropped_attributes_count."""
    glassbox.init(sender=mem, max_attributes=5)
    with glassbox.span("many") as s:
        s.set_attributes({f"k{i}": i for i in range(12)})
    event = only_event(mem)
    assert len(event["attributes"]) == 5
    assert event["dropped_attributes_count"] == 7


def test_hostile_mapping_and_keys(mem: InMemorySender) -> None:
    """Non-string keys are stringified; a mapping whose items() raises is shown by repr."""

    class BadMap(dict):  # type: ignore[type-arg]
        def items(self) -> Any:
            raise RuntimeError("no items")

    echo({1: "one", (2, 3): "tuple", None: "none", "bad": BadMap(a=1)})
    out = only_event(mem)["output"]
    assert out["1"] == "one" and out["(2, 3)"] == "tuple" and out["None"] == "none"
    assert "repr" in out["bad"]


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(max_size=64),
    st.builds(Unserializable),
    st.sampled_from([object(), {1, 2}, frozenset({"a"}), (1, "t"), 10**40]),
)
values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=6),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), children, max_size=6),
    ),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values)
def test_capture_never_raises_and_always_yields_strict_json(value: Any) -> None:
    """Any mix of odd values captures to strict JSON within the size cap (plus marker overhead)."""
    capturer = Capturer(max_value_bytes=512, max_depth=6)
    cuts: list[dict[str, Any]] = []
    data = capturer.capture(value, "input", cuts)
    text = json.dumps(data, allow_nan=False, ensure_ascii=False)
    assert len(text.encode()) <= 512 + 200
    for cut in cuts:
        assert cut["reason"] in {"size", "depth", "cycle", "unserializable"}

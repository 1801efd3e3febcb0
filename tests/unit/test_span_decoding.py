"""The spans-topic decoder: its one-pass fast path accepts exactly what the element-by-element path accepts."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glassbox.models.messages import Decoded, _decode_slow, decode_span_message
from tests.support.bad_input import MAX_MESSAGE_BYTES, corpus, good_span


def verdict(decoded: Decoded) -> tuple[list[Any], list[int], list[tuple[int, str, str]]]:
    """What a consumer acts on: the accepted spans, their positions, and each rejection with its reason."""
    return (
        [span.model_dump() for span in decoded.spans],
        decoded.indexes,
        [(r.index, r.error_type.value, r.reason) for r in decoded.rejected],
    )


def slow(value: bytes, key: bytes | None) -> Decoded:
    return _decode_slow(value, key, Decoded())


def test_fast_and_slow_paths_agree_on_the_bad_input_corpus() -> None:
    """Every message of the generated corpus (good, invalid, mixed, junk, misrouted, duplicates): same spans,
    same positions, same rejections and reasons, with and without the element dicts."""
    messages = corpus()
    assert len(messages) > 1000
    for message in messages:
        if not message.value or len(message.value) > MAX_MESSAGE_BYTES:
            continue  # refused (empty, oversized) before either path looks at it
        expected = verdict(slow(message.value, message.key))
        assert verdict(decode_span_message(message.value, message.key)) == expected, message.kind
        assert verdict(decode_span_message(message.value, message.key, elements=False)) == expected, message.kind


def test_the_fast_path_hands_over_the_elements_as_received() -> None:
    """The assembler keeps each span's JSON object as it arrived; the fast path gives the same objects."""
    trace = "ab" * 16
    spans = [good_span(trace, metadata={"k": [1, 2]}), good_span(trace, input={"q": "x"})]
    value = json.dumps(spans).encode()
    assert decode_span_message(value, trace.encode()).elements == spans
    assert decode_span_message(value, trace.encode(), elements=False).elements == []


def test_non_finite_numbers_are_refused_as_malformed_json() -> None:
    """NaN and Infinity are not JSON: the message is refused, as the element path's parser refuses it."""
    trace = "cd" * 16
    for literal in ("NaN", "Infinity", "-Infinity"):
        value = json.dumps([good_span(trace)]).replace('"kind"', f'"metadata": {{"x": {literal}}}, "kind"').encode()
        decoded = decode_span_message(value, trace.encode())
        assert decoded.spans == []
        assert [r.error_type.value for r in decoded.rejected] == ["malformed_json"]
    text = good_span(trace, input="NaN and Infinity are fine inside strings")
    assert len(decode_span_message(json.dumps([text]).encode(), trace.encode()).spans) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)
FIELDS = [
    "schema_version", "trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano",
    "end_time_unix_nano", "status", "resource", "session_id", "user_id", "tags", "metadata", "attributes",
    "input", "output", "events", "scores", "dropped_attributes_count", "truncations", "payload", "cohort",
]  # fmt: skip


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(FIELDS), json_values), max_size=3), st.integers(1, 3), st.booleans())
def test_fast_and_slow_paths_agree_on_arbitrary_field_values(
    changes: list[tuple[str, Any]], spans: int, as_object: bool
) -> None:
    """Any JSON value in any field of any span of a message: both paths reach the same verdict."""
    trace = "ef" * 16
    docs = [good_span(trace) for _ in range(spans)]
    for i, (field, value) in enumerate(changes):
        docs[i % spans][field] = value
    value = json.dumps(docs[0] if as_object else docs).encode()
    assert verdict(decode_span_message(value, trace.encode())) == verdict(slow(value, trace.encode()))


TRACE_ID = "trace id must be 32 lowercase hex digits, not all zeros (W3C trace-id)"
SPAN_ID = "span id must be 16 lowercase hex digits, not all zeros (W3C parent-id)"
BAD_IDS = [
    ("trace_id", "0" * 32, TRACE_ID),
    ("trace_id", "A" * 32, TRACE_ID),
    ("trace_id", "a" * 31, TRACE_ID),
    ("span_id", "0" * 16, SPAN_ID),
    ("span_id", "a" * 17, SPAN_ID),
    ("parent_span_id", "g" * 16, SPAN_ID),
    ("span_id", 12, "Input should be a valid string"),
]


def test_a_bad_id_is_rejected_with_a_readable_reason() -> None:
    """Ids are checked by pydantic-core constraints; the reason still names the id format, not a regex."""
    for field, value, reason in BAD_IDS:
        decoded = decode_span_message(json.dumps([good_span(**{field: value})]).encode())
        assert not decoded.spans, (field, value)
        assert [r.reason for r in decoded.rejected] == [f"{field}: {reason}"], (field, value)

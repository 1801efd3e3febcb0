"""A generated corpus of span messages: valid ones, invalid ones of every kind, and batches mixing both.

Built with hypothesis strategies (derandomized, no shrinking) so it is the same
corpus on every run. Each message says how many valid spans it carries and how
many dead letters it must produce.
"""

from __future__ import annotations

import json
import time
import zlib
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

T0 = (time.time_ns() // 3_600_000_000_000 - 1) * 3_600_000_000_000
"""An hour ago, on the hour: recent enough to outlive the tables' TTL, stable within a run."""
MAX_MESSAGE_BYTES = 64_000
"""The worker under test runs with GLASSBOX_PIPELINE_MAX_MESSAGE_BYTES set to this."""


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes
    good_spans: int
    dead_letters: int
    kind: str


_counter = iter(range(1, 10**9))


def _ids() -> tuple[str, str]:
    n = next(_counter)
    return f"{n:032x}", f"{n:016x}"


def good_span(trace: str | None = None, **overrides: Any) -> dict[str, Any]:
    trace_id, span_id = _ids()
    span: dict[str, Any] = {
        "schema_version": 1,
        "trace_id": trace or trace_id,
        "span_id": span_id,
        "name": "work",
        "kind": "span",
        "start_time_unix_nano": T0,
        "end_time_unix_nano": T0 + 1000,
    }
    span.update(overrides)
    return span


BAD_FIELDS: list[tuple[str, Any]] = [
    ("schema_version", 2), ("schema_version", 0), ("schema_version", "1"), ("schema_version", None),
    ("schema_version", True), ("trace_id", "ABCDEF0123456789ABCDEF0123456789"), ("trace_id", "00" * 16),
    ("trace_id", "short"), ("trace_id", 12345), ("span_id", "0" * 16), ("span_id", "xyz"), ("name", ""),
    ("name", None), ("kind", "llm"), ("kind", 7), ("start_time_unix_nano", "yesterday"),
    ("start_time_unix_nano", 12), ("end_time_unix_nano", T0 - 10), ("end_time_unix_nano", 99 * 10**18),
    ("status", {"code": "broken"}), ("status", "error"), ("tags", "not-a-list"), ("attributes", [1, 2]),
    ("unexpected_field", 1), ("parent_span_id", "nothex!!nothex!!"),
]  # fmt: skip
"""Field → a value the contract refuses."""

bad_elements = st.tuples(st.sampled_from(BAD_FIELDS), st.text(min_size=1, max_size=40), st.integers(0, 10**9))
"""(field, refused value) plus a name and a time offset, so every generated span differs."""
junk_bytes = st.binary(min_size=1, max_size=200).filter(lambda b: not _is_valid_json_container(b))
scalars = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=20), st.booleans(), st.none())


def _is_valid_json_container(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict | list)
    except (ValueError, UnicodeDecodeError):
        return False


def _bad_span(case: tuple[tuple[str, Any], str, int]) -> dict[str, Any]:
    (field, value), name, offset = case
    span = good_span(name=name, start_time_unix_nano=T0 + offset, end_time_unix_nano=T0 + offset + 1000)
    if field == "kind" and value == "llm":
        span["payload"] = {}
    span[field] = value
    return span


def _collect(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    out: list[Any] = []

    @settings(
        max_examples=n,
        derandomize=True,
        phases=[Phase.generate],
        database=None,
        suppress_health_check=list(HealthCheck),
        deadline=None,
    )
    @given(strategy)
    def run(value: Any) -> None:
        out.append(value)

    run()
    return out


def corpus(scale: int = 1) -> list[Message]:
    """About 1,500 × scale messages: good, bad of each kind, and mixed batches."""
    messages: list[Message] = []
    for _ in range(600 * scale):  # good batches of 1..4 spans
        trace = _ids()[0]
        spans = [good_span(trace) for _ in range(1 + len(messages) % 4)]
        messages.append(Message(trace.encode(), json.dumps(spans).encode(), len(spans), 0, "good"))
    for case in _collect(bad_elements, 300 * scale):  # one invalid span, alone
        span = _bad_span(case)
        key = span["trace_id"].encode() if isinstance(span.get("trace_id"), str) else b"k"
        messages.append(Message(key, json.dumps([span]).encode(), 0, 1, "invalid"))
    for case in _collect(bad_elements, 200 * scale):  # invalid spans next to valid ones, same message
        trace = _ids()[0]
        good = [good_span(trace), good_span(trace)]
        bad = _bad_span(case)
        if isinstance(bad.get("trace_id"), str) and case[0][0] != "trace_id":
            bad["trace_id"] = trace
        messages.append(Message(trace.encode(), json.dumps([good[0], bad, good[1]]).encode(), 2, 1, "mixed"))
    for data in _collect(junk_bytes, 200 * scale):  # not JSON at all (or invalid UTF-8)
        messages.append(Message(b"junk", data, 0, 1, "malformed_json"))
    for value in _collect(scalars, 100 * scale):  # JSON, but not an object or an array
        messages.append(Message(b"scalar", json.dumps(value).encode(), 0, 1, "wrong_type"))
    for i in range(50 * scale):  # arrays of non-objects: one dead letter per element
        messages.append(Message(b"arr", json.dumps([i, "x"]).encode(), 0, 2, "wrong_type_elements"))
    for _ in range(30 * scale):  # oversized
        trace = _ids()[0]
        big = good_span(trace, input="x" * (MAX_MESSAGE_BYTES + 10))
        messages.append(Message(trace.encode(), json.dumps([big]).encode(), 0, 1, "oversized"))
    for _ in range(50 * scale):  # duplicate span ids in one message: the second is refused
        trace = _ids()[0]
        first = good_span(trace)
        messages.append(
            Message(trace.encode(), json.dumps([first, dict(first, name="again")]).encode(), 1, 1, "duplicate")
        )
    for _ in range(50 * scale):  # keyed by something else: re-routed under the trace id, not lost
        span = good_span()
        messages.append(Message(b"wrong-key", json.dumps(span).encode(), 1, 0, "misrouted"))
    for _ in range(20 * scale):  # empty values
        messages.append(Message(b"empty", b"", 0, 1, "empty"))
    # interleave the kinds so bad and good messages share fetch batches
    return sorted(messages, key=lambda m: zlib.crc32(m.value) % 9973)

"""Deterministic ratio sampling decided from the trace id.

Every replica, every process of a distributed trace and every replay makes the
same decision for the same trace id and ratio (the OpenTelemetry
TraceIdRatioBased rule: keep when the low 64 bits of the id fall under
ratio × 2^64). A salt gives independent decisions for different purposes
(head sampling vs. one evaluator binding) that are still deterministic.
"""

from __future__ import annotations

import hashlib

_MAX = 1 << 64


def _bound(ratio: float) -> int:
    if ratio <= 0.0:
        return 0
    if ratio >= 1.0:
        return _MAX
    return int(ratio * _MAX)


def keep_trace_int(trace_id: int, ratio: float) -> bool:
    """Head-sampling decision for an integer trace id (the SDK's hot path)."""
    return (trace_id & 0xFFFFFFFFFFFFFFFF) < _bound(ratio)


def keep_trace(trace_id: str, ratio: float, salt: str = "") -> bool:
    """Sampling decision for a hex trace id; a non-empty salt decorrelates different samplers."""
    if ratio >= 1.0:
        return True
    if ratio <= 0.0:
        return False
    if salt:
        low = int.from_bytes(hashlib.blake2b(f"{salt}:{trace_id}".encode(), digest_size=8).digest(), "big")
    else:
        low = int(trace_id[-16:], 16)
    return low < _bound(ratio)

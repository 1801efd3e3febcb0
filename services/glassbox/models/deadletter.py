"""Dead letters: what could not be processed, with the raw bytes and the reason."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Literal, Protocol

from pydantic import Field

from glassbox.models.messages import Rejected, RejectReason
from glassbox.models.span import _Model


class DeadLetter(_Model):
    schema_version: Literal[1] = 1
    id: str
    """Deterministic: the same message element dead-lettered twice gets the same id."""
    stage: str
    """Which component rejected it: assembler, sink, evaluator."""
    source_topic: str
    partition: int = -1
    offset: int = -1
    index: int = -1
    """Position of the element inside a batch message; -1 for the whole message."""
    key: str | None = None
    error_type: RejectReason
    reason: str
    raw_base64: str = ""
    """The rejected bytes, base64-encoded."""
    raw_size: int = Field(0, ge=0)
    created_at_unix_nano: int = 0

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.raw_base64)


MAX_RAW_BYTES = 256 * 1024
"""Raw bytes kept in a dead letter; longer input is cut (the reason says so) to keep the record under Kafka's 1 MB."""


def dead_letter_id(source_topic: str, partition: int, offset: int, index: int, stage: str) -> str:
    return hashlib.sha256(f"{stage}:{source_topic}:{partition}:{offset}:{index}".encode()).hexdigest()[:32]


class MessageOrigin(Protocol):
    """Where a message came from: a Kafka consumer record (aiokafka, faust) or the sink's source."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...


def dead_letter_of(rejected: Rejected, stage: str, origin: MessageOrigin) -> DeadLetter:
    """The dead-letter record of a rejection found in the message at ``origin``."""
    return make_dead_letter(
        rejected,
        stage=stage,
        source_topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
        key=origin.key,
    )


def make_dead_letter(
    rejected: Rejected,
    *,
    stage: str,
    source_topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    max_raw_bytes: int = MAX_RAW_BYTES,
) -> DeadLetter:
    """Build the dead-letter record of one rejection. Raw bytes above ``max_raw_bytes`` are cut (and it says so)."""
    raw = rejected.raw
    reason = rejected.reason
    if len(raw) > max_raw_bytes:
        reason = f"{reason} [raw bytes cut from {len(raw)} to {max_raw_bytes}]"
        size = len(raw)
        raw = raw[:max_raw_bytes]
    else:
        size = len(raw)
    return DeadLetter(
        id=dead_letter_id(source_topic, partition, offset, rejected.index, stage),
        stage=stage,
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        index=rejected.index,
        key=key.decode("utf-8", "replace")[:256] if key is not None else None,
        error_type=rejected.error_type,
        reason=reason[:8192],
        raw_base64=base64.b64encode(raw).decode("ascii"),
        raw_size=size,
        created_at_unix_nano=time.time_ns(),
    )

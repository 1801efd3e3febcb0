"""Error classes the sink acts on, its backoff, and log ids."""

from __future__ import annotations

import random
import struct

import pytest
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError, ProgrammingError

from glassbox.common.clickhouse import is_bad_data, is_retryable
from glassbox.sink.convert import preview
from glassbox.sink.logs import log_id
from glassbox.sink.stats import Backoff


@pytest.mark.parametrize(
    ("exc", "retryable", "bad_data"),
    [
        (OperationalError("connection refused"), True, False),
        (ConnectionRefusedError(), True, False),
        (TimeoutError(), True, False),
        (DatabaseError("Code: 241. memory", code=241), True, False),
        (DatabaseError("Code: 252. too many parts", code=252), True, False),
        (DatabaseError("Code: 319. unknown status of insert", code=319), True, False),
        (DataError("Unable to create native array for column `x`"), False, True),
        (DatabaseError("Code: 53. type mismatch", code=53), False, True),
        (DatabaseError("Code: 469. violated constraint", code=469), False, True),
        (ValueError("invalid literal for int()"), False, True),
        (struct.error("argument out of range"), False, True),
        (ProgrammingError("Code: 60. unknown table", code=60), False, False),
    ],
)
def test_errors_are_told_apart(exc: BaseException, retryable: bool, bad_data: bool) -> None:
    """Unavailability and overload retry; conversion and range errors are bad data; the rest is neither."""
    assert (is_retryable(exc), is_bad_data(exc)) == (retryable, bad_data)


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    """Attempt n waits between half and all of min(cap, base * 2**n); reset starts over."""
    backoff = Backoff(0.2, 5.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [min(5.0, 0.2 * 2**n) for n in range(8)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert max(delays) <= 5.0
    backoff.reset()
    assert backoff.next_delay() <= 0.2


def test_log_ids_name_cluster_and_topic_incarnation() -> None:
    """The log id joins cluster id and topic id; a missing or zero topic id leaves the cluster id alone."""
    assert log_id("tansu_cluster", "01a2-uuid") == "tansu_cluster/01a2-uuid"
    assert log_id("c", None) == log_id("c", "AAAAAAAAAAAAAAAAAAAAAA") == "c/"


def test_previews_are_valid_text_of_bounded_length() -> None:
    """Invalid UTF-8 is replaced and the preview is cut at the limit."""
    assert preview(b"\xffok") == "\ufffdok"
    assert preview("é".encode() * 5000, limit=10) == "é" * 10

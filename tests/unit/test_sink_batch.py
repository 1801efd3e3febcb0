"""Buffers, batches and commit positions: a commit never covers a row that is not stored."""

from __future__ import annotations

from glassbox.sink.batch import Progress, TableBuffer
from glassbox.sink.process import PendingRow
from glassbox.sink.tables import Source

P0 = ("glassbox.spans", 0)
P1 = ("glassbox.spans", 1)


def rows(tp: tuple[str, int], offset: int, n: int = 1) -> list[PendingRow]:
    src = Source("c/t", tp[0], tp[1], offset)
    return [PendingRow([offset, i], src, i, b"") for i in range(n)]


def test_a_buffer_is_due_when_full_or_old() -> None:
    """Due at max_rows rows, or once its oldest row is max_age seconds old; never when empty."""
    buffer = TableBuffer("spans")
    assert not buffer.due(100.0, 10, 1.0)
    buffer.add(P0, 5, rows(P0, 5, 3), now=100.0)
    assert not buffer.due(100.5, 10, 1.0)
    assert buffer.due(101.0, 10, 1.0)
    buffer.add(P0, 6, rows(P0, 6, 7), now=100.6)
    assert buffer.due(100.6, 10, 1.0)


def test_freezing_moves_every_row_into_a_batch_with_a_token() -> None:
    """freeze() empties the buffer; the batch keeps the first offset per partition and a dedup token."""
    buffer = TableBuffer("spans")
    buffer.add(P0, 5, rows(P0, 5), now=1.0)
    buffer.add(P1, 9, rows(P1, 9), now=1.0)
    buffer.add(P0, 6, rows(P0, 6), now=1.0)
    batch = buffer.freeze()
    assert (len(batch.rows), batch.first_offsets, len(batch.token)) == (3, {P0: 5, P1: 9}, 32)
    assert (buffer.rows, buffer.first_offsets, buffer.since) == ([], {}, None)


def test_commit_positions_stop_at_the_first_unstored_row() -> None:
    """A partition commits up to its first pending row (buffered or in flight), else past its last message,
    and never back to or before the position it was first read from."""
    progress = Progress()
    for offset in range(10, 15):
        progress.consumed(P0, offset)
    progress.consumed(P1, 3)
    assert progress.committable([{P0: 12}, {}]) == {P0: 12, P1: 4}
    assert progress.committable([{P0: 12}, {P0: 11, P1: 3}]) == {P0: 11}  # P1 read from 3: nothing to commit
    assert progress.committable([{P0: 10}]) == {P1: 4}
    assert progress.committable([], only={P1}) == {P1: 4}
    progress.mark_committed({P0: 15, P1: 4})
    assert progress.committable([]) == {}
    progress.forget({P0})
    assert progress.committable([]) == {}
    progress.consumed(P0, 20)
    assert progress.committable([]) == {P0: 21}


def test_dropping_partitions_removes_their_rows_and_renews_the_batch_token() -> None:
    """Rows of revoked partitions leave buffers and batches; a batch whose content changed gets a new token."""
    buffer = TableBuffer("spans")
    buffer.add(P0, 1, rows(P0, 1, 2), now=1.0)
    buffer.add(P1, 4, rows(P1, 4), now=1.0)
    batch = buffer.freeze()
    token = batch.token
    buffer.add(P1, 5, rows(P1, 5), now=2.0)
    assert batch.drop_partitions({P0}) == 2
    assert (len(batch.rows), batch.first_offsets) == (1, {P1: 4})
    assert batch.token != token
    unchanged = batch.token
    assert batch.drop_partitions({("other", 0)}) == 0 and batch.token == unchanged
    assert buffer.drop_partitions({P1}) == 1
    assert (buffer.rows, buffer.since) == ([], None)

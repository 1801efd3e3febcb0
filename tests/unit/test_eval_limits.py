"""Rate limits and cost budgets with an injectable clock, the done-table encoding, and the spend ledger."""

from __future__ import annotations

import asyncio

from glassbox.evaluators.ledger import DoneEntry, TableLedger, decode_done, encode_done
from glassbox.evaluators.limits import WAIT, Limiter, Limits, MemoryLedger, Ticket, windows
from glassbox.models.evaluation import evaluation_id


class Clock:
    def __init__(self, now: float = 1_795_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_rate_limit_refuses_beyond_n_per_minute_then_recovers() -> None:
    """With 3 calls/min the 4th call in the same minute is refused with the reason; a minute later it runs."""
    clock = Clock()
    limiter = Limiter({"judge": Limits(rate_per_min=3)}, clock=clock)
    assert all(isinstance(limiter.admit("judge"), Ticket) for _ in range(3))
    assert limiter.admit("judge") == "rate limit of 3 calls/min reached"
    assert limiter.refused[("judge", "rate")] == 1
    clock.now += 60.5
    assert isinstance(limiter.admit("judge"), Ticket)


def test_daily_budget_is_exhausted_by_booked_costs() -> None:
    """Once booked costs reach the daily budget, calls are refused with 'daily budget of $X exhausted'."""
    limiter = Limiter({"judge": Limits(day_usd=0.01)}, clock=Clock())
    for _ in range(2):
        ticket = limiter.admit("judge")
        assert isinstance(ticket, Ticket)
        limiter.settle(ticket, 0.005)
    reason = limiter.admit("judge")
    assert isinstance(reason, str) and reason.startswith("daily budget of $0.01 exhausted")


def test_reservations_stop_concurrent_calls_from_overshooting() -> None:
    """With a known cost per call, in-flight calls reserve it: a $0.01 budget at $0.004 a call admits two at once."""
    limiter = Limiter({"judge": Limits(day_usd=0.01)}, clock=Clock())
    first = limiter.admit("judge")
    assert isinstance(first, Ticket)
    limiter.settle(first, 0.004)
    second, third = limiter.admit("judge"), limiter.admit("judge")
    assert isinstance(second, Ticket) and isinstance(third, str)


def test_first_call_of_a_budgeted_evaluator_goes_alone() -> None:
    """Until a cost is known, a second concurrent call waits (WAIT); acquire() resumes it after settle."""
    limiter = Limiter({"judge": Limits(day_usd=1.0)}, clock=Clock())
    first = limiter.admit("judge")
    assert isinstance(first, Ticket) and limiter.admit("judge") == WAIT

    async def scenario() -> object:
        waiter = asyncio.ensure_future(limiter.acquire("judge"))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        limiter.settle(first, 0.001)
        return await asyncio.wait_for(waiter, 1)

    assert isinstance(asyncio.run(scenario()), Ticket)


def test_hourly_budget_resets_with_the_next_hour() -> None:
    """An exhausted hourly budget admits calls again in the next UTC hour."""
    clock = Clock(1_795_000_000.0 - 1_795_000_000.0 % 3600 + 10)
    limiter = Limiter({"judge": Limits(hour_usd=0.001)}, clock=clock)
    limiter.settle(limiter.admit("judge"), 0.002)  # type: ignore[arg-type]
    assert str(limiter.admit("judge")).startswith("hourly budget of $0.001 exhausted")
    clock.now += 3600
    assert isinstance(limiter.admit("judge"), Ticket)


def test_unlimited_evaluators_are_always_admitted() -> None:
    """Evaluators without limits get tickets and book nothing."""
    limiter = Limiter({}, clock=Clock())
    assert all(isinstance(limiter.admit("rules"), Ticket) for _ in range(1000))


def test_done_entries_round_trip() -> None:
    """The done-table value keeps its time, ids and stored results."""
    ids = {evaluation_id("a" * 32, 1, f"e{i}", "1") for i in range(5)}
    entry = DoneEntry(123.5, frozenset(ids), {"f" * 32: ['{"x": 1}']})
    assert decode_done(encode_done(entry)) == entry
    assert decode_done(None) == DoneEntry()
    assert len(encode_done(DoneEntry(1.0, frozenset(ids)))) == 12 + 16 * 5


def test_table_ledger_sums_instances_and_keeps_its_own_share() -> None:
    """Spend is summed over every instance's key; each instance writes only its own."""
    table: dict[bytes, bytes] = {TableLedger.key("judge", "d:2026-11-25", "other"): b"0.5"}
    ledger = TableLedger(table, "me", clock=Clock())
    ledger.add("judge", "d:2026-11-25", 0.25)
    ledger.add("judge", "d:2026-11-25", 0.25)
    assert ledger.spent("judge", "d:2026-11-25") == 1.0
    assert table[TableLedger.key("judge", "d:2026-11-25", "me")] == b"0.5"
    assert TableLedger(table, "restarted").spent("judge", "d:2026-11-25") == 1.0


def test_table_ledger_expires_old_windows() -> None:
    """Entries of windows more than two days old are deleted."""
    clock = Clock()
    hour, day = windows(clock.now - 5 * 86_400)
    table = {TableLedger.key("j", day, "x"): b"1", TableLedger.key("j", windows(clock.now)[1], "x"): b"1"}
    assert TableLedger(table, "me", clock=clock).expire() == 1 and len(table) == 1
    assert hour.startswith("h:")


def test_memory_ledger_adds_up() -> None:
    """The in-process ledger sums what is added per window."""
    ledger = MemoryLedger()
    ledger.add("j", "d:x", 0.1)
    ledger.add("j", "d:x", 0.2)
    assert round(ledger.spent("j", "d:x"), 9) == 0.3

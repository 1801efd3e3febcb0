"""Per-evaluator rate limits (calls per minute) and cost budgets (USD per UTC hour and per UTC day).

Before a costly evaluation runs, :meth:`Limiter.acquire` either hands out a :class:`Ticket` or says
why not ("daily budget of $5 exhausted ($5.0012 spent)"); the runner then stores the evaluation as
skipped with that reason. A ticket reserves the evaluator's average cost per call so concurrent
calls cannot overshoot the budget by more than the estimate's error (until the first call of a
budgeted evaluator has told its cost, the others wait for it; a window with nothing spent yet
always admits one call, even one estimated above the whole budget); :meth:`Limiter.settle` books
the actual cost. Spend lives in a :class:`SpendLedger` (shared and persistent in the worker, see
:mod:`glassbox.evaluators.ledger`); rate limits are per process. The clock is injectable.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from glassbox.evaluators.config import EvaluatorsConfig


@dataclass(frozen=True, slots=True)
class Limits:
    rate_per_min: int | None = None
    hour_usd: float | None = None
    day_usd: float | None = None

    @property
    def any(self) -> bool:
        return self.rate_per_min is not None or self.hour_usd is not None or self.day_usd is not None


class SpendLedger(Protocol):
    """Dollars spent per (evaluator, window); ``window`` is 'h:2026-11-25T08' or 'd:2026-11-25'."""

    def spent(self, evaluator: str, window: str) -> float: ...

    def add(self, evaluator: str, window: str, usd: float) -> None: ...


class MemoryLedger:
    """A ledger in this process's memory (tests, the CLI)."""

    def __init__(self) -> None:
        self.totals: dict[tuple[str, str], float] = {}

    def spent(self, evaluator: str, window: str) -> float:
        return self.totals.get((evaluator, window), 0.0)

    def add(self, evaluator: str, window: str, usd: float) -> None:
        self.totals[(evaluator, window)] = self.spent(evaluator, window) + usd


def windows(now_s: float) -> tuple[str, str]:
    """(hour window, day window) keys of a UTC time."""
    moment = datetime.fromtimestamp(now_s, UTC)
    return f"h:{moment:%Y-%m-%dT%H}", f"d:{moment:%Y-%m-%d}"


@dataclass(slots=True)
class Ticket:
    evaluator: str
    hour: str
    day: str
    reserved: float


WAIT = "wait"
"""What :meth:`Limiter.admit` says while a budgeted evaluator's first call is still out: its cost is unknown."""


@dataclass
class _State:
    calls: deque[float] = field(default_factory=deque)
    reserved: float = 0.0
    cost_sum: float = 0.0
    cost_calls: int = 0
    in_flight: int = 0
    settled: asyncio.Event | None = None

    @property
    def estimate(self) -> float:
        return self.cost_sum / self.cost_calls if self.cost_calls else 0.0


class Limiter:
    """Admits or refuses costly evaluations; counts refusals per evaluator and kind (rate, hourly, daily)."""

    def __init__(
        self,
        limits: dict[str, Limits],
        ledger: SpendLedger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = {name: lim for name, lim in limits.items() if lim.any}
        self.ledger: SpendLedger = ledger or MemoryLedger()
        self.clock = clock
        self._state: dict[str, _State] = {}
        self.refused: Counter[tuple[str, str]] = Counter()

    @classmethod
    def from_config(
        cls, config: EvaluatorsConfig, ledger: SpendLedger | None = None, clock: Callable[[], float] = time.time
    ) -> Limiter:
        limits = {
            name: Limits(spec.rate_limit_per_min, spec.budget_usd_per_hour, spec.budget_usd_per_day)
            for name, spec in config.evaluators.items()
        }
        return cls(limits, ledger, clock)

    async def acquire(self, evaluator: str) -> Ticket | str:
        """Like :meth:`admit`, waiting while a budgeted evaluator's cost per call is not known yet."""
        while True:
            ticket = self.admit(evaluator)
            if ticket != WAIT:
                return ticket
            state = self._state[evaluator]
            if state.settled is None:
                state.settled = asyncio.Event()
            state.settled.clear()
            await state.settled.wait()

    def admit(self, evaluator: str) -> Ticket | str:
        """A ticket to run ``evaluator`` now, the reason it may not run, or WAIT: while a budgeted
        evaluator has no cost figure yet, one call goes out alone to learn it."""
        now = self.clock()
        hour, day = windows(now)
        limits = self.limits.get(evaluator)
        if limits is None:
            return Ticket(evaluator, hour, day, 0.0)
        state = self._state.setdefault(evaluator, _State())
        calls = state.calls
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        if limits.rate_per_min is not None and len(calls) >= limits.rate_per_min:
            return self._refuse(evaluator, "rate", f"rate limit of {limits.rate_per_min} calls/min reached")
        budgeted = limits.hour_usd is not None or limits.day_usd is not None
        if budgeted and state.cost_calls == 0 and state.in_flight > 0:
            return WAIT
        estimate = state.estimate
        for kind, budget, window in (("hourly", limits.hour_usd, hour), ("daily", limits.day_usd, day)):
            if budget is None:
                continue
            committed = self.ledger.spent(evaluator, window) + state.reserved
            if committed >= budget or (committed > 0 and committed + estimate > budget):
                return self._refuse(
                    evaluator, kind, f"{kind} budget of ${budget:g} exhausted (${committed:.6g} spent or reserved)"
                )
        calls.append(now)
        state.reserved += estimate
        state.in_flight += 1
        return Ticket(evaluator, hour, day, estimate)

    def settle(self, ticket: Ticket, cost_usd: float) -> None:
        """Book what a call admitted by ``ticket`` actually cost (0 for free or failed calls)."""
        state = self._state.get(ticket.evaluator)
        if state is None:
            return
        state.reserved = max(0.0, state.reserved - ticket.reserved)
        state.in_flight = max(0, state.in_flight - 1)
        if state.settled is not None:
            state.settled.set()
        if cost_usd > 0:
            state.cost_sum += cost_usd
            state.cost_calls += 1
            self.ledger.add(ticket.evaluator, ticket.hour, cost_usd)
            self.ledger.add(ticket.evaluator, ticket.day, cost_usd)

    def _refuse(self, evaluator: str, kind: str, reason: str) -> str:
        self.refused[(evaluator, kind)] += 1
        return reason

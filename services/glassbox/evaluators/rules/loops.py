"""Rules on agent trajectories: repeated identical tool calls, action→error→action cycles, iteration limits.

Both file failures under reasoning_loop.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from pydantic import Field

from glassbox.evaluators.params import Params
from glassbox.evaluators.types import Evaluator, Outcome, failed, not_applicable, passed
from glassbox.evaluators.view import TraceView, is_error
from glassbox.models.evaluation import FailureCategory


def canonical(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


class LoopParams(Params):
    max_identical_calls: int = Field(3, ge=2)
    """Fail when one tool is called this many times with identical arguments."""
    max_error_retries: int = Field(2, ge=1)
    """Fail when a tool is called again after failing, and fails again, this many times in a row."""


class LoopDetector(Evaluator):
    """Fails on ``max_identical_calls`` identical tool calls, or on an action→error→action cycle repeated
    ``max_error_retries`` times (the same tool called again right after it failed, and failing again)."""

    type_name = "loop_detector"
    category = FailureCategory.REASONING_LOOP
    params_model = LoopParams
    params: LoopParams

    def check(self, view: TraceView) -> Outcome:
        tools = view.tools
        if not tools:
            return not_applicable("the trace made no tool calls")
        same: dict[tuple[str, str], list[str]] = defaultdict(list)
        for span in tools:
            same[(span.payload.name, canonical(span.payload.arguments))].append(span.span_id)
        (name, args), ids = max(same.items(), key=lambda kv: len(kv[1]))
        if len(ids) >= self.params.max_identical_calls:
            return failed(
                f"tool {name!r} called {len(ids)} times with identical arguments",
                span_id=ids[-1],
                tool=name,
                arguments=args[:500],
                calls=len(ids),
                span_ids=ids[:20],
                limit=self.params.max_identical_calls,
            )
        cycle = self._error_cycle(view)
        if cycle:
            return failed(
                f"tool {cycle[0]!r} failed and was retried {len(cycle[1]) - 1} times, failing again each time",
                span_id=cycle[1][-1],
                tool=cycle[0],
                span_ids=cycle[1][:20],
                retries=len(cycle[1]) - 1,
                limit=self.params.max_error_retries,
            )
        return passed(f"no loop in {len(tools)} tool call(s)", max_identical=len(ids))

    def _error_cycle(self, view: TraceView) -> tuple[str, list[str]] | None:
        """The longest run of consecutive failing calls of one tool, when it reaches the retry limit."""
        run: list[str] = []
        run_tool: str | None = None
        best: tuple[str, list[str]] | None = None
        for span in view.tools:
            if is_error(span) and span.payload.name == run_tool:
                run.append(span.span_id)
            elif is_error(span):
                run_tool, run = span.payload.name, [span.span_id]
            else:
                run_tool, run = None, []
            retries = len(run) - 1
            if (
                run_tool is not None
                and retries >= self.params.max_error_retries
                and (best is None or len(run) > len(best[1]))
            ):
                best = (run_tool, list(run))
        return best


class IterationParams(Params):
    max_iterations: int = Field(10, ge=1)
    """Fail when the agent took more steps than this (agent spans, or LLM calls when there are none)."""


class IterationLimit(Evaluator):
    """Fails when an agent ran more iterations than ``max_iterations``, or reached its own declared
    ``glassbox.agent.max_iterations`` guard (it was cut off rather than finishing).

    Iterations are the agent spans that carry ``glassbox.agent.iteration`` (else every agent span);
    traces without agent spans but with tool calls count their LLM calls.
    """

    type_name = "iteration_limit"
    category = FailureCategory.REASONING_LOOP
    params_model = IterationParams
    params: IterationParams

    def check(self, view: TraceView) -> Outcome:
        steps = [s for s in view.agent_steps if s.payload.iteration is not None] or view.agent_steps
        if steps:
            count = len(steps)
            last = max(steps, key=lambda s: s.start_time_unix_nano).span_id
            declared = max((s.payload.max_iterations or 0 for s in steps), default=0)
            if declared and count >= declared:
                return failed(
                    f"the agent ran {count} iterations and hit its own limit of {declared}",
                    span_id=last,
                    iterations=count,
                    declared_limit=declared,
                )
        elif view.tools:
            count = len(view.generations)
            last = view.generations[-1].span_id if view.generations else view.tools[-1].span_id
        else:
            return not_applicable("not an agent trace (no agent steps, no tool calls)")
        if count > self.params.max_iterations:
            return failed(
                f"{count} iterations exceed the limit of {self.params.max_iterations}",
                span_id=last,
                iterations=count,
                limit=self.params.max_iterations,
            )
        return passed(f"{count} iteration(s) within {self.params.max_iterations}", iterations=count)

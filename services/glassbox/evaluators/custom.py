"""Custom evaluators: a user's Python function, sync or async, named in the config or by an entry point.

::

    # mypkg/checks.py
    from glassbox.evaluators import Verdict

    def no_apology(trace):                      # trace: glassbox.models.trace.AssembledTrace
        bad = "sorry" in str(trace.output).lower()
        return Verdict(passed=not bad, reason="apologised" if bad else "", span_id=trace.root_span_id)

    # evaluators.yaml:   no_apology: {type: custom, function: "mypkg.checks:no_apology",
    #                                 failure_category: instruction_drift}
    # or pyproject.toml: [project.entry-points."glassbox.evaluators"] no_apology = "mypkg.checks:no_apology"

The function gets the :class:`~glassbox.models.trace.AssembledTrace` (and the evaluator's ``params``
dict when it takes a second argument) and returns a :class:`~glassbox.evaluators.types.Verdict`,
a :class:`~glassbox.evaluators.types.Score`, a list of them (each named), or None (skipped). Sync
functions run in a worker thread, so a slow one never blocks the event loop. An exception, or a
return value of another type, is recorded as an evaluator error.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from glassbox.evaluators.config import ConfigFileError, EvaluatorSpec
from glassbox.evaluators.types import (
    Evaluator,
    EvaluatorType,
    Outcome,
    Score,
    Verdict,
    errored,
    not_applicable,
    outcome_of,
)
from glassbox.evaluators.view import TraceView
from glassbox.models.evaluation import FailureCategory

ENTRY_POINT_GROUP = "glassbox.evaluators"


def import_function(path: str) -> Callable[..., Any]:
    """The callable at ``package.module:function``."""
    module_name, _, attr = path.partition(":")
    module = importlib.import_module(module_name)
    fn = getattr(module, attr)
    if not callable(fn):
        raise TypeError(f"{path} is not callable")
    return fn


def load_entry_point(name: str) -> Callable[..., Any]:
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            fn = ep.load()
            if not callable(fn):
                raise TypeError(f"entry point {name} is not callable")
            return fn
    raise LookupError(f"no entry point {name!r} in group {ENTRY_POINT_GROUP}")


def build_custom(name: str, spec: EvaluatorSpec) -> CustomEvaluator:
    """Import the function a custom spec names; a failure is a ConfigFileError naming the field."""
    field, target = ("function", spec.function) if spec.function else ("entry_point", spec.entry_point)
    try:
        fn = import_function(str(target)) if spec.function else load_entry_point(str(target))
    except Exception as exc:
        raise ConfigFileError(f"evaluators.{name}.{field}: cannot load {target}: {exc!r}") from None
    return CustomEvaluator(name, spec.version, spec.params, spec.failure_category, fn)


def to_outcomes(value: Any) -> list[Outcome]:
    """The outcomes of a custom function's return value; raises TypeError for anything unexpected."""
    if value is None:
        return [not_applicable("the custom evaluator returned nothing")]
    items = value if isinstance(value, list | tuple) else [value]
    if not items:
        return [not_applicable("the custom evaluator returned an empty list")]
    bad = [type(i).__name__ for i in items if not isinstance(i, Verdict | Score)]
    if bad:
        raise TypeError(f"expected Verdict, Score or a list of them, got {', '.join(bad)}")
    if len(items) > 1 and any(i.name is None for i in items):
        raise TypeError("each Verdict or Score in a list needs a distinct name")
    return [outcome_of(i) for i in items]


class CustomEvaluator(Evaluator):
    """Runs a user function; its failures default to the configured category (instruction_drift if none)."""

    type_name = "custom"
    kind = EvaluatorType.CUSTOM

    def __init__(
        self,
        name: str,
        version: str,
        params: dict[str, Any],
        category: FailureCategory | None,
        fn: Callable[..., Any],
    ) -> None:
        super().__init__(name, version, params, category)
        self.fn = fn
        self.is_async = inspect.iscoroutinefunction(fn)
        self.mode = "async" if self.is_async else "thread"
        try:
            self.takes_params = len(inspect.signature(fn).parameters) >= 2
        except (TypeError, ValueError):
            self.takes_params = False

    def _args(self, view: TraceView) -> tuple[Any, ...]:
        return (view.trace, dict(self.params)) if self.takes_params else (view.trace,)

    def run_all(self, view: TraceView) -> list[Outcome]:
        """Run a sync function (the runner calls this in a worker thread)."""
        try:
            return to_outcomes(self.fn(*self._args(view)))
        except Exception as exc:
            return [errored(f"custom evaluator {self.name!r} raised {exc!r}"[:1000])]

    async def arun_all(self, view: TraceView) -> list[Outcome]:
        """Run the function: awaited when async, in a thread when sync."""
        if not self.is_async:
            return await asyncio.to_thread(self.run_all, view)
        try:
            return to_outcomes(await self.fn(*self._args(view)))
        except Exception as exc:
            return [errored(f"custom evaluator {self.name!r} raised {exc!r}"[:1000])]

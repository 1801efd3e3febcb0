"""The function an experiment runs: ``module:function``, sync or async, and how an item is passed to it.

How an item is passed:

- when the item's input is an object whose keys are all parameters of the function (or it takes
  ``**kwargs``), the function is called with them as keyword arguments — the input of a traced
  function's root span is exactly its arguments by name, so a dataset built from traces replays
  the original calls;
- otherwise the input is passed as the single positional argument.

On top of that, a function that has a parameter named ``item`` (the whole
:class:`~glassbox.datasets.models.DatasetItem`), ``context``, ``expected`` or ``prompt`` (the
:class:`~glassbox.datasets.prompt_template.Prompt` given with ``--prompt``) gets it by keyword.
Sync functions run in a worker thread (the tracing context goes with them); async ones on the loop.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
from collections.abc import Callable
from typing import Any, cast

from glassbox.datasets.models import DatasetItem

EXTRAS = ("item", "context", "expected", "prompt")


class TargetError(ValueError):
    """The target cannot be imported or is not callable."""


def resolve_target(spec: str) -> Callable[..., Any]:
    """The callable named ``package.module:function`` (attribute paths like ``module:Class.method`` work)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"target {spec!r} must look like package.module:function")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise TargetError(f"cannot import {module_name!r} for target {spec!r}: {exc}") from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise TargetError(f"{module_name!r} has no {attr!r}") from None
    if not callable(target):
        raise TargetError(f"target {spec!r} is not callable")
    return cast(Callable[..., Any], target)


def call_arguments(
    fn: Callable[..., Any], item: DatasetItem, prompt: Any = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The (args, kwargs) ``fn`` is called with for ``item`` (see the module docstring). Pure."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return (item.input,), {}
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = {n for n, p in params.items() if p.kind not in (inspect.Parameter.VAR_POSITIONAL,
                                                              inspect.Parameter.VAR_KEYWORD)}  # fmt: skip
    data = item.input
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    used: set[str] = set()
    if isinstance(data, dict) and data and all(isinstance(k, str) and (k in named or var_kw) for k in data):
        kwargs = dict(data)
        used = set(data)
    else:
        args = (data,)
        positional = [n for n, p in params.items() if p.kind in (inspect.Parameter.POSITIONAL_ONLY,
                                                                  inspect.Parameter.POSITIONAL_OR_KEYWORD)]  # fmt: skip
        used = set(positional[:1])
    extras = {"item": item, "context": item.context, "expected": item.expected, "prompt": prompt}
    for name in EXTRAS:
        wanted = name in named and name not in used and (name != "prompt" or prompt is not None)
        if wanted and params[name].kind is not inspect.Parameter.POSITIONAL_ONLY:
            kwargs[name] = extras[name]
    return args, kwargs


async def call_target(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call ``fn``: awaited when async, in a worker thread (with the current context) when sync."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args, **kwargs)
    result = await asyncio.to_thread(fn, *args, **kwargs)
    if inspect.isawaitable(result):
        return await result
    return result


def target_name(spec: str) -> str:
    """The span name of a target's calls: its function name."""
    return spec.partition(":")[2].rsplit(".", 1)[-1] or spec

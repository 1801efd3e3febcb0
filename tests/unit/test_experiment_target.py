"""How an experiment calls its target: keyword arguments from the input, extras by name, sync and async."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest

from glassbox.datasets.models import DatasetItem
from glassbox.datasets.target import TargetError, call_arguments, call_target, resolve_target, target_name

ITEM = DatasetItem(item_id="i", input={"question": "q", "top_k": 2}, context=["doc"], expected="a")


def by_name(question: str, top_k: int = 3) -> str:
    return f"{question}/{top_k}"


def with_extras(question: str, top_k: int, item: DatasetItem, context: Any, expected: Any, prompt: Any = None) -> str:
    return ""


def positional(data: Any, prompt: Any = None) -> str:
    return ""


def test_an_input_object_matching_the_parameters_is_passed_by_keyword() -> None:
    """A traced function's root input ({param: value}) replays as its keyword arguments."""
    assert call_arguments(by_name, ITEM) == ((), {"question": "q", "top_k": 2})


def test_extras_are_passed_to_parameters_named_for_them() -> None:
    """item, context and expected go to parameters of those names; prompt only when there is one."""
    args, kwargs = call_arguments(with_extras, ITEM)
    assert args == ()
    assert kwargs == {"question": "q", "top_k": 2, "item": ITEM, "context": ["doc"], "expected": "a"}
    _, kwargs = call_arguments(with_extras, ITEM, prompt="P")
    assert kwargs["prompt"] == "P"


def test_an_input_that_does_not_match_is_passed_as_the_single_positional_argument() -> None:
    """Keys that are not parameters (and no **kwargs): the whole input is the first argument."""
    assert call_arguments(positional, ITEM, prompt="P") == ((ITEM.input,), {"prompt": "P"})
    text = ITEM.model_copy(update={"input": "plain"})
    assert call_arguments(by_name, text) == (("plain",), {})


async def test_sync_targets_run_in_a_thread_with_the_callers_context_and_async_ones_are_awaited() -> None:
    """A sync function sees the caller's context variables (so spans nest); an async one is awaited."""
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")

    def sync_fn(x: int) -> tuple[int, str]:
        return x * 2, var.get()

    async def async_fn(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    assert await call_target(sync_fn, (4,), {}) == (8, "caller")
    assert await call_target(async_fn, (), {"x": 1}) == 2


def test_targets_resolve_from_module_colon_function() -> None:
    """module:function and module:Class.attr resolve; bad specs fail naming what is wrong."""
    assert resolve_target("glassbox.datasets.target:target_name") is target_name
    assert resolve_target("json:JSONDecoder.decode").__name__ == "decode"
    with pytest.raises(TargetError, match="must look like"):
        resolve_target("no_colon")
    with pytest.raises(TargetError, match="cannot import"):
        resolve_target("glassbox.no_such_module:f")
    with pytest.raises(TargetError, match="has no 'missing'"):
        resolve_target("json:missing")
    assert target_name("pkg.mod:Class.answer") == "answer"

"""Pytest fixtures for the fake OpenAI-compatible LLM provider.

Import them explicitly where needed (they are not registered globally). Each function has a
``_fixture`` suffix and registers the fixture under the short name, so a test parameter does not
shadow the import::

    from tests.support.fake_llm import fake_llm_fixture, litellm_module_fixture  # noqa: F401

    def test_judge(fake_llm: FakeLLM, litellm_module: Any) -> None: ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from glassbox.devtools import FakeLLM


@pytest.fixture(name="fake_llm")
def fake_llm_fixture() -> Iterator[FakeLLM]:
    """A running fake provider with no rules (default echo); stopped after the test."""
    with FakeLLM() as llm:
        yield llm


@pytest.fixture(name="shared_fake_llm", scope="module")
def shared_fake_llm_fixture() -> Iterator[FakeLLM]:
    """One fake provider for a whole module; call ``reset()`` and ``set_rules()`` per test."""
    with FakeLLM() as llm:
        yield llm


@pytest.fixture(name="litellm_module", scope="module")
def litellm_module_fixture() -> Any:
    """litellm, imported once per module (the import costs seconds), quiet and without network price lookups."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    litellm.suppress_debug_info = True
    return litellm

"""Developer tools that ship with Glassbox: a local fake OpenAI-compatible LLM provider.

``glassbox demo`` runs the example apps against :class:`FakeLLM`, and the evaluator
tests use it as the LLM judge, so nothing ever calls a hosted API. Importing this
package is cheap (standard library only).
"""

from __future__ import annotations

from glassbox.devtools.fake_llm import FakeLLM, RecordedRequest
from glassbox.devtools.fake_llm_rules import Fault, LLMRequest, Rule, ToolCall

__all__ = ["FakeLLM", "Fault", "LLMRequest", "RecordedRequest", "Rule", "ToolCall"]

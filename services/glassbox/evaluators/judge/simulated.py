"""A simulated LLM judge for demos and tests: verdicts that depend on the prompt's content.

:func:`judge_rules` gives rules for :class:`~glassbox.devtools.FakeLLM` that answer every request
carrying Glassbox's judge system prompt. The "judge" reads the sections of Glassbox's judge prompts
(``<context>``, ``<answer>`` ...) and decides lexically, the way a careful reader would: a claim is
supported when the context covers most of its words and every number in it; refusals, pleasantries
and citation markers are not claims. It is no model, only a stand-in that makes the whole
evaluation path (HTTP, retries, parsing, cost, categories) run without any hosted API.
"""

from __future__ import annotations

import json
import re
from typing import Any

from glassbox.evaluators.judge.client import SYSTEM_PROMPT
from glassbox.evaluators.statistical.lexical import coverage

SUPPORTED_COVERAGE = 0.6
_NOT_CLAIMS = re.compile(
    r"\b(?:sorry|don't know|do not know|could not find|not sure|happy to help|hello|thanks|thank you)\b", re.I
)
_CITATION = re.compile(r"\[[\w./-]+\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def section(text: str, tag: str) -> str:
    """The text between ``<tag>`` and ``</tag>`` lines of a prompt ('' when absent)."""
    match = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return match.group(1).strip() if match else ""


def claims_of(answer: str) -> list[str]:
    """The answer's sentences that state something (citations removed, refusals and pleasantries dropped)."""
    text = _CITATION.sub("", answer)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    return [s for s in sentences if not _NOT_CLAIMS.search(s.replace("\u2019", "'"))]


def supported(claim: str, context: str) -> bool:
    """Most of the claim's words, and all of its numbers, appear in the context."""
    numbers = set(_NUMBER.findall(claim))
    return coverage(claim, context) >= SUPPORTED_COVERAGE and numbers <= set(_NUMBER.findall(context))


def faithfulness(prompt: str) -> dict[str, Any]:
    context = section(prompt, "context")
    claims = [{"claim": c, "supported": supported(c, context)} for c in claims_of(section(prompt, "answer"))]
    unsupported = sum(1 for c in claims if not c["supported"])
    return {"claims": claims, "reason": f"{unsupported} claim(s) not found in the context"}


def context_relevance(prompt: str) -> dict[str, Any]:
    question = section(prompt, "question")
    docs = re.findall(r"^\[(\d+)\] (.*)$", section(prompt, "context"), re.MULTILINE)
    judged = [{"index": int(i), "relevant": coverage(question, text) >= 0.5} for i, text in docs]
    return {"documents": judged, "reason": "lexical overlap with the question"}


def answer_relevance(prompt: str) -> dict[str, Any]:
    """An answer that takes up most of the question's terms addresses it (a short answer rarely repeats them
    all: 'When do stores open on Sunday?' → 'On Sunday stores open at 10 am' is fully relevant)."""
    score = round(min(1.0, coverage(section(prompt, "question"), section(prompt, "answer")) / 0.6), 3)
    return {"relevant": score >= 0.5, "score": score, "reason": "overlap of question and answer"}


def instruction_adherence(prompt: str) -> dict[str, Any]:
    violations = []
    if "json" in section(prompt, "system_prompt").lower():
        try:
            json.loads(section(prompt, "answer"))
        except ValueError:
            violations.append("the answer is not JSON")
    return {"adheres": not violations, "violations": violations, "reason": "checked the format"}


def tool_choice(prompt: str) -> dict[str, Any]:
    try:
        calls = json.loads(section(prompt, "tool_calls") or "[]")
    except ValueError:
        calls = []
    wrong = [c for c in calls if isinstance(c, dict) and c.get("error")]
    return {"correct": not wrong, "expected_tool": None, "reason": f"{len(wrong)} failing call(s)"}


def verdict(prompt: str) -> dict[str, Any]:
    """The verdict for one of Glassbox's judge prompts (an empty object for anything else)."""
    if "<answer>" in prompt and "<context>" in prompt:
        return faithfulness(prompt)
    if "<context>" in prompt:
        return context_relevance(prompt)
    if "<system_prompt>" in prompt:
        return instruction_adherence(prompt)
    if "<tool_calls>" in prompt:
        return tool_choice(prompt)
    if "<answer>" in prompt:
        return answer_relevance(prompt)
    return {}


def simulated_judge(request: Any) -> str:
    """A FakeLLM reply callable: the verdict JSON for the request's last user message."""
    return json.dumps(verdict(request.text))


def judge_rules() -> list[Any]:
    """FakeLLM rules answering every Glassbox judge request (recognised by its system prompt), whatever the model."""
    from glassbox.devtools import Rule

    return [Rule(name="simulated-judge", system=SYSTEM_PROMPT[:40], reply=simulated_judge)]

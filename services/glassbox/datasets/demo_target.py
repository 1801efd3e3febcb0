"""An experiment target for the debugging loop on the demo data: the support bot's answer, from a registered prompt.

::

    glassbox experiment run --dataset support-golden --target glassbox.datasets.demo_target:answer \\
        --prompt support-answer@2

:func:`answer` retrieves from the demo knowledge base (a traced retrieval, as in the demo's support
bot), renders the given prompt version with ``context`` and ``question`` and calls the model
through litellm (tagged with the prompt's name and version). Without a prompt it uses the demo
app's own system prompt, so it reproduces the production behaviour.

The model is the demo's fake OpenAI-compatible provider, started in this process on first use
(or ``GLASSBOX_DEMO_API_BASE`` when set). Like any fake, it encodes how a model reacts to
instructions: told to quote the context sentence that answers (a stricter prompt), it stops
inventing the electronics refund policy. The same provider also plays the LLM judge for the
evaluators (GLASSBOX_EVAL_JUDGE_API_BASE, unless already set), so the loop needs no API key.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from glassbox.datasets.prompt_template import Prompt

STRICT_INSTRUCTION = "quote the context sentence that answers"
"""A prompt containing this makes the fake model answer only with a sentence of the context."""
DEFAULT_MODEL = "openai/support-mini"
_lock = threading.Lock()
_provider: Any = None


def make_provider() -> Any:
    """A started demo provider (FakeLLM): the demo's rules, the simulated judge, and the strict-prompt rule."""
    from glassbox.devtools import Rule
    from glassbox.evaluators.judge.simulated import judge_rules
    from glassbox.examples.provider import grounded_answer, register_prices, start_provider

    strict = Rule(name="strict-grounded", system=STRICT_INSTRUCTION, reply=grounded_answer, delay=0.02)
    provider = start_provider([*judge_rules(), strict])
    register_prices()
    return provider


def api_base() -> str:
    """GLASSBOX_DEMO_API_BASE, else the in-process provider (started once; it also becomes the judge's)."""
    global _provider
    configured = os.environ.get("GLASSBOX_DEMO_API_BASE")
    if configured:
        return configured
    with _lock:
        if _provider is None:
            _provider = make_provider()
            os.environ.setdefault("GLASSBOX_EVAL_JUDGE_API_BASE", str(_provider.base_url))
        return str(_provider.base_url)


api_base()  # start at import, so the evaluators built after importing the target find the judge


def answer(question: str, prompt: Prompt | None = None) -> str:
    """The support bot's answer to ``question``: retrieve, render the prompt, call the model."""
    import litellm

    from glassbox.examples.rag_app import SYSTEM, search_kb

    docs = search_kb(question, top_k=3)
    context = "\n".join(f"[{d['id']}] {d['content']}" for d in docs)
    if prompt is None:
        kwargs: dict[str, Any] = {
            "model": DEFAULT_MODEL,
            "messages": [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {question}"},
            ],
            "temperature": 0.2,
            "metadata": {"prompt_name": "support-answer", "prompt_version": "3"},
        }
    else:
        kwargs = prompt.litellm_kwargs(context=context, question=question)
        kwargs.setdefault("model", DEFAULT_MODEL)
    response = litellm.completion(api_base=api_base(), api_key="demo-key", **kwargs)
    return str(response.choices[0].message.content)


def record_traffic(backend: Any, scenarios: list[tuple[str, int]], *, api: str | None = None) -> list[dict[str, Any]]:
    """Run the demo support bot's scenarios in this process and store their traces with their evaluations,
    as the pipeline would (no stack needed). Returns the app's rows: scenario, trace_id, expected categories."""
    import asyncio

    import glassbox
    from glassbox.datasets.capture import assemble_events, capturing_client, litellm_captured
    from glassbox.datasets.scoring import ExperimentScorer
    from glassbox.datasets.trace_writer import TraceWriter
    from glassbox.examples import rag_app

    base = api or api_base()
    scorer = ExperimentScorer()
    writer = TraceWriter(backend)
    with capturing_client(backend.kafka, service_name="support-bot") as capture, litellm_captured():
        rows = rag_app.run(base, scenarios)
        glassbox.flush(10.0)
        for row in rows:
            trace = assemble_events(capture.take(row["trace_id"]))
            if trace is not None:
                writer.store(trace, asyncio.run(scorer.evaluate(trace)))
    writer.close()
    return rows

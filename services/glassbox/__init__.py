"""Glassbox: open LLM and agent observability.

The tracing SDK is the top-level API::

    import glassbox

    glassbox.init(service_name="support-bot")

    @glassbox.trace(user_id="u-42")
    def answer(question: str) -> str:
        docs = search(question)
        return generate(question, docs)

    @glassbox.retrieval
    def search(query: str) -> list[dict]: ...

    @glassbox.generation(model="gpt-4o-mini")
    def generate(question: str, docs: list[dict]) -> str: ...

Importing glassbox is cheap: Kafka is reached from a background thread, and
litellm is only touched by :func:`instrument_litellm`.
"""

from __future__ import annotations

import sys
from typing import Any

from glassbox.sdk.client import Client, get_client, init
from glassbox.sdk.instrument import (
    agent,
    current_span,
    embedding,
    generation,
    guardrail,
    retrieval,
    span,
    start_span,
    tool,
    trace,
    update_current_span,
)
from glassbox.sdk.propagation import ContextThreadPoolExecutor, attach, extract, inject, wrap
from glassbox.sdk.span import Span

__all__ = [
    "Client",
    "ContextThreadPoolExecutor",
    "Span",
    "agent",
    "attach",
    "current_span",
    "embedding",
    "extract",
    "flush",
    "generation",
    "get_client",
    "guardrail",
    "init",
    "inject",
    "instrument_litellm",
    "retrieval",
    "shutdown",
    "span",
    "start_span",
    "stats",
    "tool",
    "trace",
    "update_current_span",
    "wrap",
]


def _wait_for_litellm(timeout: float) -> None:
    """litellm logs calls on background threads: let the last ones reach the SDK first (if instrumented)."""
    module = sys.modules.get("glassbox.sdk.litellm")
    logger = module.installed() if module is not None else None
    if logger is not None:
        logger.wait_idle(min(timeout, 2.0))


def flush(timeout: float = 5.0) -> bool:
    """Deliver every span ended so far; True when all were acknowledged within ``timeout`` seconds."""
    _wait_for_litellm(timeout)
    return get_client().flush(timeout)


def shutdown(timeout: float | None = None) -> None:
    """Flush and stop exporting (also done automatically at interpreter exit)."""
    _wait_for_litellm(2.0 if timeout is None else timeout)
    get_client().shutdown(timeout)


def stats() -> dict[str, int]:
    """Exporter counters: delivered, dropped (by cause), queued, sampled out."""
    return get_client().stats()


def instrument_litellm(**kwargs: Any) -> Any:
    """Capture every litellm call (completion, acompletion, streaming, embeddings) as generation spans."""
    from glassbox.sdk.litellm import instrument

    return instrument(**kwargs)

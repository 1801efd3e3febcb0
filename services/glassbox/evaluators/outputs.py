"""What the evaluator worker sends: results (retried until the broker has them) and dead letters."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from pydantic import ValidationError

from glassbox.common.logging import RateLimitedLog, get_logger
from glassbox.models.deadletter import dead_letter_of
from glassbox.models.evaluation import EvaluationResult
from glassbox.models.messages import Rejected, RejectReason, summarize_validation_error

log = get_logger("glassbox.evaluators")
STAGE = "evaluator"


def rejection(exc: ValidationError, raw: bytes) -> Rejected:
    """The dead-letter reason of a message that failed validation (malformed JSON or an invalid model)."""
    malformed = any(err.get("type") == "json_invalid" for err in exc.errors())
    kind = RejectReason.MALFORMED_JSON if malformed else RejectReason.INVALID
    return Rejected(-1, kind, summarize_validation_error(exc), raw)


class Outputs:
    """The results and dead-letter topics of a worker, with its counters."""

    def __init__(self, producer: Any, results_topic: str, dead_letter_topic: str, stats: Counter[str]) -> None:
        self.producer = producer
        self.results_topic = results_topic
        self.dead_letter_topic = dead_letter_topic
        self.stats = stats
        self._dlq_log = RateLimitedLog(log, 10.0)

    async def send(self, topic: str, key: bytes, value: bytes) -> Any:
        """Hand one message to the producer (default partitioner: by key); returns its delivery future."""
        return await self.producer().send(topic, key, value, None, None, None)

    async def publish(self, results: list[EvaluationResult]) -> None:
        """Send results (keyed by trace id) and wait for the broker; failures are retried, never dropped."""
        backoff = 0.5
        while True:
            try:
                futures = [
                    await self.send(
                        self.results_topic, r.trace_id.encode(), r.model_dump_json(exclude_none=True).encode()
                    )
                    for r in results
                ]
                await asyncio.gather(*futures)
                break
            except Exception as exc:
                log.warning("evaluator.publish_retry", error=repr(exc), results=len(results))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        for result in results:
            self.stats[f"results_{result.status.value}"] += 1

    async def dead_letter(self, rejected: Rejected, message: Any) -> None:
        """Send a rejected message to the dead-letter topic with its raw bytes, reason, topic, partition, offset."""
        letter = dead_letter_of(rejected, STAGE, message)
        await self.send(
            self.dead_letter_topic, message.topic.encode(), letter.model_dump_json(exclude_none=True).encode()
        )
        self.stats["dead_letters"] += 1
        self._dlq_log.warning(
            "evaluator.dead_letter",
            reason=rejected.reason[:300],
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            total=self.stats["dead_letters"],
        )

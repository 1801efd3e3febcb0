"""faust flushes its producer buffer before it commits offsets: the flush must wait for every buffered message.

Table writes (the assembler's trace states, the evaluator's done and parked entries) go to faust's
ProducerBuffer and reach the broker from a background task. faust's own ``ProducerBuffer.flush`` returns as
soon as 0.1 s pass without a message sent, so a commit could cover events whose table writes were still in the
buffer, and a kill -9 would lose them.
:func:`glassbox.common.faust_app.create_app` installs a flush that waits until the buffer is empty and no
message is being handed to the client. This drives faust's real buffer service with a slow channel.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from faust.transport.producer import ProducerBuffer

from glassbox.common.faust_app import create_app
from glassbox.common.settings import KafkaSettings, PipelineSettings


class SlowChannel:
    """Takes 0.25 s per message, like a send waiting on metadata for a changelog partition it has not used yet."""

    def __init__(self) -> None:
        self.published: list[int] = []

    async def publish_message(self, fut: Any, wait: bool = False) -> None:
        await asyncio.sleep(0.25)
        self.published.append(fut.n)


async def buffered(n: int) -> tuple[list[int], list[int]]:
    """(published when flush returned, published in the end) for ``n`` buffered messages."""
    channel = SlowChannel()
    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    await buffer.start()
    try:
        for i in range(n):
            buffer.put(SimpleNamespace(n=i, message=SimpleNamespace(channel=channel)))  # type: ignore[arg-type]
        await buffer.flush()
        at_flush = list(channel.published)
        await asyncio.sleep(0.25 * n + 0.5)
        return at_flush, channel.published
    finally:
        await buffer.stop()


def test_the_flush_before_a_commit_waits_for_every_buffered_message() -> None:
    create_app("flush-test", KafkaSettings(bootstrap_servers="127.0.0.1:9"), PipelineSettings())
    at_flush, in_the_end = asyncio.run(buffered(4))
    assert in_the_end == [0, 1, 2, 3]
    assert at_flush == [0, 1, 2, 3], "flush returned while messages were still buffered"

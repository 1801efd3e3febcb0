"""A faust table written in one burst is recovered whole after a kill -9, on the real Tansu broker.

Several table writes in a burst reach the changelog as one record batch (the producer lingers 5 ms). Tansu
lists a partition's end offset as the base offset of its last batch plus one, and faust's recovery reads a
changelog only up to the listed end, so without the correction in :mod:`glassbox.common.faust_app` a
restarted worker recovered the first write of that batch and lost the rest.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from glassbox.common.faust_app import fetch_high_watermarks
from glassbox.embedded.broker import EmbeddedBroker

WORKER = """
import sys
from glassbox.assembler.worker import run_worker
from glassbox.common.faust_app import create_app
from glassbox.common.settings import KafkaSettings, PipelineSettings

servers, app_id, mode = sys.argv[1:4]
kafka = KafkaSettings(bootstrap_servers=servers)
pipeline = PipelineSettings(spans_partitions=1, session_timeout_s=6)
app = create_app(app_id, kafka, pipeline, stream_wait_empty=False)
source = app.topic(app_id + "-source", key_serializer="raw", value_serializer="raw", partitions=1)
table = app.Table("burst", partitions=1, key_type=bytes, value_type=bytes, use_partitioner=True)
state = {"reported": False}

@app.agent(source)
async def idle(stream):
    async for _ in stream:
        pass

@app.timer(0.5)
async def act():
    if state["reported"] or not app.tables.recovery.completed.is_set():
        return
    state["reported"] = True
    if mode == "write":
        for i in range(20):  # one burst: a batch, or a few
            table[b"key-%d" % i] = b"value-%d" % i
        await app.producer.flush()
        print("written", flush=True)
    else:
        print("recovered", len(table), flush=True)

run_worker(app, [])
"""


def run(servers: str, app_id: str, mode: str, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the worker; returns it and the first report it prints, 'written' or 'recovered N' (up to 60 s;
    structlog, not configured in this script, prints its lines there too)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, servers, app_id, mode],
        stdout=subprocess.PIPE,
        stderr=open(workdir / f"{mode}.log", "w"),  # noqa: SIM115 - handed to the child
        text=True,
        start_new_session=True,
        env={**os.environ, "GLASSBOX_LOG_LEVEL": "info"},
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    line = ""
    while time.monotonic() < deadline and not line.startswith(("written", "recovered")):
        raw = proc.stdout.readline()
        if not raw:  # the worker exited
            break
        line = raw.strip()
    return proc, line


def test_a_burst_of_table_writes_is_recovered_whole_after_a_kill(broker: EmbeddedBroker, tmp_path: Path) -> None:
    servers = broker.bootstrap_servers
    app_id = f"recovery-{uuid.uuid4().hex[:8]}"
    first, line = run(servers, app_id, "write", tmp_path)
    try:
        assert line == "written", (tmp_path / "write.log").read_text()[-3000:]
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
    second, line = run(servers, app_id, "read", tmp_path)
    try:
        assert line == "recovered 20", (line, (tmp_path / "read.log").read_text()[-3000:])
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(60)


async def batch_and_marks(servers: str, topic: str) -> tuple[list[int], int, dict[TopicPartition, int]]:
    admin = AIOKafkaAdminClient(bootstrap_servers=servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=servers, linger_ms=50)
    await producer.start()
    try:
        futures = [await producer.send(topic, key=b"k%d" % i, value=b"v", partition=0) for i in range(3)]
        offsets = [m.offset for m in await asyncio.gather(*futures)]
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=servers)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        listed = (await consumer.end_offsets([tp]))[tp]
        marks = await fetch_high_watermarks(consumer._client, {tp: max(listed - 1, 0)})
    finally:
        await consumer.stop()
    return offsets, listed, marks


def test_the_fetched_high_watermark_counts_every_record_of_the_last_batch(broker: EmbeddedBroker) -> None:
    topic = f"marks-{uuid.uuid4().hex[:8]}"
    offsets, listed, marks = asyncio.run(batch_and_marks(broker.bootstrap_servers, topic))
    assert offsets == [0, 1, 2]
    assert marks == {TopicPartition(topic, 0): 3}, f"listed end offset {listed}"

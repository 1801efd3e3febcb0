"""`glassbox up` as a user runs it: one stack per data directory, the CLI reads while it runs and after it stops,
and Ctrl-C drains in-flight traces into ClickHouse before the in-memory broker goes away."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from kafka import KafkaProducer

import glassbox
from glassbox.embedded.runtime import spawn_background
from glassbox.embedded.stack import running_stack


def cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLASSBOX_CLICKHOUSE")}
    return subprocess.run(
        [sys.executable, "-m", "glassbox.cli", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "COLUMNS": "200"},
    )


def test_up_serves_queries_refuses_a_second_stack_and_drains_on_ctrl_c(tmp_path: Path) -> None:
    """A second `up` on the same directory fails clearly; traces are queryable while running; on SIGINT the
    rootless in-flight trace is emitted (incomplete) and stored; after the stop the CLI reads chDB directly."""
    data = tmp_path / "stack"
    proc, info = spawn_background(data)
    try:
        second = cli("up", data_dir=data)
        assert second.returncode == 1
        assert "already running on this data directory" in second.stderr and str(info.pid) in second.stderr

        glassbox.init(kafka_bootstrap_servers=info.kafka, service_name="stack-test")

        @glassbox.trace(name="finished")
        def finished() -> str:
            with glassbox.span("child"):
                return "done"

        finished()
        assert glassbox.flush(15)
        producer = KafkaProducer(bootstrap_servers=info.kafka, acks="all")
        orphan_trace = "1234abcd" * 4
        now = time.time_ns()
        orphan = {"schema_version": 1, "trace_id": orphan_trace, "span_id": "5" * 16, "parent_span_id": "6" * 16,
                  "name": "still-running-parent", "kind": "span", "start_time_unix_nano": now,
                  "end_time_unix_nano": now + 1000}  # fmt: skip
        producer.send("glassbox.spans", key=orphan_trace.encode(), value=json.dumps([orphan]).encode())
        producer.flush()

        deadline = time.monotonic() + 60
        listed = cli("traces", "--format", "json", data_dir=data)
        while time.monotonic() < deadline and '"finished"' not in listed.stdout:
            time.sleep(0.5)
            listed = cli("traces", "--format", "json", data_dir=data)
        assert '"finished"' in listed.stdout, listed.stderr
        rows = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [r["spans"] for r in rows if r["name"] == "finished"] == [2]
        assert "still-running" not in listed.stdout  # its root never arrived: not emitted yet

        refused = cli("query", "INSERT INTO glassbox.traces (TraceId) VALUES ('x')", data_dir=data)
        assert refused.returncode == 1 and "read-only" in refused.stderr

        # the stack owns chDB: a prompt registered now travels as a record through Kafka to the stack
        added = cli("prompt", "add", "greeting", "--user", "Hello {{name}}", "--model", "openai/x", data_dir=data)
        assert added.returncode == 0, added.stderr
        listed_prompts = cli("prompt", "list", data_dir=data)
        assert "greeting" in listed_prompts.stdout and "name" in listed_prompts.stdout, listed_prompts.stderr
    finally:
        glassbox.shutdown(5)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        assert proc.wait(90) == 0
    assert running_stack(data) is None

    after = cli("query", "-f", "json", "SELECT Name, Status FROM glassbox.traces FINAL ORDER BY Name", data_dir=data)
    assert after.returncode == 0, after.stderr
    stored = [json.loads(line) for line in after.stdout.splitlines()]
    assert {"Name": "finished", "Status": "complete"} in stored
    assert {"Name": "still-running-parent", "Status": "incomplete"} in stored
    prompts = cli("query", "-f", "json", "SELECT Name, Version FROM glassbox.prompts FINAL", data_dir=data)
    assert [json.loads(line) for line in prompts.stdout.splitlines()] == [{"Name": "greeting", "Version": 1}]
    waterfall = cli("trace", orphan_trace[:10], data_dir=data)
    assert waterfall.returncode == 0 and "still-running-parent" in waterfall.stdout

"""Running the real pipeline worker (`glassbox worker`) as a child process against the test broker.

The worker owns its chDB data directory (one process per directory); the test
reads through the worker's read-only ClickHouse HTTP endpoint with
clickhouse-connect, exactly as an analyst's client would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import clickhouse_connect

from glassbox.common.kafka import ensure_topics
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.embedded.broker import free_port


class PipelineWorker:
    def __init__(self, bootstrap: str, prefix: str, data_dir: Path, name: str, **env: str) -> None:
        self.bootstrap = bootstrap
        self.prefix = prefix
        self.data_dir = data_dir
        self.database = f"gb_{name}"
        self.port = free_port()
        self.log_path = data_dir / "worker.log"
        self.env = {
            "GLASSBOX_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "GLASSBOX_KAFKA_TOPIC_PREFIX": prefix,
            "GLASSBOX_CLICKHOUSE_URL": f"chdb://{data_dir / 'clickhouse'}",
            "GLASSBOX_CLICKHOUSE_DATABASE": self.database,
            "GLASSBOX_PIPELINE_SESSION_TIMEOUT_S": "6",
            "GLASSBOX_PIPELINE_TRACE_GRACE_S": "0.5",
            "GLASSBOX_PIPELINE_SINK_BATCH_SECONDS": "0.3",
            "GLASSBOX_PIPELINE_SPANS_PARTITIONS": "3",
            "GLASSBOX_PIPELINE_ASSEMBLER_GROUP": f"asm-{name}",
            "GLASSBOX_PIPELINE_SINK_GROUP": f"sink-{name}",
            "GLASSBOX_LOG_LEVEL": "info",
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self._client: Any = None

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap, topic_prefix=self.prefix)

    @property
    def topic(self) -> str:
        return f"{self.prefix}glassbox.spans"

    def create_topics(self) -> None:
        ensure_topics(
            self.kafka, PipelineSettings(spans_partitions=int(self.env["GLASSBOX_PIPELINE_SPANS_PARTITIONS"]))
        )

    def start(self) -> PipelineWorker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "glassbox.cli", "worker", "--query-port", str(self.port)],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                self._client = clickhouse_connect.get_client(
                    host="127.0.0.1", port=self.port, database=self.database, compress=False
                )
                return self
            except Exception:
                time.sleep(0.2)
        raise TimeoutError(f"worker endpoint did not come up:\n{self.log_tail()}")

    @property
    def client(self) -> Any:
        return self._client

    def scalar(self, sql: str, **params: Any) -> Any:
        return self._client.query(sql, parameters=params).result_rows[0][0]

    def wait_until(self, check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except Exception:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"timed out waiting for {what}\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to flush, commit or leave its groups."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def log_tail(self, lines: int = int(os.environ.get("GB_LOG_TAIL", "40"))) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

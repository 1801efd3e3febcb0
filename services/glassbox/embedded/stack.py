"""The embedded stack: everything Glassbox needs on one machine, in one process (plus the broker).

``glassbox up`` runs, under a data directory:

- Tansu (Kafka protocol) on loopback, with a fresh cluster id per start;
- the registry's topics and the ClickHouse migrations (chDB under ``<data>/clickhouse``);
- the assembler (faust agent + timer), the sink (aiokafka → chDB) and the
  evaluators when present, all in this process's event loop;
- a read-only ClickHouse HTTP endpoint on loopback for every other process.

A lock file makes a second ``up`` on the same directory fail with a clear
message; ``stack.json`` tells the CLI where the running stack's ports are.
On Ctrl-C the stack drains before stopping: in-flight traces are emitted and
the sink stores everything the broker holds, because the embedded broker keeps
data in memory only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from glassbox.common.logging import get_logger
from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings

log = get_logger("glassbox.stack")

EMBEDDED_SESSION_TIMEOUT_S = 6.0
"""Tansu completes a group join after half the session timeout; 6 s keeps `glassbox up` quick."""


class StackRunningError(RuntimeError):
    """Another Glassbox stack owns this data directory."""


@dataclass(frozen=True)
class StackInfo:
    pid: int
    data_dir: str
    kafka: str
    query_url: str
    started_at: float

    def describe(self) -> str:
        return f"pid {self.pid}, Kafka {self.kafka}, query endpoint {self.query_url}, data {self.data_dir}"


@dataclass(frozen=True)
class StackFiles:
    data_dir: Path

    @property
    def lock(self) -> Path:
        return self.data_dir / "stack.lock"

    @property
    def info(self) -> Path:
        return self.data_dir / "stack.json"

    @property
    def clickhouse(self) -> Path:
        return self.data_dir / "clickhouse"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"


def files(data_dir: Path | str) -> StackFiles:
    return StackFiles(Path(data_dir).expanduser().resolve())


def embedded_clickhouse(data_dir: Path | str, base: ClickHouseSettings | None = None) -> ClickHouseSettings:
    """ClickHouse settings pointing at the embedded chDB directory (other ClickHouse settings kept)."""
    base = base or ClickHouseSettings()
    return base.model_copy(update={"url": f"chdb://{files(data_dir).clickhouse}"})


def running_stack(data_dir: Path | str) -> StackInfo | None:
    """The stack that holds this data directory's lock right now, or None."""
    paths = files(data_dir)
    if not paths.lock.exists():
        return None
    with open(paths.lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        return StackInfo(**json.loads(paths.info.read_text()))
    return StackInfo(pid=0, data_dir=str(paths.data_dir), kafka="?", query_url="?", started_at=0.0)


@contextlib.contextmanager
def stack_lock(data_dir: Path | str) -> Iterator[StackFiles]:
    """Hold the data directory's lock for the life of the stack; fail clearly if another stack has it."""
    paths = files(data_dir)
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(paths.lock, "a+")  # noqa: SIM115 - held open for the stack's lifetime
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        info = running_stack(paths.data_dir)
        detail = info.describe() if info else str(paths.data_dir)
        raise StackRunningError(
            f"a Glassbox stack is already running on this data directory ({detail}). "
            "Use it (glassbox traces, glassbox query ...), stop it with Ctrl-C in its terminal "
            "or `glassbox down`, or pass another --data-dir."
        ) from None
    try:
        yield paths
    finally:  # only the lock's owner removes the stack file
        with contextlib.suppress(OSError):
            paths.info.unlink()
        handle.close()


def stop_stack(data_dir: Path | str, timeout: float = 60.0) -> StackInfo | None:
    """Ask the running stack to drain and stop (SIGTERM) and wait for it; returns what was stopped."""
    info = running_stack(data_dir)
    if info is None or info.pid <= 0:
        return None
    os.kill(info.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_stack(data_dir) is None:
            return info
        time.sleep(0.2)
    raise TimeoutError(f"the stack ({info.describe()}) did not stop within {timeout:.0f}s")


def run_stack(
    data_dir: Path | str,
    *,
    kafka_port: int = 0,
    query_port: int = 0,
    pipeline: PipelineSettings | None = None,
    clickhouse: ClickHouseSettings | None = None,
    extra_services: Callable[[Any, KafkaSettings, ClickHouseSettings, PipelineSettings], list[Any]] | None = None,
    announce: Callable[[StackInfo], None] | None = None,
) -> None:
    """Run the embedded stack in the foreground until SIGINT/SIGTERM (blocking)."""
    from glassbox.common.kafka import ensure_topics
    from glassbox.embedded.broker import EmbeddedBroker
    from glassbox.pipeline import run_pipeline

    pipeline = pipeline or PipelineSettings()
    if "GLASSBOX_PIPELINE_SESSION_TIMEOUT_S" not in os.environ:
        # One machine, one worker: a short session makes consumer groups form (and recover) in seconds.
        pipeline = pipeline.model_copy(update={"session_timeout_s": EMBEDDED_SESSION_TIMEOUT_S})
    with stack_lock(data_dir) as paths:
        paths.logs.mkdir(parents=True, exist_ok=True)
        ch = embedded_clickhouse(paths.data_dir, clickhouse)
        broker = EmbeddedBroker(
            kafka_port, log_path=paths.logs / "broker.log", cluster_id=f"glassbox-{uuid.uuid4().hex}"
        )
        broker.start()
        try:
            kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
            ensure_topics(kafka, pipeline)

            def ready(query_url: str | None) -> None:
                info = StackInfo(
                    pid=os.getpid(),
                    data_dir=str(paths.data_dir),
                    kafka=broker.bootstrap_servers,
                    query_url=query_url or "",
                    started_at=time.time(),
                )
                paths.info.write_text(json.dumps(asdict(info)))
                if announce:
                    announce(info)

            run_pipeline(
                kafka, ch, pipeline, query_port=query_port, extra_services=extra_services, on_ready=ready, drain=True
            )
        finally:
            broker.stop()

"""Foreground entry points for the embedded stack (used by `glassbox up` and `glassbox demo`)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from glassbox.embedded.stack import StackInfo, StackRunningError, files, run_stack, running_stack
from glassbox.pipeline import default_extras


def start_foreground(data_dir: Path | str, kafka_port: int = 0, query_port: int = 0) -> None:
    """Run the stack in this process until Ctrl-C, printing where it listens."""

    def announce(info: StackInfo) -> None:
        print(
            "Glassbox is up.\n"
            f"  Kafka (spans in):      {info.kafka}   export GLASSBOX_KAFKA_BOOTSTRAP_SERVERS={info.kafka}\n"
            f"  ClickHouse (read-only): {info.query_url}\n"
            f"  data:                   {info.data_dir}\n"
            'Try `glassbox traces`, `glassbox trace <id>`, `glassbox query "SELECT ..."`.\n'
            "Ctrl-C stops (after draining).",
            flush=True,
        )

    try:
        run_stack(
            data_dir, kafka_port=kafka_port, query_port=query_port, extra_services=default_extras(), announce=announce
        )
    except StackRunningError as exc:
        print(f"glassbox: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def spawn_background(data_dir: Path | str, timeout: float = 120.0) -> tuple[subprocess.Popen[bytes], StackInfo]:
    """Start `glassbox up` as a child process and wait until it is ready."""
    paths = files(data_dir)
    paths.logs.mkdir(parents=True, exist_ok=True)
    log = open(paths.logs / "stack.log", "ab")  # noqa: SIM115 - handed to the child
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "glassbox.cli", "up", "--data-dir", str(paths.data_dir)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the stack exited with code {proc.returncode}; see {paths.logs / 'stack.log'}")
        info = running_stack(paths.data_dir)
        if info is not None and info.pid == proc.pid and paths.info.exists():
            return proc, info
        time.sleep(0.2)
    proc.terminate()
    raise TimeoutError(f"the stack did not become ready within {timeout:.0f}s; see {paths.logs / 'stack.log'}")

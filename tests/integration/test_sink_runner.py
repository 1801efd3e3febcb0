"""``run_sink`` as the ``glassbox sink`` command runs it: its own process, migrations first, SIGTERM to stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from glassbox.common.kafka import topic_name
from glassbox.common.settings import KafkaSettings, PipelineSettings
from glassbox.models import topics as registry
from tests.support.clickhouse import produce, span_message, trace_of_every_kind

SCRIPT = textwrap.dedent(
    """
    import os
    from glassbox.common.logging import configure
    from glassbox.common.settings import ClickHouseSettings, KafkaSettings, PipelineSettings
    from glassbox.sink.runner import run_sink

    configure("INFO", json=True)
    run_sink(KafkaSettings(), ClickHouseSettings(), PipelineSettings(), query_port=int(os.environ["TEST_QUERY_PORT"]))
    """
)


def _events(lines: list[str]) -> list[dict[str, object]]:
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_sigterm_stops_the_sink_process_gracefully(
    topics: KafkaSettings, pipeline_settings: PipelineSettings, tmp_path: Path, unique: str
) -> None:
    """The process migrates its own chDB, stores the spans, serves them on its read-only query endpoint, and on
    SIGTERM flushes, commits, leaves and exits 0."""
    import clickhouse_connect

    from glassbox.embedded.broker import free_port

    port = free_port()
    spans = trace_of_every_kind()
    produce(
        topics.bootstrap_servers,
        [(topic_name(registry.SPANS, topics), spans[0].trace_id.encode(), span_message(spans))],
    )
    env = {
        **os.environ,
        "GLASSBOX_KAFKA_BOOTSTRAP_SERVERS": topics.bootstrap_servers,
        "GLASSBOX_KAFKA_TOPIC_PREFIX": topics.topic_prefix,
        "GLASSBOX_CLICKHOUSE_URL": f"chdb://{tmp_path / 'chdb'}",
        "GLASSBOX_CLICKHOUSE_DATABASE": f"glassbox_{unique}",
        "GLASSBOX_PIPELINE_SINK_GROUP": pipeline_settings.sink_group,
        "GLASSBOX_PIPELINE_SINK_BATCH_SECONDS": "0.2",
        "GLASSBOX_PIPELINE_SESSION_TIMEOUT_S": str(pipeline_settings.session_timeout_s),
        "TEST_QUERY_PORT": str(port),
    }
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if '"sink.flush"' in line:
            break
    try:
        reader = clickhouse_connect.get_client(host="127.0.0.1", port=port, database=f"glassbox_{unique}")
        assert reader.query("SELECT count() FROM spans").result_rows[0][0] == len(spans)
        reader.close()
    finally:
        proc.send_signal(signal.SIGTERM)
    lines += proc.stderr.read().splitlines()
    assert proc.wait(timeout=60) == 0, "".join(lines[-20:])
    events = {e["event"]: e for e in _events(lines)}
    assert events["migrations.applied"]["database"] == f"glassbox_{unique}"
    assert events["sink.stopped"]["rows_inserted"] == {"spans": len(spans)}
    assert events["sink.stopped"]["commits"] >= 1  # type: ignore[operator]

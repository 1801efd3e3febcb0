"""Read-only access to the stored data, wherever it lives.

- ``GLASSBOX_CLICKHOUSE_URL=http(s)://...``: the ClickHouse server (read user when configured).
- otherwise the embedded data directory: through the running stack's read-only
  endpoint when ``glassbox up`` holds it, or straight from chDB (read-only
  session) when no stack is running.

Every client returned refuses writes and DDL (session ``readonly=2``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from glassbox.common.settings import ClickHouseSettings, EmbeddedSettings, load


class NoDataError(RuntimeError):
    """There is nothing to read yet (no embedded data, no server configured)."""


def open_reader(data_dir: Path | str | None = None) -> tuple[Any, str]:
    """(read-only clickhouse-connect client, where it reads from)."""
    import clickhouse_connect

    from glassbox.common.clickhouse import READ_ONLY_SETTINGS, reader_client
    from glassbox.embedded.stack import embedded_clickhouse, files, running_stack

    ch = load(ClickHouseSettings)
    explicit = os.environ.get("GLASSBOX_CLICKHOUSE_URL")
    if explicit and not ch.is_embedded:
        return reader_client(ch), ch.url
    directory = Path(data_dir) if data_dir else load(EmbeddedSettings).data_dir
    if explicit and ch.chdb_path is not None:
        target = ch
        stack_dir = ch.chdb_path.parent
    else:
        target = embedded_clickhouse(directory, ch)
        stack_dir = directory
    info = running_stack(stack_dir)
    if info is not None and info.query_url.startswith("http"):
        host_port = info.query_url.removeprefix("http://")
        host, _, port = host_port.partition(":")
        client = clickhouse_connect.get_client(
            host=host, port=int(port), database=ch.database, compress=False, settings=dict(READ_ONLY_SETTINGS)
        )
        return client, f"running stack at {info.query_url}"
    path = target.chdb_path
    if path is None or not path.exists():
        raise NoDataError(
            f"no Glassbox data under {files(stack_dir).data_dir}: run `glassbox demo` or `glassbox up` first, "
            "or point GLASSBOX_CLICKHOUSE_URL at your ClickHouse server"
        )
    return reader_client(target), f"embedded data at {path}"

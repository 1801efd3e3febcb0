"""A read-only ClickHouse HTTP endpoint over the embedded engine.

The embedded stack's process owns the chDB data directory, so every other
process (the CLI, an analyst's notebook, a local Grafana) reads through this
endpoint. It speaks the subset of ClickHouse's HTTP interface that
clickhouse-connect and curl use: the query in the ``query`` parameter and/or
the body, ``param_<name>`` bound parameters (passed to the engine as text, as a
server would get them), ``database``, ``default_format`` and a trailing
``FORMAT`` clause. Queries run on a chDB connection of their own whose session
has ``readonly=2``: INSERT, ALTER, CREATE and friends fail with ClickHouse's own
READONLY error (code 164). It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from clickhouse_connect.driver.binding import quote_identifier

from glassbox.common.logging import get_logger

log = get_logger("glassbox.query")

_FORMAT_RE = re.compile(r"\bFORMAT\s+([A-Za-z0-9_]+)\s*;?\s*$", re.IGNORECASE)
MAX_BODY = 16 * 1024 * 1024
_EMPTY_SUMMARY = '{"read_rows":"0","read_bytes":"0","written_rows":"0","written_bytes":"0"}'


class QueryServer:
    """Serve read-only queries over the chDB data at ``chdb_path`` on 127.0.0.1."""

    def __init__(self, chdb_path: str, port: int = 0) -> None:
        import chdb

        self._conn = chdb.connect(chdb_path)
        self._conn.query("SET readonly = 2")
        self._lock = threading.Lock()
        handler = self._handler_class()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> QueryServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="glassbox-query", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            self._conn.close()

    def run_query(self, sql: str, params: dict[str, str], database: str | None, fmt: str) -> bytes:
        with self._lock:
            if database:
                self._conn.query(f"USE {quote_identifier(database)}")
            result = self._conn.query(sql, fmt, params=params)
            return bytes(result.bytes())

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "glassbox-embedded-clickhouse"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path in ("/ping", "/"):
                    self._reply(200, b"Ok.\n", {"Content-Type": "text/plain"})
                    return
                self._query(b"")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    self._error(413, 1001, f"query body of {length} bytes exceeds {MAX_BODY}")
                    return
                self._query(self.rfile.read(length) if length else b"")

            def _query(self, body: bytes) -> None:
                parsed = urllib.parse.urlparse(self.path)
                qs = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
                text = (qs.get("query", [""])[0] + "\n" + body.decode("utf-8", "replace")).strip()
                if not text:
                    self._error(400, 62, "Empty query")
                    return
                match = _FORMAT_RE.search(text)
                fmt = match.group(1) if match else qs.get("default_format", ["TabSeparated"])[0]
                sql = text[: match.start()].rstrip() if match else text.rstrip().rstrip(";")
                params = {k[len("param_") :]: v[0] for k, v in qs.items() if k.startswith("param_")}
                database = qs.get("database", [None])[0]
                try:
                    data = server.run_query(sql, params, database, fmt)
                except Exception as exc:  # ClickHouse's own error text, as a server would send it
                    code = getattr(exc, "code", None) or _code_from_text(str(exc)) or 1002
                    self._error(500, int(code), _clean_error(str(exc)))
                    return
                self._reply(
                    200,
                    data,
                    {
                        "Content-Type": "application/octet-stream"
                        if fmt.startswith(("Native", "RowBinary"))
                        else "text/plain; charset=UTF-8",
                        "X-ClickHouse-Format": fmt,
                        "X-ClickHouse-Server-Display-Name": "glassbox-embedded",
                        "X-ClickHouse-Summary": _EMPTY_SUMMARY,
                    },
                )

            def _error(self, status: int, code: int, message: str) -> None:
                text = message if message.startswith("Code:") else f"Code: {code}. DB::Exception: {message}"
                self._reply(
                    status,
                    (text + "\n").encode(),
                    {"X-ClickHouse-Exception-Code": str(code), "Content-Type": "text/plain"},
                )

            def _reply(self, status: int, data: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def _content_type(fmt: str) -> str:
    return "application/octet-stream" if fmt.startswith(("Native", "RowBinary")) else "text/plain; charset=UTF-8"


def _code_from_text(text: str) -> int | None:
    match = re.search(r"Code:\s*(\d+)", text)
    return int(match.group(1)) if match else None


def _clean_error(text: str) -> str:
    match = re.search(r"(Code:\s*\d+\..*)", text, re.DOTALL)
    return (match.group(1) if match else text).strip()

"""ClickHouse clients from one URL, and the error classes the writers act on.

``http(s)://host:port`` opens a clickhouse-connect HTTP client to a server;
``chdb:///abs/path`` opens the in-process chDB engine through the same client
API. One process may own a chDB data path at a time: opening a path another
process holds raises :class:`ClickHouseLockedError`.

Errors are classified so callers can act on them without string matching:
:func:`is_retryable` (the engine is unreachable, overloaded or timed out: keep
the data and try again) and :func:`is_bad_data` (these rows cannot be stored as
they are: isolate them).
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import clickhouse_connect
from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError, DataError, OperationalError, ProgrammingError

from glassbox.common.settings import ClickHouseSettings

__all__ = [
    "READ_ONLY_SETTINGS",
    "ClickHouseLockedError",
    "ClickHouseUnavailableError",
    "Client",
    "ensure_database",
    "error_code",
    "is_bad_data",
    "is_retryable",
    "reader_client",
    "writer_client",
]

READ_ONLY_SETTINGS = {"readonly": 2}
"""readonly=2: SELECT and SET only, so a reader can still tune its own query settings."""

RETRYABLE_CODES = frozenset(
    {
        3,  # UNEXPECTED_END_OF_FILE
        32,  # ATTEMPT_TO_READ_AFTER_EOF
        159,  # TIMEOUT_EXCEEDED
        164,  # READONLY (a replica or disk in read-only mode)
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        203,  # NO_FREE_CONNECTION
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        236,  # ABORTED
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        243,  # NOT_ENOUGH_SPACE
        252,  # TOO_MANY_PARTS
        285,  # TOO_FEW_LIVE_REPLICAS
        319,  # UNKNOWN_STATUS_OF_INSERT
        394,  # QUERY_WAS_CANCELLED
        425,  # SYSTEM_ERROR
        439,  # CANNOT_SCHEDULE_TASK
        999,  # KEEPER_EXCEPTION
        1000,  # POCO_EXCEPTION
    }
)
"""Server error codes that say 'not now' rather than 'never'."""

BAD_DATA_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        407,  # DECIMAL_OVERFLOW
        469,  # VIOLATED_CONSTRAINT
    }
)
"""Server error codes that blame the inserted values."""


class ClickHouseUnavailableError(RuntimeError):
    """ClickHouse could not be opened (the message says why)."""


class ClickHouseLockedError(ClickHouseUnavailableError):
    """The chDB data directory is held by another process."""


def error_code(exc: BaseException) -> int | None:
    """The ClickHouse server error code carried by an exception, if any."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


def is_retryable(exc: BaseException) -> bool:
    """True when the same insert may succeed later: connection, timeout, overload, unknown insert status."""
    if isinstance(exc, OperationalError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DatabaseError):
        return error_code(exc) in RETRYABLE_CODES
    return isinstance(exc, OSError)


def is_bad_data(exc: BaseException) -> bool:
    """True when the values themselves were refused (conversion, range, parse), so retrying cannot help.

    clickhouse-connect raises DataError (or a bare ValueError/TypeError/OverflowError
    from its converters) while serialising a value that does not fit its column.
    """
    if isinstance(exc, DataError):
        return True
    if isinstance(exc, DatabaseError):
        return error_code(exc) in BAD_DATA_CODES
    return isinstance(exc, ValueError | TypeError | OverflowError | struct.error)


def writer_client(settings: ClickHouseSettings) -> Client:
    """A client for the sink and migrations; creates the database first when it does not exist."""
    bootstrap = _open(settings, settings.username, settings.password, database=None, extra={})
    try:
        ensure_database(bootstrap, settings.database)
        return _open(settings, settings.username, settings.password, database=settings.database, extra={})
    finally:
        bootstrap.close()


def reader_client(settings: ClickHouseSettings) -> Client:
    """A read-only client (readonly=2): SELECTs work, INSERT and DDL are refused by the engine.

    On a server it logs in as read_username when set (else username); a user whose profile
    is readonly=1 already (which refuses changing it) keeps that. On chDB it is a separate
    handle on the same engine, so a writer in the same process keeps writing.
    """
    username = settings.read_username or settings.username
    password = (settings.read_password if settings.read_username else settings.password) or ""
    try:
        return _open(settings, username, password, database=settings.database, extra=READ_ONLY_SETTINGS)
    except (ProgrammingError, DatabaseError) as exc:
        if settings.is_embedded or "readonly" not in str(exc).lower():
            raise
        # The server's profile for this user is readonly=1 already (stricter), and refuses changing it.
        return _open(settings, username, password, database=settings.database, extra={})


def ensure_database(client: Client, database: str) -> None:
    """CREATE DATABASE IF NOT EXISTS (idempotent)."""
    client.command(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")


def _open(
    settings: ClickHouseSettings,
    username: str,
    password: str,
    *,
    database: str | None,
    extra: dict[str, Any],
) -> Client:
    if settings.is_embedded:
        return _open_chdb(settings.url, database, extra)
    return _open_http(settings, username, password, database, extra)


def _open_http(
    settings: ClickHouseSettings,
    username: str,
    password: str,
    database: str | None,
    extra: dict[str, Any],
) -> Client:
    url = urlparse(settings.url)
    secure = url.scheme == "https"
    options: dict[str, Any] = {
        "host": url.hostname or "localhost",
        "port": url.port or (8443 if secure else 8123),
        "username": username,
        "password": password,
        "secure": secure,
        "verify": settings.verify_tls,
        "autogenerate_session_id": False,
        "client_name": "glassbox",
        "connect_timeout": 10,
        "send_receive_timeout": 300,
        "settings": dict(extra),
    }
    if url.path and url.path != "/":
        options["proxy_path"] = url.path
    if settings.ca_cert is not None:
        options["ca_cert"] = str(settings.ca_cert)
    if database:
        options["database"] = database
    return clickhouse_connect.get_client(**options)


def _open_chdb(url: str, database: str | None, extra: dict[str, Any]) -> Client:
    try:
        return clickhouse_connect.get_client(dsn=url, database=database, settings=dict(extra))
    except ProgrammingError as exc:
        path = Path(url[len("chdb://") :]) if url.startswith("chdb:///") else None
        message = str(exc)
        if "already initialized with path" in message:
            raise ClickHouseUnavailableError(
                f"this process already runs the embedded ClickHouse on another data path; "
                f"chDB allows one path per process ({message})"
            ) from exc
        holder = _lock_holder(path) if path is not None else None
        if holder is not None:
            raise ClickHouseLockedError(
                f"the embedded ClickHouse data directory {path} is in use by another Glassbox process "
                f"({holder}); stop that process or point GLASSBOX_CLICKHOUSE_URL at another path"
            ) from exc
        raise ClickHouseUnavailableError(f"cannot open the embedded ClickHouse at {url}: {message}") from exc


def _lock_holder(path: Path) -> str | None:
    """Who holds chDB's lock on ``path/status`` ('PID: n'), or None when nobody does."""
    status = path / "status"
    try:
        fd = os.open(status, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 256).decode("utf-8", "replace")
            return next((line for line in text.splitlines() if line.startswith("PID")), "pid unknown")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)

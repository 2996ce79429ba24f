"""Turning a ``state:`` location into a SQLAlchemy engine.

SQLite: WAL (readers never block the writer), a generous busy timeout, foreign keys on,
and writes opened with ``BEGIN IMMEDIATE``. A deferred transaction that later writes
fails at once with "database is locked" when another process wrote in between; taking
the write lock up front makes concurrent writers queue (up to the busy timeout) instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from schedsync.engine.redact import redact_url
from schedsync.engine.state.errors import StateError

BUSY_TIMEOUT_S = 30.0
WRITE_OPTION = "schedsync_write"
_PG_PREFIXES = ("postgresql://", "postgres://", "postgresql+psycopg://")


def is_postgres(location: str) -> bool:
    return location.startswith(_PG_PREFIXES)


def postgres_url(location: str) -> str:
    """``postgresql://`` -> the psycopg 3 driver (SQLAlchemy defaults to psycopg2)."""
    _, rest = location.split("://", 1)
    return f"postgresql+psycopg://{rest}"


def sqlite_path(location: str, repo_root: Path) -> Path:
    text = location.removeprefix("sqlite:///")
    if "://" in text:
        raise StateError(
            f"state location {location!r}: unsupported scheme; use a SQLite file path "
            "(e.g. .schedsync/state.db) or a postgresql:// URL in `state:` of schedsync.yaml"
        )
    path = Path(text).expanduser()
    return path if path.is_absolute() else repo_root / path


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event, not the driver, open transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # WAL + NORMAL survives a killed process; only a power cut can lose the last
        # commits, and never corrupts the file.
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _on_sqlite_begin(conn: sa.Connection) -> None:
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    # Straight to the driver: through exec_driver_sql this costs more than the query.
    driver = conn.connection.driver_connection
    assert driver is not None  # a checked-out connection always has one
    driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")


def sqlite_engine(path: Path) -> sa.Engine:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateError(
            f"state file {path}: cannot create its folder ({exc.strerror}); "
            "check the `state:` path in schedsync.yaml and its permissions"
        ) from exc
    url = sa.URL.create("sqlite+pysqlite", database=str(path))
    engine = sa.create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})
    sa.event.listen(engine, "connect", _on_sqlite_connect)
    sa.event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def make_engine(location: str, repo_root: Path) -> tuple[sa.Engine, str]:
    """The engine and a printable name for messages (passwords hidden)."""
    if is_postgres(location):
        try:
            engine = sa.create_engine(postgres_url(location), pool_pre_ping=True)
        except (sa.exc.ArgumentError, ValueError) as exc:  # e.g. a port that is no number
            raise StateError(
                f"state URL {redact_url(location)!r} in schedsync.yaml is malformed ({exc}); "
                "write e.g. postgresql://user@host:5432/dbname"
            ) from None
        return engine, engine.url.render_as_string(hide_password=True)
    path = sqlite_path(location, repo_root)
    return sqlite_engine(path), str(path)

"""Raw row access to APScheduler 3.x job stores (SQLAlchemy table, Redis hash + zset).

Rows are read and written directly, in the exact layout APScheduler uses, because its
own restoring methods import each job's function and delete the job when they cannot
(SCHEDULERS.md). A batch reads the rows it changes inside the same transaction that
writes them (row locks on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite, WATCH on Redis),
so a run the live scheduler records in between is never overwritten with a stale
next run time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url

from schedsync.engine.errors import ConfigError

READ_SLICE = 1000
# (job_state pickle, next_run_time as a UTC timestamp or None when paused)
Row = tuple[bytes, float | None]


@dataclass
class Changes:
    inserts: dict[str, Row] = field(default_factory=dict)
    updates: dict[str, Row] = field(default_factory=dict)
    deletes: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.inserts or self.updates or self.deletes)


# Given the current rows of the batch's keys (absent keys missing), what to write.
Decide = Callable[[dict[str, Row]], Changes]


class RowStore(Protocol):
    # True when the store itself refuses a second row with the same id (a primary key).
    unique_ids: bool

    def iter_all(self) -> Iterator[tuple[str, bytes, float | None]]: ...

    def read_all(self) -> list[tuple[str, bytes, float | None]]: ...

    def batch(self, keys: Sequence[str], decide: Decide) -> None: ...

    def close(self) -> None: ...


# --- SQLAlchemy ----------------------------------------------------------------------

def job_table(tablename: str, metadata: sa.MetaData) -> sa.Table:
    """``SQLAlchemyJobStore``'s table, column for column (types, key length, index)."""
    return sa.Table(
        tablename,
        metadata,
        sa.Column("id", sa.Unicode(191), primary_key=True),
        sa.Column("next_run_time", sa.Float(25), index=True),
        sa.Column("job_state", sa.LargeBinary, nullable=False),
    )


def resolve_url(url: str, repo_root: Path) -> URL:
    """``sqlite:///rel`` is relative to the repository; PostgreSQL goes through psycopg 3."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ConfigError(
            f"apscheduler url {url!r} is not a database URL; write e.g. "
            "'sqlite:///.schedsync/jobs.sqlite' or 'postgresql://user@host/db'"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            if not path.is_absolute():
                path = repo_root / path
            path.parent.mkdir(parents=True, exist_ok=True)
            parsed = parsed.set(database=str(path))
    elif backend in ("postgresql", "postgres") and parsed.get_driver_name() in (
        "psycopg2", "", "psycopg"
    ):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_immediate(engine: Engine) -> None:
    """pysqlite begins transactions lazily, so a read-then-write batch could lose the
    upgrade to a write lock; take the write lock at BEGIN instead (SQLAlchemy's
    documented recipe), but only for connections that ask for it."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


class SqlRowStore:
    unique_ids = True

    def __init__(self, url: str, tablename: str, repo_root: Path) -> None:
        resolved = resolve_url(url, repo_root)
        self.sqlite = resolved.get_backend_name() == "sqlite"
        options: dict[str, Any] = {"connect_args": {"timeout": 30}} if self.sqlite else {}
        self.engine = sa.create_engine(resolved, **options)
        if self.sqlite:
            _sqlite_immediate(self.engine)
        self.table = job_table(tablename, sa.MetaData())
        self._table_exists: bool | None = None

    def _exists(self) -> bool:
        if not self._table_exists:
            self._table_exists = sa.inspect(self.engine).has_table(self.table.name)
        return self._table_exists

    def iter_all(self) -> Iterator[tuple[str, bytes, float | None]]:
        """Every row, by id, in slices of one short transaction each: 100k jobs never sit
        in memory at once, and a SQLite read lock never outlasts one slice (a long read
        would block the live scheduler's writes)."""
        if not self._exists():
            return
        c = self.table.c
        query = sa.select(c.id, c.job_state, c.next_run_time).order_by(c.id).limit(READ_SLICE)
        last: str | None = None
        while True:
            page = query if last is None else query.where(c.id > last)
            with self.engine.connect() as conn:
                rows = [(r[0], r[1], r[2]) for r in conn.execute(page)]
            yield from rows
            if len(rows) < READ_SLICE:
                return
            last = rows[-1][0]

    def read_all(self) -> list[tuple[str, bytes, float | None]]:
        return list(self.iter_all())

    def _ensure_table(self) -> None:
        if not self._exists():
            # As ``SQLAlchemyJobStore.start`` does: create only when missing.
            self.table.metadata.create_all(self.engine, checkfirst=True)
            self._table_exists = True

    def _locked_rows(self, conn: Connection, keys: Sequence[str]) -> dict[str, Row]:
        if not keys:
            return {}
        c = self.table.c
        query = sa.select(c.id, c.job_state, c.next_run_time).where(c.id.in_(set(keys)))
        if not self.sqlite:
            query = query.with_for_update()
        return {r[0]: (r[1], r[2]) for r in conn.execute(query)}

    def batch(self, keys: Sequence[str], decide: Decide) -> None:
        self._ensure_table()
        with self.engine.connect().execution_options(write=True) as conn, conn.begin():
            changes = decide(self._locked_rows(conn, keys))
            self._write(conn, changes)

    def _write(self, conn: Connection, changes: Changes) -> None:
        t = self.table
        if changes.deletes:
            conn.execute(t.delete().where(t.c.id.in_(changes.deletes)))
        if changes.inserts:
            _insert(conn, t, changes.inserts)
        if changes.updates:
            update = (
                t.update()
                .where(t.c.id == sa.bindparam("key"))
                .values(job_state=sa.bindparam("state"), next_run_time=sa.bindparam("nrt"))
            )
            _executemany(conn, update, [
                {"key": k, "state": s, "nrt": n} for k, (s, n) in changes.updates.items()
            ])

    def close(self) -> None:
        self.engine.dispose()


_POSITIONS = ["id", "next_run_time", "job_state"]  # the table's column order


def _insert(conn: Connection, table: sa.Table, rows: dict[str, Row]) -> None:
    """``rows`` inserted as one executemany; positional drivers (SQLite) get tuples made
    in the statement's order, without a dict per row first."""
    stmt = table.insert()
    compiled = stmt.compile(dialect=conn.dialect, column_keys=_POSITIONS)
    if conn.dialect.positional and compiled.positiontup == _POSITIONS:
        conn.exec_driver_sql(str(compiled), [(k, n, s) for k, (s, n) in rows.items()])
    else:
        _executemany(conn, stmt, [{"id": k, "job_state": s, "next_run_time": n}
                                  for k, (s, n) in rows.items()])


def _executemany(conn: Connection, stmt: Any, rows: list[dict[str, Any]]) -> None:
    """``conn.execute(stmt, rows)`` straight to the driver's executemany: the values are
    what the driver takes as they are (str, bytes, float, None), and SQLAlchemy's
    per-row parameter processing would cost about as much as the insert itself."""
    compiled = stmt.compile(dialect=conn.dialect, column_keys=list(rows[0]))
    params: list[Any] = rows
    if conn.dialect.positional:
        params = list(map(itemgetter(*compiled.positiontup), rows))  # 3 columns: tuples
    conn.exec_driver_sql(str(compiled), params)


# --- Redis ---------------------------------------------------------------------------

class RedisRowStore:
    """``RedisJobStore``: hash ``jobs_key`` id -> pickle, zset ``run_times_key`` id ->
    next run timestamp (paused jobs are absent from the zset)."""

    RETRIES = 20
    unique_ids = False  # HSET overwrites: every row a batch writes is read first

    def __init__(self, url: str, jobs_key: str, run_times_key: str) -> None:
        import redis

        self._redis_mod = redis
        try:
            self.client = redis.Redis.from_url(url)
        except ValueError as exc:
            raise ConfigError(
                f"apscheduler url {url!r} is not a Redis URL ({exc}); write e.g. "
                "'redis://127.0.0.1:6379/0'"
            ) from None
        self.jobs_key = jobs_key
        self.run_times_key = run_times_key

    def iter_all(self) -> Iterator[tuple[str, bytes, float | None]]:
        """HSCAN in slices (HGETALL of 100k jobs would hold every pickle at once); a
        job changed during the scan may come twice, so each key is yielded once."""
        scores = {k.decode(): s for k, s in
                  self.client.zrange(self.run_times_key, 0, -1, withscores=True)}
        seen: set[bytes] = set()
        for key, state in self.client.hscan_iter(self.jobs_key, count=READ_SLICE):
            if key not in seen:
                seen.add(key)
                yield key.decode(), state, scores.get(key.decode())

    def read_all(self) -> list[tuple[str, bytes, float | None]]:
        return list(self.iter_all())

    def batch(self, keys: Sequence[str], decide: Decide) -> None:
        unique = list(dict.fromkeys(keys))
        for _ in range(self.RETRIES):
            # Decide outside the watch, then write only if our rows are still as read:
            # the watched window is two round trips, so a busy live scheduler (which
            # rewrites the hash after every run) rarely forces a retry.
            rows = self._rows(self.client, unique)
            changes = decide(rows)
            with self.client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self.jobs_key, self.run_times_key)
                    if self._rows(pipe, unique) != rows:
                        continue  # one of our rows changed meanwhile: decide again
                    pipe.multi()
                    self._write(pipe, changes)
                    pipe.execute()
                    return
                except self._redis_mod.WatchError:
                    continue  # the live scheduler wrote meanwhile: read again
        raise self._redis_mod.WatchError(
            f"the job store kept changing during {self.RETRIES} attempts"
        )

    def _rows(self, pipe: Any, keys: list[str]) -> dict[str, Row]:
        if not keys:
            return {}
        # Decisions read the next run from the state itself, so no score is fetched.
        states = pipe.hmget(self.jobs_key, keys)
        return {k: (s, None) for k, s in zip(keys, states, strict=True) if s is not None}

    def _write(self, pipe: Any, changes: Changes) -> None:
        if changes.deletes:
            pipe.hdel(self.jobs_key, *changes.deletes)
            pipe.zrem(self.run_times_key, *changes.deletes)
        rows = {**changes.inserts, **changes.updates}
        if rows:
            pipe.hset(self.jobs_key, mapping={k: s for k, (s, _) in rows.items()})
        due = {k: n for k, (_, n) in rows.items() if n is not None}
        paused = [k for k, (_, n) in rows.items() if n is None]
        if due:
            pipe.zadd(self.run_times_key, due)
        if paused:
            pipe.zrem(self.run_times_key, *paused)

    def close(self) -> None:
        self.client.close()

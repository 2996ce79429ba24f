"""``StateStore``: the one object the CLI, the engine and the server use for state.

Every write is its own short transaction (durable once the method returns: a crash
after ``record_applied`` loses nothing); the batch methods write many rows in one.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import sqlalchemy as sa

from schedsync.engine.state import (
    apply_lock,
    auth,
    bindings,
    fires,
    fresh,
    integrity,
    schedules,
)
from schedsync.engine.state import audit as audit_log
from schedsync.engine.state.coltypes import to_utc, utcnow
from schedsync.engine.state.connect import WRITE_OPTION, make_engine
from schedsync.engine.state.errors import StateError
from schedsync.engine.state.migrations import migrate
from schedsync.engine.state.records import AuditEntry, Binding, Fire, ScheduleRecord, User
from schedsync.engine.state.schema import bindings as bindings_table
from schedsync.engine.state.schema import fires as fires_table
from schedsync.engine.state.schema import meta
from schedsync.engine.state.schema import schedules as schedules_table

# Serialises migrations of one PostgreSQL database across processes.
_PG_MIGRATION_LOCK = 0x5C4ED


def _one_line(error: BaseException | None) -> str:
    return " ".join(str(error).split())


def _now(value: datetime | None) -> datetime:
    return utcnow() if value is None else to_utc(value)


def _opt(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def _forget_connections_in_forked_children(store: StateStore) -> None:
    """A forked child (Celery prefork, gunicorn) must not reuse its parent's connections:
    two processes on one SQLite handle or PostgreSQL socket corrupt each other's work.
    """
    ref = weakref.ref(store)

    def after_fork() -> None:
        alive = ref()
        if alive is not None:
            alive._engine.dispose(close=False)
            if isinstance(alive._write_mutex, type(threading.Lock())):
                alive._write_mutex = threading.Lock()  # a parent thread may have held it

    os.register_at_fork(after_in_child=after_fork)


class StateStore:
    """State of one schedsync repository (SPEC section 3), on SQLite or PostgreSQL."""

    lock_ttl: timedelta = apply_lock.DEFAULT_TTL
    lock_poll_s: float = 0.05

    def __init__(self, engine: sa.Engine, where: str) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self.where = where
        self._lineage = ""
        sqlite = engine.dialect.name == "sqlite"
        self._write_mutex: AbstractContextManager[Any] = (
            threading.Lock() if sqlite else nullcontext()
        )
        _forget_connections_in_forked_children(self)

    # -- opening ---------------------------------------------------------------------

    @classmethod
    def open(cls, location: str, repo_root: Path) -> StateStore:
        """Open (creating or upgrading) the state at a SQLite path or PostgreSQL URL."""
        engine, where = make_engine(location, repo_root)
        store = cls(engine, where)
        try:
            with store._write() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                    )
                migrate(conn, where)
                store._lineage = conn.execute(
                    sa.select(meta.c.lineage).where(meta.c.id == 1)
                ).scalar_one()
        except BaseException:
            engine.dispose()
            raise
        return store

    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except (sa.exc.OperationalError, sqlite3.OperationalError) as exc:
            cause = _one_line(getattr(exc, "orig", exc))
            raise StateError(
                f"state {self.where}: {cause}; check that it is reachable and "
                "not held by a stuck process (writers wait up to 30 s), then retry"
            ) from exc
        except sa.exc.DatabaseError as exc:
            raise StateError(
                f"state {self.where}: {_one_line(exc.orig)}; is `state:` in schedsync.yaml "
                "pointing at a schedsync state file? Restore it from a backup or choose a "
                "new path"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        # Threads of one process queue on a mutex: SQLite's own busy wait sleeps in
        # steps of up to 100 ms, which made 6 threads ~5x slower than taking turns.
        with self._guard(), self._write_mutex, self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._guard(), self._engine.connect() as conn:
            yield conn

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- lineage and serial ----------------------------------------------------------

    @property
    def lineage(self) -> str:
        """Created once with the state; a saved plan from another lineage is foreign."""
        return self._lineage

    def serial(self) -> int:
        with self._read() as conn:
            return int(conn.execute(sa.select(meta.c.serial).where(meta.c.id == 1)).scalar_one())

    def bump_serial(self) -> int:
        with self._write() as conn:
            conn.execute(meta.update().where(meta.c.id == 1).values(serial=meta.c.serial + 1))
            return int(conn.execute(sa.select(meta.c.serial).where(meta.c.id == 1)).scalar_one())

    # -- schedule identity -----------------------------------------------------------

    def ensure_schedule(
        self, project: str, name: str, now: datetime | None = None
    ) -> ScheduleRecord:
        with self._read() as conn:  # the common case, without taking the write lock
            found = schedules.by_name(conn, project, name)
        if found is not None:
            return found
        with self._write() as conn:
            return schedules.ensure(conn, project, name, _now(now))

    def plan_schedule_ids(self, project: str, names: list[str]) -> fresh.PlannedIds:
        """Ids for ``names`` without writing: known ones read, new ones derived (the
        records are written with their first bindings, see ``record_applied_many``)."""
        with self._read() as conn:
            return fresh.plan(conn, project, names)

    def schedule_records(self, project: str) -> dict[str, ScheduleRecord]:
        with self._read() as conn:
            return schedules.all_in(conn, project)

    def schedule_by_id(self, project: str, schedule_id: str) -> ScheduleRecord | None:
        with self._read() as conn:
            return schedules.by_id(conn, project, schedule_id)

    def rename_schedule(self, project: str, old: str, new: str) -> None:
        """Keeps the id, so fires, bindings and run times follow the new name.

        Repeatable: an unknown ``old`` is a no-op. A bare record already under ``new``
        (no bindings, no fires) gives way; one with history raises ``NameTaken``.
        """
        with self._write() as conn:
            schedules.rename(conn, project, old, new)

    def touch(self, project: str, name: str, when: datetime) -> None:
        with self._write() as conn:
            schedules.touch(conn, project, name, to_utc(when))

    def forget_schedule(self, project: str, name: str) -> None:
        """Drops the record with its bindings and fires; unknown names are a no-op."""
        with self._write() as conn:
            record = schedules.by_name(conn, project, name)
            if record is None:
                return
            for table in (bindings_table, fires_table):
                conn.execute(table.delete().where(table.c.schedule_id == record.id))
            conn.execute(schedules_table.delete().where(schedules_table.c.id == record.id))

    # -- bindings (the base of the three-way diff) ------------------------------------

    def bindings(self, project: str, scheduler: str) -> dict[str, Binding]:
        with self._read() as conn:
            return bindings.of(conn, project, scheduler)

    def set_live_digests(
        self, project: str, scheduler: str, found: Mapping[str, tuple[str, str]]
    ) -> int:
        """Record live digests for bindings whose base is still the text given with
        each (``bindings.set_digests``)."""
        with self._write() as conn:
            return bindings.set_digests(conn, project, scheduler, found)

    def may_have_live_digests(self, scheduler: str) -> bool:
        """Whether a scheduler of this name (in any project) has live digests recorded:
        a hint for a plan whether to read its store's digests while it works."""
        with self._read() as conn:
            return bindings.may_have_digests(conn, scheduler)

    def record_applied(
        self,
        project: str,
        scheduler: str,
        name: str,
        entry_key: str,
        spec: dict[str, Any] | None,
        *,
        managed: bool = True,
    ) -> None:
        self.record_applied_many(project, scheduler, [(name, entry_key, spec)], managed=managed)

    def record_applied_many(
        self,
        project: str,
        scheduler: str,
        items: list[tuple[str, str, dict[str, Any] | None]],
        *,
        managed: bool = True,
        planned: fresh.PlannedIds | None = None,
        digests: Mapping[str, str] | None = None,
    ) -> None:
        """``planned`` (from ``plan_schedule_ids``, same project) spares the look-up of
        the schedules' records, and the names it found without a record get theirs and
        their bindings by plain INSERTs. Should a record have gone or come meanwhile, the
        batch is recorded again the general way. ``digests``: the live entries' digests
        by name, as the writes of these specs left them (``bindings.record``)."""
        now = utcnow()
        if planned is not None:
            if planned.project != project:
                raise ValueError(f"ids planned for project {planned.project!r}, not {project!r}")
            new, rest = fresh.split(planned, items)
            known = {n: planned.ids[n] for n, _, _ in rest
                     if n in planned.ids and n not in planned.fresh} if rest else {}
            if self._try_record(project, scheduler, rest, managed=managed, now=now,
                                ids=known, planned=planned, new=new, digests=digests):
                planned.fresh.difference_update(name for name, _, _ in new)
                return
            planned.fresh.difference_update(name for name, _, _ in items)
        with self._write() as conn:
            bindings.record(conn, project, scheduler, items, managed=managed, now=now,
                            digests=digests)

    def _try_record(
        self,
        project: str,
        scheduler: str,
        items: list[tuple[str, str, dict[str, Any] | None]],
        *,
        managed: bool,
        now: datetime,
        ids: dict[str, str],
        planned: fresh.PlannedIds,
        new: list[tuple[str, str, dict[str, Any] | None]],
        digests: Mapping[str, str] | None,
    ) -> bool:
        """Record with the ids planned beforehand; False when a unique or foreign key
        says they no longer hold (nothing is written then)."""
        try:
            with self._write() as conn:
                if new:
                    fresh.insert(conn, planned, scheduler, new, managed=managed, now=now,
                                 digests=digests)
                if items:
                    bindings.record(conn, project, scheduler, items, managed=managed,
                                    now=now, ids=ids, digests=digests)
            return True
        except StateError as exc:  # _guard's wrapping of the driver's error
            if not isinstance(exc.__cause__, sa.exc.IntegrityError):
                raise
            return False

    # -- run times -------------------------------------------------------------------

    def set_run_times(
        self, project: str, name: str, last_run_at: datetime | None, next_run_at: datetime | None
    ) -> None:
        """Runtime facts from a scheduler; creates the record if it is new to us."""
        with self._write() as conn:
            record = schedules.ensure(conn, project, name, utcnow())
            schedules.set_run_times(conn, record.id, _opt(last_run_at), _opt(next_run_at))

    def run_times(self, project: str) -> dict[str, tuple[datetime | None, datetime | None]]:
        with self._read() as conn:
            return schedules.run_times(conn, project)

    # -- fires -----------------------------------------------------------------------

    def record_fire(
        self,
        project: str,
        name: str,
        *,
        task_id: str,
        fired_at: datetime,
        source: str,
        status: str = "pending",
    ) -> Fire:
        with self._write() as conn:
            record = schedules.ensure(conn, project, name, utcnow())
            return fires.record(
                conn,
                record.id,
                task_id=task_id,
                fired_at=to_utc(fired_at),
                source=source,
                status=status,
            )

    def finish_fire(
        self,
        task_id: str,
        *,
        status: str,
        finished_at: datetime,
        error: str | None = None,
        project: str | None = None,
        name: str | None = None,
    ) -> None:
        """The outcome of a run; may arrive before ``record_fire`` (then it is kept)."""
        with self._write() as conn:
            schedule_id = None
            if project is not None and name is not None:
                schedule_id = schedules.ensure(conn, project, name, utcnow()).id
            fires.finish(
                conn,
                task_id,
                status=status,
                finished_at=to_utc(finished_at),
                error=error,
                schedule_id=schedule_id,
            )

    def fire(self, task_id: str) -> Fire | None:
        with self._read() as conn:
            return fires.by_task(conn, task_id)

    def fires(
        self, project: str, name: str, *, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Fire], str | None]:
        """Newest first, with an opaque cursor for the next page (``None``: no more)."""
        with self._read() as conn:
            return fires.page(conn, project, name, limit=limit, cursor=cursor)

    # -- apply lock ------------------------------------------------------------------

    @contextmanager
    def lock(self, holder: str, *, timeout: float = 0.0) -> Iterator[None]:
        """Hold the apply lock; wait up to ``timeout`` seconds, else raise ``LockHeld``."""
        token = secrets.token_hex(16)
        started = time.monotonic()
        while True:
            with self._write() as conn:
                held = apply_lock.try_acquire(conn, token, holder, utcnow(), self.lock_ttl)
            if held is None:
                break
            waited = time.monotonic() - started
            if waited >= timeout:
                raise apply_lock.held_error(
                    f"state {self.where}", held, utcnow(), round(waited, 1), self.lock_ttl
                )
            time.sleep(min(self.lock_poll_s, timeout - waited))
        try:
            yield
        finally:
            with self._write() as conn:
                apply_lock.release(conn, token)

    def lock_info(self) -> apply_lock.LockInfo | None:
        with self._read() as conn:
            return apply_lock.current(conn)

    def break_lock(self) -> apply_lock.LockInfo | None:
        """Remove the lock whoever holds it (for an operator who knows it is dead)."""
        with self._write() as conn:
            held = apply_lock.current(conn)
            if held is not None:
                apply_lock.release(conn, held.token)
            return held

    # -- audit log -------------------------------------------------------------------

    def audit(
        self,
        *,
        actor: str,
        action: str,
        project: str,
        target: str,
        result: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        with self._write() as conn:
            audit_log.add(
                conn,
                at=utcnow(),
                actor=actor,
                action=action,
                project=project,
                target=target,
                result=result,
                details=details,
            )

    def audit_entries(self, project: str | None = None, limit: int = 100) -> list[AuditEntry]:
        with self._read() as conn:
            return audit_log.entries(conn, project, limit)

    # -- users, tokens, sessions -----------------------------------------------------

    def upsert_user(
        self,
        name: str,
        *,
        email: str | None = None,
        admin: bool | None = None,
        roles: dict[str, str] | None = None,
    ) -> User:
        with self._write() as conn:
            return auth.upsert_user(conn, name, email=email, admin=admin, roles=roles, now=utcnow())

    def user(self, name: str) -> User | None:
        with self._read() as conn:
            return auth.load_user(conn, name)

    def create_token(self, user: str) -> str:
        """The plaintext token, returned once; only its sha256 is stored."""
        with self._write() as conn:
            return auth.create_token(conn, user, utcnow())

    def revoke_tokens(self, user: str) -> int:
        with self._write() as conn:
            return auth.revoke_tokens(conn, user)

    def user_for_token(self, token: str) -> User | None:
        with self._read() as conn:
            return auth.user_for_token(conn, token)

    def create_session(self, user: str, ttl: timedelta) -> tuple[str, str]:
        """``(session_id, csrf_token)``; only a hash of the session id is stored."""
        now = utcnow()
        with self._write() as conn:
            return auth.create_session(conn, user, now, now + ttl)

    def session_user(self, session_id: str) -> tuple[User, str] | None:
        with self._read() as conn:
            return auth.session_user(conn, session_id, utcnow())

    def delete_session(self, session_id: str) -> None:
        with self._write() as conn:
            auth.delete_session(conn, session_id)

    # -- health ----------------------------------------------------------------------

    def check_integrity(self) -> list[str]:
        with self._read() as conn:
            return integrity.check(conn)

"""The apply lock: one apply at a time per state, across processes and hosts.

A row in ``schedsync_apply_lock``; inserting it is taking the lock (a unique key makes
that atomic on SQLite and PostgreSQL alike). A lock is stale, and may be broken by the
next taker, when its holder process has ended on this same host, or when it is older than
the TTL (a holder on another host cannot be checked).
"""

from __future__ import annotations

import enum
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from schedsync.engine.errors import LockHeld
from schedsync.engine.state.schema import apply_lock as t
from schedsync.engine.state.sql import insert_one_ignore

NAME = "apply"
DEFAULT_TTL = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class LockInfo:
    token: str
    holder: str
    host: str
    pid: int
    acquired_at: datetime


def current(conn: sa.Connection) -> LockInfo | None:
    row = conn.execute(t.select().where(t.c.name == NAME)).first()
    if row is None:
        return None
    return LockInfo(
        token=row.token, holder=row.holder, host=row.host, pid=row.pid, acquired_at=row.acquired_at
    )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class Holder(enum.Enum):
    """What is known about the process holding the lock."""

    RUNNING = "running"  # alive on this host
    ENDED = "ended"  # gone from this host: the lock is stale
    EXPIRED = "expired"  # older than the TTL: stale whoever holds it
    ELSEWHERE = "elsewhere"  # on another host, within the TTL: cannot be checked


def holder_state(info: LockInfo, now: datetime, ttl: timedelta) -> Holder:
    if now - info.acquired_at > ttl:
        return Holder.EXPIRED
    if info.host != socket.gethostname():
        return Holder.ELSEWHERE
    return Holder.RUNNING if _process_alive(info.pid) else Holder.ENDED


def is_stale(info: LockInfo, now: datetime, ttl: timedelta) -> bool:
    return holder_state(info, now, ttl) in (Holder.ENDED, Holder.EXPIRED)


def describe(info: LockInfo, now: datetime, ttl: timedelta) -> str:
    """One sentence for an operator: who holds the lock and whether it is stale."""
    age = int((now - info.acquired_at).total_seconds())
    state = {
        Holder.RUNNING: "that process is still running",
        Holder.ENDED: "that process has ended, so the lock is stale (the next apply breaks it)",
        Holder.EXPIRED: f"it is older than {ttl}, so it is stale (the next apply breaks it)",
        Holder.ELSEWHERE: "that host cannot be checked from here",
    }[holder_state(info, now, ttl)]
    return (
        f"held by {info.holder!r} (pid {info.pid} on {info.host}) since "
        f"{info.acquired_at:%Y-%m-%d %H:%M:%S} UTC ({age} s ago); {state}"
    )


def try_acquire(
    conn: sa.Connection, token: str, holder: str, now: datetime, ttl: timedelta
) -> LockInfo | None:
    """``None`` when the lock is now ours, else who holds it."""
    row = {
        "name": NAME,
        "token": token,
        "holder": holder,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired_at": now,
    }
    if insert_one_ignore(conn, t, row):
        return None
    held = current(conn)
    if held is None or is_stale(held, now, ttl):
        # Delete by token: of two processes breaking the same stale lock, one wins.
        if held is not None:
            conn.execute(t.delete().where(t.c.name == NAME, t.c.token == held.token))
        if insert_one_ignore(conn, t, row):
            return None
        held = current(conn)
    return held


def release(conn: sa.Connection, token: str) -> None:
    conn.execute(t.delete().where(t.c.name == NAME, t.c.token == token))


def held_error(
    where: str, info: LockInfo, now: datetime, waited: float, ttl: timedelta
) -> LockHeld:
    age = int((now - info.acquired_at).total_seconds())
    error = LockHeld(
        f"{where}: the apply lock is held by {info.holder!r} (pid {info.pid} on "
        f"{info.host}) since {info.acquired_at:%Y-%m-%d %H:%M:%S} UTC ({age} s ago); "
        f"waited {waited:g} s. Wait for that run to finish and try again. A lock whose "
        f"process has ended on this host, or older than {ttl}, is broken automatically."
    )
    error.holder = info.holder  # type: ignore[attr-defined]
    error.since = info.acquired_at  # type: ignore[attr-defined]
    return error

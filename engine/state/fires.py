"""Fire history: what ran, when, with which task id and outcome.

A worker's outcome can land before the publisher's record (both are separate processes
writing to the same state), so both writes are upserts keyed by task id, and a terminal
status is never overwritten by ``pending``.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import orjson
import sqlalchemy as sa

from schedsync.engine.state import schedules
from schedsync.engine.state.coltypes import format_instant, parse_instant
from schedsync.engine.state.errors import InvalidCursor
from schedsync.engine.state.records import FIRE_SOURCES, FIRE_STATUSES, Fire
from schedsync.engine.state.schema import fires as f
from schedsync.engine.state.schema import schedules as s
from schedsync.engine.state.sql import insert_one_ignore

_COLUMNS = (
    f.c.id,
    s.c.project,
    s.c.name,
    f.c.task_id,
    f.c.fired_at,
    f.c.source,
    f.c.status,
    f.c.finished_at,
    f.c.error,
    f.c.seq,
)


def _check(status: str, source: str | None = None) -> None:
    if status not in FIRE_STATUSES:
        raise ValueError(f"fire status {status!r}: expected one of {sorted(FIRE_STATUSES)}")
    if source is not None and source not in FIRE_SOURCES:
        raise ValueError(f"fire source {source!r}: expected one of {sorted(FIRE_SOURCES)}")


def _select() -> sa.Select[tuple[object, ...]]:
    return sa.select(*_COLUMNS).select_from(f.outerjoin(s, s.c.id == f.c.schedule_id))


def _fire(row: sa.Row[tuple[object, ...]]) -> Fire:
    m = row._mapping
    return Fire(
        id=m["id"],
        project=m["project"],
        name=m["name"],
        task_id=m["task_id"],
        fired_at=m["fired_at"],
        source=m["source"],
        status=m["status"],
        finished_at=m["finished_at"],
        error=m["error"],
    )


def by_task(conn: sa.Connection, task_id: str) -> Fire | None:
    row = conn.execute(_select().where(f.c.task_id == task_id)).first()
    return None if row is None else _fire(row)


def record(
    conn: sa.Connection,
    schedule_id: str,
    *,
    task_id: str,
    fired_at: datetime,
    source: str,
    status: str,
) -> Fire:
    _check(status, source)
    row = {
        "id": str(uuid.uuid4()),
        "schedule_id": schedule_id,
        "task_id": task_id,
        "fired_at": fired_at,
        "source": source,
        "status": status,
    }
    if not insert_one_ignore(conn, f, row):
        # The outcome came first: fill in what the publisher knows, keep the outcome.
        values: dict[str, object] = {
            "schedule_id": schedule_id,
            "fired_at": fired_at,
            "source": source,
        }
        if status != "pending":
            values["status"] = status
        conn.execute(f.update().where(f.c.task_id == task_id).values(**values))
    found = by_task(conn, task_id)
    assert found is not None  # just written in this transaction
    return found


def finish(
    conn: sa.Connection,
    task_id: str,
    *,
    status: str,
    finished_at: datetime,
    error: str | None,
    schedule_id: str | None,
) -> None:
    _check(status)
    # fired_at is provisional until the publisher's record lands.
    row = {
        "id": str(uuid.uuid4()),
        "schedule_id": schedule_id,
        "task_id": task_id,
        "fired_at": finished_at,
        "source": "schedule",
        "status": status,
        "finished_at": finished_at,
        "error": error,
    }
    if insert_one_ignore(conn, f, row):
        return
    values: dict[str, object] = {"status": status, "finished_at": finished_at, "error": error}
    conn.execute(f.update().where(f.c.task_id == task_id).values(**values))
    if schedule_id is not None:
        conn.execute(
            f.update()
            .where(f.c.task_id == task_id, f.c.schedule_id.is_(None))
            .values(schedule_id=schedule_id)
        )


def encode_cursor(fired_at: datetime, seq: int) -> str:
    raw = orjson.dumps([format_instant(fired_at), seq])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, seq = orjson.loads(raw)
        if not isinstance(seq, int) or isinstance(seq, bool):
            raise TypeError(seq)
        return parse_instant(when), seq
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise InvalidCursor(
            f"fires cursor {cursor[:40]!r} is not one this server handed out; "
            "start again without a cursor"
        ) from exc


def page(
    conn: sa.Connection, project: str, name: str, *, limit: int, cursor: str | None
) -> tuple[list[Fire], str | None]:
    """Newest first; keyset on (fired_at, seq) so equal timestamps never skip or repeat."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    after = decode_cursor(cursor) if cursor is not None else None
    record_ = schedules.by_name(conn, project, name)
    if record_ is None:
        return [], None
    query = _select().where(f.c.schedule_id == record_.id)
    if after is not None:
        when, seq = after
        query = query.where(
            sa.or_(f.c.fired_at < when, sa.and_(f.c.fired_at == when, f.c.seq < seq))
        )
    query = query.order_by(f.c.fired_at.desc(), f.c.seq.desc()).limit(limit + 1)
    rows = list(conn.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].fired_at, rows[-1].seq) if more else None
    return [_fire(r) for r in rows], next_cursor

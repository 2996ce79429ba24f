"""Schedule identity rows: ids, created/updated times, run times."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from schedsync.engine.errors import NotFound
from schedsync.engine.state import schema
from schedsync.engine.state.coltypes import format_instant
from schedsync.engine.state.errors import NameTaken
from schedsync.engine.state.ids import first_free_id, uuid5_text
from schedsync.engine.state.records import ScheduleRecord
from schedsync.engine.state.schema import schedules as t
from schedsync.engine.state.sql import insert_ignore, insert_one_ignore


def _record(row: sa.Row[tuple[object, ...]]) -> ScheduleRecord:
    m = row._mapping
    return ScheduleRecord(
        id=m["id"],
        project=m["project"],
        name=m["name"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        last_run_at=m["last_run_at"],
        next_run_at=m["next_run_at"],
    )


def by_name(conn: sa.Connection, project: str, name: str) -> ScheduleRecord | None:
    row = conn.execute(t.select().where(t.c.project == project, t.c.name == name)).first()
    return None if row is None else _record(row)


def by_id(conn: sa.Connection, project: str, schedule_id: str) -> ScheduleRecord | None:
    row = conn.execute(t.select().where(t.c.project == project, t.c.id == schedule_id)).first()
    return None if row is None else _record(row)


def all_in(conn: sa.Connection, project: str) -> dict[str, ScheduleRecord]:
    rows = conn.execute(t.select().where(t.c.project == project).order_by(t.c.name))
    return {r.name: _record(r) for r in rows}


def require(conn: sa.Connection, project: str, name: str) -> ScheduleRecord:
    found = by_name(conn, project, name)
    if found is None:
        raise NotFound(f"state: project {project!r} has no schedule {name!r}")
    return found


_SMALL = 100


def _id_taken(conn: sa.Connection, schedule_id: str) -> bool:
    return conn.execute(sa.select(t.c.id).where(t.c.id == schedule_id)).first() is not None


def ensure(conn: sa.Connection, project: str, name: str, now: datetime) -> ScheduleRecord:
    """The record for ``project/name``, created with a fresh id when absent."""
    while True:
        found = by_name(conn, project, name)
        if found is not None:
            return found
        new_id = first_free_id(project, name, lambda c: _id_taken(conn, c))
        row = {"id": new_id, "project": project, "name": name, "created_at": now, "updated_at": now}
        # A concurrent writer (PostgreSQL) may win either unique key; loop and re-read.
        insert_one_ignore(conn, t, row)


def ids_by_name(conn: sa.Connection, project: str, names: Iterable[str]) -> dict[str, str]:
    wanted = set(names)
    if not wanted:
        return {}
    query = sa.select(t.c.name, t.c.id).where(t.c.project == project)
    if len(wanted) <= _SMALL:
        query = query.where(t.c.name.in_(sorted(wanted)))
    # Large batches read the project's whole id column: one indexed range scan beats
    # long IN lists, which PostgreSQL plans as a sequential scan per list (~60 ms each).
    return {r.name: r.id for r in conn.execute(query) if r.name in wanted}


def ensure_many(
    conn: sa.Connection, project: str, names: Iterable[str], now: datetime
) -> dict[str, str]:
    """Ids for all ``names``, creating the missing ones in one batch."""
    wanted = list(dict.fromkeys(names))
    if len(wanted) <= _SMALL:
        ids = ids_by_name(conn, project, wanted)
        for name in wanted:
            if name not in ids:
                ids[name] = ensure(conn, project, name, now).id
        return ids
    known = project_ids(conn, project)
    stamp = format_instant(now)
    derived = derive_ids(project, [n for n in wanted if n not in known], set(known.values()))
    rows = [{"id": new_id, "project": project, "name": name,
             "created_at": stamp, "updated_at": stamp} for name, new_id in derived.items()]
    if insert_ignore(conn, t, rows, plain=True) == len(rows):
        # Every new row went in (none lost a race): the ids are those read and made.
        return {**{name: known[name] for name in wanted if name in known},
                **{row["name"]: row["id"] for row in rows}}
    ids = ids_by_name(conn, project, wanted)
    for name in wanted:  # lost a race with another writer: fall back to one by one
        if name not in ids:
            ids[name] = ensure(conn, project, name, now).id
    return ids


def project_ids(conn: sa.Connection, project: str) -> dict[str, str]:
    query = sa.select(t.c.name, t.c.id).where(t.c.project == project)
    return {r.name: r.id for r in conn.execute(query)}


def derive_ids(project: str, names: Iterable[str], taken: set[str]) -> dict[str, str]:
    """Ids for new records of ``names``: the natural id (uuid5 of ``project/name``)
    unless it is ``taken``, then the next free derivation. Ids collide only within a
    project: a renamed schedule keeps the id of its old name. Adds the ids to ``taken``."""
    ids = {}
    for name in dict.fromkeys(names):
        new_id = uuid5_text(f"{project}/{name}")
        if new_id in taken:
            new_id = first_free_id(project, name, taken.__contains__)
        taken.add(new_id)
        ids[name] = new_id
    return ids


def _has_history(conn: sa.Connection, schedule_id: str) -> bool:
    for table in (schema.bindings, schema.fires):
        query = sa.select(table.c.schedule_id).where(table.c.schedule_id == schedule_id)
        if conn.execute(query.limit(1)).first() is not None:
            return True
    return False


def rename(conn: sa.Connection, project: str, old: str, new: str) -> None:
    """Give ``old``'s record (id, bindings, fires) the name ``new``.

    Safe to repeat: when ``old`` is gone there is nothing to move (a resumed apply, or a
    state that never knew it). A record under ``new`` with no bindings or fires yet (made
    by a look-up before the rename was applied) gives way; one with history is a conflict.
    """
    record = by_name(conn, project, old)
    if record is None or old == new:
        return
    taken = by_name(conn, project, new)
    if taken is not None:
        if _has_history(conn, taken.id):
            raise NameTaken(
                f"state: cannot rename {project}/{old} to {new!r}: another schedule with "
                "applied entries or fires already has that name; delete or rename that one "
                "first"
            )
        conn.execute(t.delete().where(t.c.id == taken.id))
    conn.execute(t.update().where(t.c.id == record.id).values(name=new))


def touch(conn: sa.Connection, project: str, name: str, when: datetime) -> None:
    record = require(conn, project, name)
    conn.execute(t.update().where(t.c.id == record.id).values(updated_at=when))


def set_run_times(
    conn: sa.Connection, schedule_id: str, last: datetime | None, next_: datetime | None
) -> None:
    conn.execute(
        t.update().where(t.c.id == schedule_id).values(last_run_at=last, next_run_at=next_)
    )


def run_times(
    conn: sa.Connection, project: str
) -> dict[str, tuple[datetime | None, datetime | None]]:
    query = sa.select(t.c.name, t.c.last_run_at, t.c.next_run_at).where(t.c.project == project)
    return {r.name: (r.last_run_at, r.next_run_at) for r in conn.execute(query)}

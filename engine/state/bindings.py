"""Live bindings: the spec last applied to each live entry, and whether we manage it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from schedsync.engine.state import schedules
from schedsync.engine.state.records import Binding
from schedsync.engine.state.schema import bindings as b
from schedsync.engine.state.schema import schedules as s
from schedsync.engine.state.sql import chunks, upsert

Item = tuple[str, str, dict[str, Any] | None]  # (schedule name, entry key, spec or None)


def of(conn: sa.Connection, project: str, scheduler: str) -> dict[str, Binding]:
    query = (
        sa.select(s.c.name, b.c.entry_key, b.c.base_spec, b.c.managed, b.c.applied_at)
        .join(s, s.c.id == b.c.schedule_id)
        .where(s.c.project == project, b.c.scheduler == scheduler)
    )
    return {
        r.name: Binding(
            name=r.name,
            entry_key=r.entry_key,
            base_spec=r.base_spec,
            managed=bool(r.managed),
            applied_at=r.applied_at,
        )
        for r in conn.execute(query)
    }


def record(
    conn: sa.Connection,
    project: str,
    scheduler: str,
    items: list[Item],
    *,
    managed: bool,
    now: datetime,
) -> None:
    """Apply a batch of results: a spec replaces the base, ``None`` removes the binding."""
    latest = {name: (key, spec) for name, key, spec in items}  # the last word per name wins
    gone = [n for n, (_, spec) in latest.items() if spec is None]
    kept = {n: v for n, v in latest.items() if v[1] is not None}
    _delete(conn, scheduler, schedules.ids_by_name(conn, project, gone).values())
    ids = schedules.ensure_many(conn, project, kept, now)
    rows = [
        {
            "schedule_id": ids[n],
            "scheduler": scheduler,
            "entry_key": key,
            "base_spec": spec,
            "managed": managed,
            "applied_at": now,
        }
        for n, (key, spec) in kept.items()
    ]
    upsert(conn, b, ("schedule_id", "scheduler"), rows)


def _delete(conn: sa.Connection, scheduler: str, ids: Any) -> None:
    for batch in chunks(ids):
        conn.execute(b.delete().where(b.c.scheduler == scheduler, b.c.schedule_id.in_(batch)))

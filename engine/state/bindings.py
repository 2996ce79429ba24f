"""Live bindings: the spec last applied to each live entry, and whether we manage it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from schedsync.engine.state import schedules
from schedsync.engine.state.coltypes import dump_json, format_instant
from schedsync.engine.state.records import Binding
from schedsync.engine.state.schema import bindings as b
from schedsync.engine.state.schema import schedules as s
from schedsync.engine.state.sql import chunks, upsert

Item = tuple[str, str, dict[str, Any] | None]  # (schedule name, entry key, spec or None)


def of(conn: sa.Connection, project: str, scheduler: str) -> dict[str, Binding]:
    # Raw text columns, decoded only when read (``Binding``): SQLAlchemy's per-value
    # type processing cost ~4x, decoding every base on each plan ~40 ms per 10k. The
    # one SELECT goes straight to the driver (its rows are plain tuples): 10k bindings
    # ~4 ms less than through a SQLAlchemy result's rows.
    driver = conn.connection.driver_connection
    assert driver is not None  # a checked-out connection always has one
    sql, order = _of_sql(conn.dialect)
    named = {"project": project, "scheduler": scheduler}
    params: Any = named if order is None else tuple(named[k] for k in order)
    dbapi_error = conn.dialect.loaded_dbapi.Error
    try:
        rows = driver.execute(sql, params).fetchall()
    except dbapi_error as exc:
        # Wrapped as SQLAlchemy wraps it, so the store's guard reports it (an unreachable
        # or foreign PostgreSQL state is a StateError, not a psycopg traceback).
        raise sa.exc.DBAPIError.instance(sql, params, exc, dbapi_error) from exc
    return {
        name: Binding(name, key, spec, bool(managed), applied, digest)
        for name, key, spec, managed, applied, digest in rows
    }


def set_digests(
    conn: sa.Connection, project: str, scheduler: str, found: Mapping[str, tuple[str, str]]
) -> int:
    """``found``: schedule name -> (live digest, the base text it vouches for). Each is
    recorded only if the binding's base is still that text (an apply in between may
    have moved it). Returns how many were recorded."""
    ids = schedules.ids_by_name(conn, project, list(found))
    rows = [{"id": ids[name], "base": base, "digest": digest}
            for name, (digest, base) in found.items() if name in ids]
    if not rows:
        return 0
    # One executemany (an upgraded state adopts 10k at once), not a statement a row.
    return conn.execute(_SET_DIGEST.where(b.c.scheduler == scheduler), rows).rowcount


_SET_DIGEST = b.update().where(
    b.c.schedule_id == sa.bindparam("id"),
    sa.cast(b.c.base_spec, sa.Text) == sa.bindparam("base", type_=sa.Text),
).values(live_digest=sa.bindparam("digest"))


def may_have_digests(conn: sa.Connection, scheduler: str) -> bool:
    """Whether a binding of a scheduler of this name has a live digest: a hint (another
    project's scheduler of the same name counts), answered by a partial index at once;
    with the project's join, finding none meant reading every binding (~12 ms per 10k)."""
    found = conn.execute(
        sa.select(b.c.schedule_id)
        .where(b.c.scheduler == scheduler, b.c.live_digest.is_not(None))
        .limit(1)
    ).first()
    return found is not None


# Statement text per SQL dialect, driver and parameter style (a handful; not per engine:
# a server opens a state store, and so a dialect, again and again).
_OF_SQL: dict[tuple[str, str, str], tuple[str, tuple[str, ...] | None]] = {}


def _of_sql(dialect: sa.Dialect) -> tuple[str, tuple[str, ...] | None]:
    """The statement in the driver's parameter style, and the order of its positional
    parameters (None: named ones)."""
    style = (dialect.name, dialect.driver, dialect.paramstyle)
    found = _OF_SQL.get(style)
    if found is None:
        query = (
            sa.select(s.c.name, b.c.entry_key, b.c.base_spec, b.c.managed, b.c.applied_at,
                      b.c.live_digest)
            .join(s, s.c.id == b.c.schedule_id)
            .where(s.c.project == sa.bindparam("project"),
                   b.c.scheduler == sa.bindparam("scheduler"))
        )
        compiled = query.compile(dialect=dialect)
        order = compiled.positiontup
        found = _OF_SQL[style] = (str(compiled), None if order is None else tuple(order))
    return found


def record(
    conn: sa.Connection,
    project: str,
    scheduler: str,
    items: list[Item],
    *,
    managed: bool,
    now: datetime,
    ids: dict[str, str] | None = None,
    digests: Mapping[str, str] | None = None,
) -> None:
    """Apply a batch of results: a spec replaces the base, ``None`` removes the binding.

    ``ids`` maps schedule names to their record ids when the caller knows them;
    ``digests`` the live entries' digests by name, as the writes left them. A base
    recorded without one clears the old digest: the entry may differ from it now."""
    digests = digests or {}
    latest = {name: (key, spec) for name, key, spec in items}  # the last word per name wins
    gone = [n for n, (_, spec) in latest.items() if spec is None]
    kept = {n: v for n, v in latest.items() if v[1] is not None}
    if gone:
        _delete(conn, scheduler, schedules.ids_by_name(conn, project, gone).values())
    if ids is None or not all(n in ids for n in kept):
        ids = schedules.ensure_many(conn, project, kept, now)
    applied_at = format_instant(now)
    rows = [
        {
            "schedule_id": ids[n],
            "scheduler": scheduler,
            "entry_key": key,
            "base_spec": dump_json(spec),
            "managed": managed,
            "applied_at": applied_at,
            "live_digest": digests.get(n),
        }
        for n, (key, spec) in kept.items()
    ]
    upsert(conn, b, ("schedule_id", "scheduler"), rows, plain=True)


def _delete(conn: sa.Connection, scheduler: str, ids: Any) -> None:
    for batch in chunks(ids):
        conn.execute(b.delete().where(b.c.scheduler == scheduler, b.c.schedule_id.in_(batch)))

"""Consistency checks of a state database: what ``check_integrity`` and
``schedsync state check`` report.

Each problem is one line naming the table, the row and what is wrong. A crash (kill -9,
power loss) may leave the apply lock behind, which the next apply breaks on its own;
that is not a problem here. What would make a later apply go wrong is: a damaged
SQLite file, rows pointing at missing rows, values outside their domain, and two
schedules bound to one live entry (an apply would then write one entry for both).
"""

from __future__ import annotations

import orjson
import sqlalchemy as sa

from schedsync.engine.state.records import FIRE_SOURCES, FIRE_STATUSES, ROLES
from schedsync.engine.state.schema import (
    SCHEMA_VERSION,
    bindings,
    fires,
    meta,
    schedules,
    sessions,
    tokens,
    user_roles,
    users,
)


def _sqlite(conn: sa.Connection) -> list[str]:
    problems = [
        f"sqlite integrity_check: {row[0]}"
        for row in conn.exec_driver_sql("PRAGMA integrity_check")
        if row[0] != "ok"
    ]
    problems += [
        f"sqlite foreign_key_check: {row[0]} row {row[1]} points at a missing {row[2]} row"
        for row in conn.exec_driver_sql("PRAGMA foreign_key_check")
    ]
    return problems


def _orphans(
    conn: sa.Connection, child: sa.Table, column: str, parent: sa.Column[str], label: str
) -> list[str]:
    ref = child.c[column]
    query = (
        sa.select(ref)
        .select_from(child.outerjoin(parent.table, parent == ref))
        .where(ref.is_not(None), parent.is_(None))
    )
    return [
        f"{child.name}: {label} {value!r} does not exist" for value in conn.execute(query).scalars()
    ]


def _meta(conn: sa.Connection) -> list[str]:
    rows = conn.execute(sa.select(meta.c.schema_version)).scalars().all()
    if len(rows) != 1:
        return [f"{meta.name}: expected exactly one row, found {len(rows)}"]
    if rows[0] != SCHEMA_VERSION:
        return [f"{meta.name}: schema_version {rows[0]}, expected {SCHEMA_VERSION}"]
    return []


def _values(conn: sa.Connection) -> list[str]:
    problems = [
        f"{user_roles.name}: user {u!r} has unknown role {r!r} in {p!r}"
        for u, p, r in conn.execute(
            sa.select(user_roles.c.user_name, user_roles.c.project, user_roles.c.role).where(
                user_roles.c.role.not_in(ROLES)
            )
        )
    ]
    bad_fire = sa.or_(
        fires.c.status.not_in(sorted(FIRE_STATUSES)), fires.c.source.not_in(sorted(FIRE_SOURCES))
    )
    problems += [
        f"{fires.name}: fire of task {t!r} has status {st!r}, source {so!r}"
        for t, st, so in conn.execute(
            sa.select(fires.c.task_id, fires.c.status, fires.c.source).where(bad_fire)
        )
    ]
    raw = sa.select(
        bindings.c.schedule_id, bindings.c.scheduler, sa.type_coerce(bindings.c.base_spec, sa.Text)
    )
    for schedule_id, scheduler, text in conn.execute(raw):
        try:
            ok = isinstance(orjson.loads(text), dict)
        except orjson.JSONDecodeError:
            ok = False
        if not ok:
            problems.append(
                f"{bindings.name}: base spec of {schedule_id} on {scheduler} is not a JSON object"
            )
    return problems


def _shared_entries(conn: sa.Connection) -> list[str]:
    """Two schedules of one project bound to the same live entry of one scheduler."""
    owners = sa.func.count(bindings.c.schedule_id)
    query = (
        sa.select(schedules.c.project, bindings.c.scheduler, bindings.c.entry_key, owners)
        .join(schedules, schedules.c.id == bindings.c.schedule_id)
        .group_by(schedules.c.project, bindings.c.scheduler, bindings.c.entry_key)
        .having(owners > 1)
    )
    return [
        f"{bindings.name}: live entry {key!r} of {project}/{scheduler} is bound to "
        f"{count} schedules"
        for project, scheduler, key, count in conn.execute(query)
    ]


# What ``check`` looks at, in words (``schedsync state check`` prints it).
CHECKS = (
    "database file (SQLite integrity and foreign keys)",
    "schema version",
    "rows pointing at missing schedules or users",
    "roles, fire statuses and base specs",
    "one schedule per live entry",
)


def check(conn: sa.Connection) -> list[str]:
    problems = _sqlite(conn) if conn.dialect.name == "sqlite" else []
    problems += _meta(conn)
    problems += _orphans(conn, bindings, "schedule_id", schedules.c.id, "schedule")
    problems += _orphans(conn, fires, "schedule_id", schedules.c.id, "schedule")
    for child in (tokens, sessions, user_roles):
        problems += _orphans(conn, child, "user_name", users.c.name, "user")
    return problems + _values(conn) + _shared_entries(conn)

"""The audit log of API writes: who did what to which schedule, and how it went."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from schedsync.engine.state.records import AuditEntry
from schedsync.engine.state.schema import audit as a


def add(
    conn: sa.Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    project: str,
    target: str,
    result: str,
    details: dict[str, Any] | None,
) -> None:
    conn.execute(
        a.insert().values(
            at=at,
            actor=actor,
            action=action,
            project=project,
            target=target,
            result=result,
            details=details,
        )
    )


def entries(conn: sa.Connection, project: str | None, limit: int) -> list[AuditEntry]:
    """Newest first."""
    query = a.select().order_by(a.c.seq.desc()).limit(limit)
    if project is not None:
        query = query.where(a.c.project == project)
    return [
        AuditEntry(
            id=r.seq,
            at=r.at,
            actor=r.actor,
            action=r.action,
            project=r.project,
            target=r.target,
            result=r.result,
            details=r.details,
        )
        for r in conn.execute(query)
    ]

"""First bindings of schedules the state has no record of, written as plain INSERTs.

A large apply mostly records schedules the state has never seen (a first apply, a new
project, the rest of an apply a crash cut short): no identity row, hence no binding. Their
ids are derived once, before the first batch, exactly as ``schedules.ensure_many`` would
derive them; each batch then INSERTs its identity rows and bindings, without an upsert or
a read of ids. Should another writer make one of those records meanwhile (the live
scheduler's integration recording a fire), an INSERT fails on a unique key, the batch's
transaction rolls back, and the caller records the batch the general way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from schedsync.engine.state import schedules
from schedsync.engine.state.coltypes import dump_json, format_instant
from schedsync.engine.state.schema import bindings
from schedsync.engine.state.schema import schedules as schedules_table
from schedsync.engine.state.sql import insert_rows

Item = tuple[str, str, dict[str, Any] | None]  # (schedule name, entry key, spec or None)

_SCHEDULE_COLUMNS = ("id", "project", "name", "created_at", "updated_at")
_BINDING_COLUMNS = ("schedule_id", "scheduler", "entry_key", "base_spec", "managed",
                    "applied_at", "live_digest")


@dataclass
class PlannedIds:
    """The schedule ids of one apply's names, read or derived before its first batch.

    ``fresh``: the names that had no record then and whose record is not written yet.
    """

    project: str
    ids: dict[str, str]
    fresh: set[str]


def plan(conn: sa.Connection, project: str, names: Sequence[str]) -> PlannedIds:
    """Reads only: the ids of known names, and derived ids for the others."""
    known = schedules.project_ids(conn, project)
    derived = schedules.derive_ids(project, [n for n in names if n not in known],
                                   set(known.values()))
    return PlannedIds(project, {**{n: known[n] for n in names if n in known}, **derived},
                      set(derived))


def split(planned: PlannedIds, items: Sequence[Item]) -> tuple[list[Item], list[Item]]:
    """(items that create a fresh name's first binding, the rest). A name that occurs
    twice leaves everything to the general path, which lets the last word win."""
    names = [name for name, _, _ in items]
    if len(set(names)) != len(names):
        return [], list(items)
    if planned.fresh.issuperset(names) and all(spec is not None for _, _, spec in items):
        return list(items), []  # the common case: a batch of creates new to the state
    fresh: list[Item] = []
    rest: list[Item] = []
    for item in items:
        (fresh if item[2] is not None and item[0] in planned.fresh else rest).append(item)
    return fresh, rest


def insert(
    conn: sa.Connection,
    planned: PlannedIds,
    scheduler: str,
    items: Sequence[Item],
    *,
    managed: bool,
    now: datetime,
    digests: Mapping[str, str] | None = None,
) -> None:
    """The identity rows and bindings of ``items`` (fresh names, specs given): the rows
    ``bindings.record`` writes for them, with plain INSERTs."""
    digest = (digests or {}).get
    stamp = format_instant(now)
    project, ids = planned.project, planned.ids
    insert_rows(conn, schedules_table, _SCHEDULE_COLUMNS,
                [(ids[name], project, name, stamp, stamp) for name, _, _ in items])
    insert_rows(conn, bindings, _BINDING_COLUMNS, [
        (ids[name], scheduler, key, dump_json(spec), managed, stamp, digest(name))
        for name, key, spec in items
    ])

"""Digests of django-celery-beat entries, computed by PostgreSQL.

A plan must know whether each entry still holds the spec schedsync last wrote to it.
Reading and converting every row whole costs ~6 us of Python per row; a digest of what
the row reads back as, computed by the database, says the same in one short string.
The apply that writes a row reads its digest back in the same transaction and the
state records it with the base (``Binding.live_digest``); while a row's digest is still
that one, it holds that base, whoever else wrote to the table meanwhile.

What the digest covers is exactly what the listing reads: the task's columns and the
values of the schedule row it points at (a crontab row is shared, and can be edited on
its own). Each value goes through ``quote_nullable`` (NULL and 'NULL' differ, quotes
are doubled), so two different rows never share a digest text; instants are taken as
epoch seconds, as their text depends on the session's time zone.

PostgreSQL only: SQLite has no digest function, and its plans read every row whole.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from schedsync.engine.adapters.celery_common import CRON_FIELDS
from schedsync.engine.adapters.django_tables import clocked, crontab, interval, solar, task

_COVERED = (
    task.c.task, task.c.args, task.c.kwargs, task.c.queue, task.c.headers,
    task.c.priority, task.c.expire_seconds, task.c.enabled, task.c.description,
    task.c.crontab_id, task.c.interval_id, task.c.solar_id, task.c.clocked_id,
    *(crontab.c[f] for f in CRON_FIELDS), crontab.c.timezone,
    interval.c.every, interval.c.period,
    solar.c.event, solar.c.latitude, solar.c.longitude,
    sa.extract("epoch", clocked.c.clocked_time),
)
DIGEST = sa.func.encode(
    sa.func.sha256(sa.func.convert_to(
        sa.func.concat_ws(",", *(sa.func.quote_nullable(c) for c in _COVERED)), "UTF8")),
    "hex",
).label("digest")
JOINED = (
    task.outerjoin(crontab, task.c.crontab_id == crontab.c.id)
    .outerjoin(interval, task.c.interval_id == interval.c.id)
    .outerjoin(solar, task.c.solar_id == solar.c.id)
    .outerjoin(clocked, task.c.clocked_id == clocked.c.id)
)
# (entry key, digest, last run, run count) of every task: a plan's first read. Sorted
# by the server in code point order (Python's): a plan reads it while busy with other
# work, where sorting 10k SQLAlchemy rows in Python cost ~10 ms of its own time.
DIGEST_QUERY = (
    sa.select(task.c.name, DIGEST, task.c.last_run_at, task.c.total_run_count)
    .select_from(JOINED)
    .order_by(task.c.name.collate("C"))
)

# The schedule tables in the order of the task's foreign keys, with the columns that
# ``_WRITTEN_QUERY`` returns for each.
_KINDS: tuple[tuple[str, sa.Table], ...] = (
    ("cron", crontab), ("interval", interval), ("solar", solar), ("clocked", clocked),
)
_VALUE_COLUMNS = [[c for c in table.c if c.name != "id"] for _, table in _KINDS]
_WRITTEN_QUERY = sa.select(
    task.c.name, DIGEST, task.c.crontab_id, task.c.interval_id, task.c.solar_id,
    task.c.clocked_id, *(c for columns in _VALUE_COLUMNS for c in columns),
).select_from(JOINED)

# (schedule kind, row id, the row's values by column name) -> whether they are the
# values the write meant that row to have.
Verify = Callable[[str, int, dict[str, Any]], bool]


def written_digests(conn: Connection, keys: Sequence[str], verify: Verify) -> dict[str, str]:
    """The digests of the tasks named ``keys``, read in the transaction that wrote them
    (its row locks keep other writers off those rows until it commits).

    The schedule rows they point at are not locked: one edited since the write looked
    its id up would be in the digest but not in the base. ``verify`` checks each such
    row's values (read in the same snapshot as the digests); a task whose row fails it
    gets no digest, and plans read it whole."""
    found: dict[str, str] = {}
    checked: dict[tuple[int, int], bool] = {}
    for start in range(0, len(keys), 1000):
        batch = list(keys[start:start + 1000])
        for row in conn.execute(_WRITTEN_QUERY.where(task.c.name.in_(batch))):
            if _schedule_row_holds(row, checked, verify):
                found[row[0]] = row[1]
    return found


def _schedule_row_holds(row: Any, checked: dict[tuple[int, int], bool], verify: Verify) -> bool:
    offset = 6  # name, digest, the four foreign keys
    for index, (kind, _) in enumerate(_KINDS):
        columns = _VALUE_COLUMNS[index]
        row_id = row[2 + index]
        if row_id is not None:
            memo = (index, row_id)
            if memo not in checked:
                values = {c.name: row[offset + i] for i, c in enumerate(columns)}
                checked[memo] = verify(kind, row_id, values)
            return checked[memo]
        offset += len(columns)
    return False  # a task without a schedule row: nothing a plan could take as read

"""django-celery-beat's tables, read and written with SQLAlchemy Core (no Django here).

The user's Django project owns the schema (its migrations create the tables); this
adapter only reads and writes rows, the way Django's models would:

- schedule rows (crontab, interval, solar, clocked) are shared between tasks and found
  by value, time zone included: beat's loader breaks on SQLite once enabled tasks
  reference 999 distinct crontab rows, and the admin shares them too;
- every NOT NULL column gets the value Django would give it;
- each write batch bumps ``django_celery_beat_periodictasks`` (ident 1), which is how a
  running ``DatabaseScheduler`` notices changes within seconds;
- disabling clears ``last_run_at`` as ``PeriodicTask.save`` does, so re-enabling does not
  fire at once for runs missed while disabled.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url

from schedsync.engine.adapters import celery_common as cc
from schedsync.engine.adapters.base import (
    Expectation,
    Expected,
    LiveEntry,
    Operation,
    OpKind,
    OpResult,
    paused_gc,
)
from schedsync.engine.adapters.django_digest import (
    DIGEST,
    DIGEST_QUERY,
    JOINED,
    written_digests,
)
from schedsync.engine.adapters.django_tables import (
    changes,
    clocked,
    crontab,
    interval,
    solar,
    task,
)
from schedsync.engine.capabilities import capabilities_for
from schedsync.engine.errors import ConfigError, SchedulerUnavailable
from schedsync.engine.spec import Spec, canonical_instant, spec_bytes
from schedsync.schemas.config import CeleryBeatScheduler

_TZ_HEADER = "schedsync_timezone"
_PERIODS = ("days", "hours", "minutes", "seconds")


_SCHEDULE_TABLES: dict[str, sa.Table] = {
    "cron": crontab, "interval": interval, "solar": solar, "clocked": clocked,
}
_FK = {"cron": "crontab_id", "interval": "interval_id", "solar": "solar_id",
       "clocked": "clocked_id"}


# Positions matter: ``_live_entries`` unpacks the rows. Only what a spec and
# a LiveEntry need; schedule rows are read apart (few, shared) and decoded once each.
_LIST_QUERY = sa.select(
    task.c.name, task.c.task, task.c.args, task.c.kwargs, task.c.queue,  # 0-4
    task.c.headers, task.c.priority, task.c.expire_seconds, task.c.enabled,  # 5-8
    task.c.description, task.c.last_run_at, task.c.total_run_count,  # 9-11
    task.c.crontab_id, task.c.interval_id, task.c.solar_id, task.c.clocked_id,  # 12-15
)  # no ORDER BY: sorting by name in Python is cheaper than PostgreSQL's collated sort
# The listing's columns and the digest, in one snapshot (``digests_of``).
_DIGESTED_LIST_QUERY = sa.select(*_LIST_QUERY.selected_columns, DIGEST).select_from(JOINED)
_SCHEDULE_QUERIES: dict[str, sa.Select[Any]] = {
    kind: sa.select(*table.c) for kind, table in (
        ("cron", crontab), ("interval", interval), ("solar", solar), ("clocked", clocked))
}


def database_url(url: str, repo_root: Path) -> str:
    """A user's URL -> a SQLAlchemy URL with a driver we ship; relative SQLite paths are
    relative to the repository root."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(str(parsed.database))
        if not path.is_absolute():
            return str(parsed.set(database=str(repo_root / path)))
    return url


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("postgresql+psycopg://"):
        # No hstore column in these tables: skip psycopg's hstore type lookup, one more
        # round trip each time a plan opens the store.
        return {"use_native_hstore": False}
    return {}


class DjangoCeleryBeatAdapter(cc.CeleryStoreAdapter):
    def __init__(
        self, config: CeleryBeatScheduler, repo_root: Path, *, project: str | None = None
    ) -> None:
        if not config.url:
            raise ConfigError(
                "the celery-beat scheduler with store django-celery-beat has no 'url': set "
                "it to your Django database, e.g. postgresql://user@host/db or "
                "sqlite:///db.sqlite3."
            )
        super().__init__(config, repo_root, project)
        url = database_url(config.url, repo_root)
        try:
            self.engine: Engine = sa.create_engine(url, **_engine_options(url))
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise ConfigError(
                f"the django-celery-beat url in schedsync.yaml is not usable: {exc}. "
                "Use postgresql://user@host/db or sqlite:///path."
            ) from None
        self.sqlite = self.engine.dialect.name == "sqlite"
        self.capabilities = capabilities_for(config)

    # -- reading ---------------------------------------------------------------------

    def list_entries(
        self, expect: Expectation | None = None, *, digests: bool = False
    ) -> list[LiveEntry]:
        """Every task; those whose digest is the one recorded with a base that is their
        expected spec are not read whole: they hold that spec (``django_digest``).

        Given ``expect`` to compute and ``digests`` recorded, the digests are read
        meanwhile, in a thread: the database takes ~5 us a row to make them (~50 ms per
        10k on the bench machine), about what the caller needs to work out what it
        expects."""
        prefetch = None
        if digests and callable(expect) and not self.sqlite:
            prefetch = _PREFETCH.submit(self._digest_rows)
        try:
            with paused_gc():
                return self._entries((expect() if callable(expect) else expect) or {},
                                     prefetch)
        finally:
            if prefetch is not None:
                wait([prefetch])  # its connection is back in the pool before we return

    def _entries(
        self, expect: Mapping[str, Expected], digests: Future[Sequence[Any]] | None
    ) -> list[LiveEntry]:
        with self._connect("read the periodic tasks") as conn:
            held, unread = self._held(conn, expect, digests)
            # Tasks first: a schedule row they reference is then already committed.
            # ``all()``: one fetch; iterating the result fetches row by row (~2x).
            rows = sorted(self._rows(conn, unread), key=_by_name)
            schedules = _Schedules(conn)
        entries, self._managed = _live_entries(rows, schedules, expect)
        del rows  # before the collector runs again: 10k rows less to walk
        if held:
            self._managed.update(dict.fromkeys((e.key for e in held), self.project or None))
            entries = sorted(held + entries, key=_by_key) if entries else held
        return entries

    def _held(
        self,
        conn: Connection,
        expect: Mapping[str, Expected],
        digests: Future[Sequence[Any]] | None,
    ) -> tuple[list[LiveEntry], list[str] | None]:
        """The entries whose digest vouches for their expected spec, and the keys of the
        others (None: read every task, no digest was recorded)."""
        vouched = {e.key: e for e in expect.values() if e.digest is not None}
        if self.sqlite or not vouched:
            return [], None
        rows = digests.result() if digests is not None else conn.execute(DIGEST_QUERY).all()
        held: list[LiveEntry] = []
        unread: list[str] = []
        for key, digest, last_run, count in rows:  # sorted by key (DIGEST_QUERY)
            wanted = vouched.get(key)
            if wanted is not None and wanted.digest == digest:
                if last_run is not None:
                    last_run = _aware(last_run)
                held.append(LiveEntry(key, wanted.spec, None, last_run, count))
            else:
                unread.append(key)
        return held, unread

    def digests_of(self, expected: Mapping[str, bytes]) -> dict[str, str]:
        """The digests of the tasks ``expected`` names (entry key -> the canonical bytes
        of the spec it should hold) that read back as exactly that spec: for bases
        recorded without one (before the state kept digests, by an import). Rows,
        schedule rows and digests come from one snapshot, so a digest only ever vouches
        for what was compared. PostgreSQL only, like every digest."""
        if self.sqlite or not expected:
            return {}
        keys = list(expected)
        found: dict[str, str] = {}
        try:
            with paused_gc(), self.engine.connect().execution_options(
                isolation_level="REPEATABLE READ"
            ) as conn, conn.begin():
                schedules = _Schedules(conn)
                for start in range(0, len(keys), _FEW):
                    rows = conn.execute(_DIGESTED_LIST_QUERY.where(
                        task.c.name.in_(keys[start:start + _FEW]))).all()
                    digest = {row[0]: row[-1] for row in rows}
                    entries, _ = _live_entries([row[:-1] for row in rows], schedules, {})
                    found.update((e.key, digest[e.key]) for e in entries
                                 if e.problem is None and spec_bytes(e.spec) == expected[e.key])
        except sa.exc.SQLAlchemyError as exc:
            raise SchedulerUnavailable(f"cannot read the periodic tasks' digests: "
                                       f"{_db_error(exc)}") from None
        return found

    def _digest_rows(self) -> Sequence[Any]:
        with self._connect("read the periodic tasks' digests") as conn:
            return conn.execute(DIGEST_QUERY).all()

    def _rows(self, conn: Connection, keys: list[str] | None) -> Sequence[Any]:
        if keys is None or len(keys) > _FEW:
            rows = conn.execute(_LIST_QUERY).all()
            if keys is None:
                return rows
            wanted = set(keys)
            return [row for row in rows if row[0] in wanted]
        if not keys:
            return []
        return conn.execute(_LIST_QUERY.where(task.c.name.in_(keys))).all()

    # -- writing ---------------------------------------------------------------------

    def _apply_batch(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        try:
            with self.engine.begin() as conn:
                rows = _ScheduleRows(conn, self._db_time)
                failed = self._write(conn, ops, rows)
                digests = self._digests(conn, ops, failed, rows)
        except sa.exc.SQLAlchemyError:
            # One bad row fails the whole transaction: redo one by one so that every
            # change gets its own result.
            yield from self._one_by_one(ops)
        else:
            yield from (OpResult(op, ok=op.key not in failed, error=failed.get(op.key),
                                 digest=digests.get(op.key))
                        for op in ops)

    def _digests(
        self, conn: Connection, ops: Sequence[Operation], failed: dict[str, str],
        rows: _ScheduleRows,
    ) -> dict[str, str]:
        """The digests of the rows this batch wrote whole from a spec (a bare toggle
        leaves the rest of a row as it found it: no digest vouches for it)."""
        if self.sqlite:
            return {}
        keys = [op.key for op in ops
                if op.spec is not None and op.kind is not OpKind.DELETE and op.key not in failed]
        return written_digests(conn, keys, rows.holds_values) if keys else {}

    def _one_by_one(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        for op in ops:
            try:
                with self.engine.begin() as conn:
                    failed = self._write(conn, [op], _ScheduleRows(conn, self._db_time))
            except sa.exc.SQLAlchemyError as exc:
                yield OpResult(op, ok=False, error=_db_error(exc))
            else:
                yield OpResult(op, ok=op.key not in failed, error=failed.get(op.key))

    def _write(
        self, conn: Connection, ops: Sequence[Operation], rows: _ScheduleRows
    ) -> dict[str, str]:
        """Carry out ``ops`` in ``conn``'s transaction; returns key -> error of refused ops."""
        now = self._now()
        keys = [op.key for op in ops]
        existing = set(conn.scalars(sa.select(task.c.name).where(task.c.name.in_(keys))))
        failed: dict[str, str] = {}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        toggles: list[dict[str, Any]] = []
        deletes: list[str] = []
        for op in ops:
            if op.kind is OpKind.DELETE:
                deletes.append(op.key)
            elif op.kind is OpKind.CREATE and op.key in existing:
                failed[op.key] = f"a periodic task named {op.key!r} already exists"
            elif op.kind is not OpKind.CREATE and op.key not in existing:
                failed[op.key] = f"no periodic task named {op.key!r} to {op.kind.value}"
            elif op.spec is None:
                enabled = op.kind is OpKind.ENABLE
                toggle = {"k": op.key, "enabled": enabled, "date_changed": now}
                toggles.append(toggle if enabled else {**toggle, "last_run_at": None})
            else:
                try:
                    values = self._values(op, rows, now)
                except (KeyError, ValueError, TypeError) as exc:
                    failed[op.key] = f"{type(exc).__name__}: {exc}"
                    continue
                (inserts if op.kind is OpKind.CREATE else updates).append(values)
        self._execute(conn, inserts, updates, toggles, deletes)
        self._bump(conn, now)
        return failed

    def _values(self, op: Operation, rows: _ScheduleRows, now: datetime) -> dict[str, Any]:
        spec = dict(op.spec or {})
        if op.kind in (OpKind.ENABLE, OpKind.DISABLE):
            spec["enabled"] = op.kind is OpKind.ENABLE
        values = {**self.row_values(spec), "date_changed": now}
        values.update({fk: None for fk in _FK.values()})
        values[_FK[spec["trigger_type"]]] = rows.id_for(spec)
        if op.kind is OpKind.CREATE:
            values.update(name=op.key, total_run_count=0, last_run_at=None,
                          exchange=None, routing_key=None, expires=None, start_time=None)
        else:
            values["k"] = op.key
        return values

    def row_values(self, spec: Spec) -> dict[str, Any]:
        """The periodic-task columns a spec decides."""
        headers: dict[str, Any] = cc.entry_headers(str(spec["name"]), self.project)
        if spec["trigger_type"] != "cron" and spec.get("timezone"):
            headers[_TZ_HEADER] = spec["timezone"]
        expires = spec.get("expires")
        values = {
            "task": spec["task"],
            "args": json.dumps(list(spec.get("args") or [])),
            "kwargs": json.dumps(dict(spec.get("kwargs") or {})),
            "queue": spec.get("queue") or None,
            "priority": spec.get("priority"),
            "expire_seconds": round(expires) if expires is not None else None,
            "headers": json.dumps(headers),
            "enabled": bool(spec.get("enabled", True)),
            "one_off": spec["trigger_type"] == "clocked",  # Django requires it for clocked
            "description": spec.get("description") or "",
        }
        if not values["enabled"]:
            values["last_run_at"] = None
        return values

    def _execute(
        self,
        conn: Connection,
        inserts: list[dict[str, Any]],
        updates: list[dict[str, Any]],
        toggles: list[dict[str, Any]],
        deletes: list[str],
    ) -> None:
        if deletes:
            conn.execute(sa.delete(task).where(task.c.name.in_(deletes)))
        if inserts:
            conn.execute(sa.insert(task), inserts)
        for group in _same_columns(updates):
            columns: dict[str, Any] = {c: sa.bindparam(c) for c in group[0] if c != "k"}
            conn.execute(sa.update(task).where(task.c.name == sa.bindparam("k"))
                         .values(columns), group)
        for group in _same_columns(toggles):
            enabled = group[0]["enabled"]
            toggled: dict[str, Any] = {"enabled": sa.bindparam("enabled"),
                                       "date_changed": sa.bindparam("date_changed")}
            if not enabled:
                toggled["last_run_at"] = sa.bindparam("last_run_at")
            conn.execute(sa.update(task).where(task.c.name == sa.bindparam("k"))
                         .values(toggled), group)

    def _bump(self, conn: Connection, now: datetime) -> None:
        # Beat compares this row with what it saw last; without it changes wait for its
        # forced 5-minute reload and deleted tasks keep firing until then.
        done = conn.execute(sa.update(changes).where(changes.c.ident == 1)
                            .values(last_update=now))
        if done.rowcount == 0:
            conn.execute(sa.insert(changes).values(ident=1, last_update=now))

    def _now(self) -> datetime:
        return self._db_time(cc.utcnow())

    def _db_time(self, moment: datetime) -> datetime:
        # Django keeps naive UTC text in SQLite and timestamptz in PostgreSQL.
        moment = moment.astimezone(UTC)
        return moment.replace(tzinfo=None) if self.sqlite else moment

    def normalize(self, spec: Spec) -> Spec:
        """``spec`` as it reads back: Celery crontab text, whole expire seconds."""
        if spec.get("trigger_type") == "cron":  # the check inline: once per schedule
            spec = cc.normalize_cron(spec)
        expires = spec.get("expires")
        if expires is not None and expires != round(expires):
            spec = {**spec, "expires": float(round(expires))}
        return spec

    def close(self) -> None:
        self.engine.dispose()

    # -- helpers ---------------------------------------------------------------------

    def _connect(self, what: str) -> _Connected:
        return _Connected(self.engine, f"cannot {what} in {self.engine.url!r}")


_by_name = operator.itemgetter(0)
_by_key = operator.attrgetter("key")
# Threads shared by every adapter (a server plans in several at once): each reads one
# listing's digests while its plan works out what it expects (see ``list_entries``).
_PREFETCH = ThreadPoolExecutor(max_workers=4, thread_name_prefix="schedsync-digests")
# Up to this many tasks left to read whole are asked for by name, more are read all.
_FEW = 1000


def _live_entries(
    rows: Sequence[Any], schedules: _Schedules, expect: Mapping[str, Expected]
) -> tuple[list[LiveEntry], dict[str, str | None]]:
    """Task rows (``_LIST_QUERY``) -> live entries, and the managed marks among them.

    A row whose spec has the canonical bytes of the spec expected under its name
    (``expect``) gets that very spec: the planner then knows it in sync by identity.
    The bytes are taken here, while the spec just built is in the CPU's cache: the
    planner serialising the 10k live specs later, scattered in memory, cost ~3x as
    much (~40 ms vs ~13 ms per 10k on the bench machine).

    One loop with the look-ups hoisted: it runs once per task (10k and more). Each spec
    comes from ``cc.live_spec``, the normalisation every store shares: writing its dict
    out inline here saved only ~2 ms per 10k rows (28.7 vs 30.5 ms) and made a second
    copy to keep in step.
    """
    loads, name_header, live_spec = orjson.loads, cc.NAME_HEADER, cc.live_spec
    known, trigger_of, expected = schedules.triggers, schedules.trigger, expect.get
    dumps, sorted_keys = orjson.dumps, orjson.OPT_SORT_KEYS
    project_header, entry = cc.PROJECT_HEADER, LiveEntry
    entries: list[LiveEntry] = []
    append = entries.append
    managed: dict[str, str | None] = {}
    for (key, task_name, args, kwargs, queue, headers, priority, expires, enabled,
         description, last_run, count, crontab_id, interval_id, solar_id, clocked_id,
         ) in rows:
        if last_run is not None:
            last_run = _aware(last_run)
        try:
            ids = (crontab_id, interval_id, solar_id, clocked_id)
            template, zone = known.get(ids) or trigger_of(ids)  # a call once per row
            trigger_type = template["trigger_type"]
            headers = loads(headers or "{}")
            name = None
            if type(headers) is dict:
                name = headers.get(name_header)
                if type(name) is str:
                    project = headers.get(project_header)
                    managed[key] = project if type(project) is str else None
                else:
                    name = None
                if trigger_type != "cron":
                    zone = headers.get(_TZ_HEADER)
            elif trigger_type != "cron":
                zone = None
            spec = live_spec(template, name=name or key, task=task_name,
                             args=loads(args or "[]"), kwargs=loads(kwargs or "{}"),
                             enabled=enabled, timezone=zone, queue=queue or None,
                             priority=priority, expires=expires,
                             description=description or None)
            wanted = expected(spec["name"])
            if (wanted is not None and wanted.canonical is not None
                    and dumps(spec, option=sorted_keys) == wanted.canonical):
                spec = wanted.spec
        except (KeyError, ValueError, TypeError) as exc:
            problem = f"periodic task {key!r} cannot be read: {exc}"
            append(entry(key, {"name": key}, None, last_run, count, problem))
            continue
        append(entry(key, spec, None, last_run, count))
    return entries, managed


class _Schedules:
    """The schedule rows of one listing, each turned into a spec template (and its
    crontab zone) once, when a task first references it: tasks share few rows."""

    def __init__(self, conn: Connection) -> None:
        self.rows = {kind: {row[0]: row for row in conn.execute(query)}
                     for kind, query in _SCHEDULE_QUERIES.items()}
        self.triggers: dict[tuple[Any, ...], tuple[Spec, str | None]] = {}

    def trigger(self, ids: tuple[Any, ...]) -> tuple[Spec, str | None]:
        """(template, crontab zone) of the task whose crontab, interval, solar and
        clocked ids are ``ids``."""
        found = self.triggers.get(ids)
        if found is None:
            trigger_type, trigger, zone = self._decode(ids)
            found = self.triggers[ids] = (cc.spec_template(trigger_type, trigger), zone)
        return found

    def _decode(self, ids: tuple[Any, ...]) -> tuple[str, dict[str, Any], str | None]:
        for kind, row_id in zip(("cron", "interval", "solar", "clocked"), ids, strict=True):
            if row_id is None:
                continue
            row = self.rows[kind].get(row_id)
            if row is None:
                raise ValueError(f"its {_FK[kind]} {row_id} names no schedule row")
            return _trigger(kind, row)
        raise ValueError("it references no schedule row (crontab, interval, solar or clocked)")


class _ScheduleRows:
    """Get-or-create of shared schedule rows by value, loaded once per batch."""

    def __init__(self, conn: Connection, db_time: Any) -> None:
        self.conn = conn
        self.db_time = db_time
        self.known: dict[str, dict[tuple[Any, ...], int]] = {}
        self.by_spec: dict[tuple[Any, ...], int] = {}
        self._meant: dict[str, dict[int, tuple[Any, ...]]] = {}

    def id_for(self, spec: Spec) -> int:
        kind = spec["trigger_type"]
        zone = spec.get("timezone") if kind == "cron" else None
        memo = (kind, zone, *sorted(spec["trigger"].items()))
        if memo not in self.by_spec:
            self.by_spec[memo] = self._id_for(kind, self._row(spec))
        return self.by_spec[memo]

    def _id_for(self, kind: str, values: dict[str, Any]) -> int:
        table = _SCHEDULE_TABLES[kind]
        known = self.known.get(kind)
        if known is None:
            known = self.known[kind] = self._load(table)
        value_key = _value_key(table, values)
        if value_key not in known:
            self._meant.pop(kind, None)
            known[value_key] = self.conn.execute(
                sa.insert(table).values(values).returning(table.c.id)
            ).scalar_one()
        return known[value_key]

    def holds_values(self, kind: str, row_id: int, values: dict[str, Any]) -> bool:
        """Whether the schedule row ``row_id`` of ``kind`` has the values this batch
        found it with (or created it with): a write that used it meant those."""
        meant = self._meant.get(kind)
        if meant is None:  # once per kind, after the batch's writes
            known = self.known.get(kind, {})
            meant = self._meant[kind] = {found: key for key, found in known.items()}
        return meant.get(row_id) == _value_key(_SCHEDULE_TABLES[kind], values)

    def _load(self, table: sa.Table) -> dict[tuple[Any, ...], int]:
        found: dict[tuple[Any, ...], int] = {}
        for row in self.conn.execute(sa.select(table).order_by(table.c.id)).mappings():
            found.setdefault(_value_key(table, dict(row)), row["id"])
        return found

    def _row(self, spec: Spec) -> dict[str, Any]:
        kind, trigger = spec["trigger_type"], spec["trigger"]
        if kind == "cron":
            return {**cc.cron_to_celery(trigger), "timezone": spec.get("timezone") or "UTC"}
        if kind == "interval":
            return {"every": int(trigger["every"]), "period": str(trigger["period"])}
        if kind == "solar":
            return {"event": trigger["event"], "latitude": round(float(trigger["latitude"]), 6),
                    "longitude": round(float(trigger["longitude"]), 6)}
        if kind == "clocked":
            moment = datetime.fromisoformat(str(trigger["run_at"]).replace("Z", "+00:00"))
            return {"clocked_time": self.db_time(moment)}
        raise ValueError(f"django-celery-beat has no {kind!r} schedules")


def _value_key(table: sa.Table, values: dict[str, Any]) -> tuple[Any, ...]:
    key: list[Any] = []
    for column in table.c:
        if column.name == "id":
            continue
        value = values[column.name]
        if isinstance(value, float):
            value = round(value, 6)
        elif isinstance(value, datetime):
            value = _aware(value)
        key.append(value)
    return tuple(key)


def _trigger(kind: str, row: Any) -> tuple[str, dict[str, Any], str | None]:
    """A schedule row (``id`` first, then the columns in table order) -> (trigger
    type, trigger, crontab zone)."""
    if kind == "cron":
        fields = dict(zip(cc.CRON_FIELDS, row[1:6], strict=True))
        return "cron", cc.cron_from_celery(fields), row[6]
    if kind == "interval":
        every, period = row[1:3]
        if period not in _PERIODS:
            raise ValueError(f"interval period {period!r} has no schedsync equivalent")
        return "interval", {"every": every, "period": period}, None
    if kind == "solar":
        event, latitude, longitude = row[1:4]
        return "solar", {"event": event, "latitude": float(latitude),
                         "longitude": float(longitude)}, None
    moment = _aware(row[1])
    assert moment is not None  # NOT NULL column
    return "clocked", {"run_at": canonical_instant(moment)}, None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _same_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    # executemany needs one statement shape per group.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _db_error(exc: Exception) -> str:
    return f"database error: {type(exc).__name__}: {str(exc).splitlines()[0]}"


class _Connected:
    def __init__(self, engine: Engine, message: str) -> None:
        self.engine = engine
        self.message = message
        self.conn: Connection | None = None

    def __enter__(self) -> Connection:
        try:
            # Autocommit: no BEGIN / ROLLBACK round trips around a read whose statements
            # each see their own snapshot anyway (READ COMMITTED).
            self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        except sa.exc.SQLAlchemyError as exc:
            raise SchedulerUnavailable(f"{self.message}: {_db_error(exc)}") from None
        return self.conn

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> None:
        if self.conn is not None:
            self.conn.close()
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise SchedulerUnavailable(
                f"{self.message}: {_db_error(exc)}. Check the url and that Django's "
                "migrations for django_celery_beat have been applied."
            ) from None

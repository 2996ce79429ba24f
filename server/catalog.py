"""Read side: schedules of a project with their ids, run times and views.

Runs on the event-loop thread with the reader workspace only (see ``context``).
"""

from __future__ import annotations

import bisect
import itertools
import weakref
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from schedsync.server import names
from schedsync.server.errors import not_found
from schedsync.server.views import cron_engine, next_run, rfc3339, static_view

if TYPE_CHECKING:
    from schedsync.engine.repository import LoadedRepository, RepoSchedule
    from schedsync.schemas.schedule import Schedule
    from schedsync.server.context import ApiContext


class ProjectIndex:
    """A project's schedules sorted by name, built once per loaded repository."""

    def __init__(self, schedules: list[RepoSchedule]) -> None:
        self.items = sorted(schedules, key=lambda rs: rs.schedule.name)
        self.names = [rs.schedule.name for rs in self.items]

    def after(self, name: str | None) -> Iterator[RepoSchedule]:
        start = 0 if name is None else bisect.bisect_right(self.names, name)
        return itertools.islice(self.items, start, None)


# Weak and few: a replaced repository (and its 10k schedules) must not stay alive here.
_indexes: dict[tuple[int, str], tuple[weakref.ref[Any], ProjectIndex]] = {}


def project_index(ctx: ApiContext, slug: str) -> ProjectIndex:
    repo = ctx.reader.repo
    key = (id(repo), slug)
    hit = _indexes.get(key)
    if hit is not None and hit[0]() is repo:
        return hit[1]
    if len(_indexes) >= 8:
        _indexes.clear()
    index = ProjectIndex(list(repo.project(slug)))
    _indexes[key] = (weakref.ref(repo), index)
    return index


def project_known(ctx: ApiContext, slug: str) -> bool:
    config = ctx.reader.repo.config
    return config is not None and slug in config.projects


def records_of(ctx: ApiContext, slug: str) -> dict[str, Any]:
    records: dict[str, Any] = ctx.records.get(
        slug,
        lambda: dict(ctx.reader.state.schedule_records(slug)),
        ctx.submit,
        lambda: dict(ctx.writer.state.schedule_records(slug)),
    )
    return records


def fresh_record(ctx: ApiContext, slug: str, name: str, record: Any = None) -> Any:
    """The record as it is now (after a write; the writer read it back when it could),
    also put in the project's cached records if there are any.

    Not ``records_of``: a write must not load or refresh the whole project's records
    (10k rows, ~0.3 s) on the event loop or on the writer thread, where the refresh
    held up the writes queued behind it every couple of seconds."""
    if record is None:
        record = ctx.reader.state.ensure_schedule(slug, name)
    cached = ctx.records.values.get(slug)
    if cached is not None:
        cached[1][name] = record
        ctx.records_version[0] = object()
    return record


def record_for(
    ctx: ApiContext, slug: str, name: str, records: dict[str, Any] | None = None
) -> Any:
    """The schedule's state record; created on first sight (ids are created once)."""
    records = records_of(ctx, slug) if records is None else records
    record = records.get(name)
    if record is None:
        record = ctx.reader.state.ensure_schedule(slug, name)
        records[name] = record
        ctx.records_version[0] = object()
    return record


def find_by_id(ctx: ApiContext, slug: str, schedule_id: str) -> tuple[RepoSchedule, Any]:
    if len(schedule_id) > 200:
        raise not_found(f"schedule {schedule_id[:40]!r}...")
    record = ctx.reader.state.schedule_by_id(slug, schedule_id)
    if record is None:
        raise not_found(f"schedule {schedule_id!r} in project {slug!r}")
    rs = names.find(ctx.reader.repo, slug, record.name)
    if rs is None:
        raise not_found(f"schedule {schedule_id!r} in project {slug!r}")
    return rs, record


class _Memo:
    """Per-schedule values that stay valid while the schedule object is the same one
    (a write replaces it): the static part of its view, and its next fire time, which
    stays right until that moment passes.

    Entries hold their schedule (or record), so a replaced one would stay alive here:
    each memo is kept to about twice the repository's schedules (``fit``, ``_room``),
    and a full one drops what the current repository no longer holds. A busy server's
    memory follows the size of its repository, not the number of writes it served."""

    SLACK = 1024

    def __init__(self) -> None:
        self.static: dict[int, tuple[Schedule, tuple[dict[str, Any], dict[str, Any]]]] = {}
        self.next: dict[int, tuple[Schedule, datetime | None]] = {}
        self.times: dict[int, tuple[Any, tuple[str | None, str | None, str | None]]] = {}
        self.items: dict[int, tuple[Schedule, Any, datetime | None, dict[str, Any]]] = {}
        self.repo: weakref.ref[LoadedRepository] | None = None
        self.limit = self.SLACK

    def fit(self, repo: LoadedRepository) -> None:
        """Size the memos for ``repo``, the repository views are built from now."""
        if self.repo is None or self.repo() is not repo:
            self.repo = weakref.ref(repo)
            self.limit = 2 * sum(len(items) for items in repo.schedules.values()) + self.SLACK

    def _room(self, memo: dict[int, Any]) -> None:
        """Called before adding to ``memo``: prune all memos once one is full."""
        if len(memo) < self.limit:
            return
        repo = self.repo() if self.repo is not None else None
        live = {} if repo is None else {
            id(rs.schedule): rs.schedule for items in repo.schedules.values() for rs in items}
        for by_schedule in (self.static, self.next, self.items):
            gone = [key for key, hit in by_schedule.items() if live.get(key) is not hit[0]]
            for key in gone:
                del by_schedule[key]
        # State records are replaced as a whole on each refresh: start over.
        self.times.clear()

    def times_of(self, record: Any) -> tuple[str | None, str | None, str | None]:
        """(created_at, updated_at, last_run_at) of a state record, formatted."""
        hit = self.times.get(id(record))
        if hit is not None and hit[0] is record:
            return hit[1]
        self._room(self.times)
        value = (rfc3339(record.created_at), rfc3339(record.updated_at),
                 rfc3339(getattr(record, "last_run_at", None)))
        self.times[id(record)] = (record, value)
        return value

    def static_of(self, rs: RepoSchedule) -> tuple[dict[str, Any], dict[str, Any]]:
        hit = self.static.get(id(rs.schedule))
        if hit is not None and hit[0] is rs.schedule:
            return hit[1]
        self._room(self.static)
        value = static_view(rs)
        self.static[id(rs.schedule)] = (rs.schedule, value)
        return value

    def next_of(self, rs: RepoSchedule, default_tz: str, engine: str,
                now: datetime) -> datetime | None:
        s = rs.schedule
        hit = self.next.get(id(s))
        if hit is not None and hit[0] is s and (hit[1] is None or now < hit[1]):
            return hit[1]
        self._room(self.next)
        value = next_run(s, default_tz, engine, now)
        self.next[id(s)] = (s, value)
        return value


_memo = _Memo()


def view(
    ctx: ApiContext, rs: RepoSchedule, record: Any, now: datetime | None = None
) -> dict[str, Any]:
    """The schedule as the API shows it; the same dict object while nothing changed."""
    now = now or datetime.now(UTC)
    _memo.fit(ctx.reader.repo)
    hit = _memo.items.get(id(rs.schedule))
    if (hit is not None and hit[0] is rs.schedule and hit[1] is record
            and (hit[2] is None or now < hit[2])):
        return hit[3]
    slug = rs.project
    project = ctx.reader.config.projects[slug]
    scheduler = project.schedulers.get(rs.schedule.scheduler)
    engine = cron_engine(scheduler.type if scheduler is not None else "")
    default_tz = getattr(project, "timezone", None) or "UTC"
    created_at, updated_at, last_run_at = _memo.times_of(record)
    head, tail = _memo.static_of(rs)
    next_at = _memo.next_of(rs, default_tz, engine, now)
    out = {
        "id": str(record.id),
        **head,
        "last_run_at": last_run_at,
        "next_run_at": rfc3339(next_at),
        "created_at": created_at,
        "updated_at": updated_at,
        **tail,
    }
    _memo._room(_memo.items)
    _memo.items[id(rs.schedule)] = (rs.schedule, record, next_at, out)
    return out


def page_expiry(page: list[RepoSchedule]) -> datetime | None:
    """When the first ``next_run_at`` on a page passes (views were just built)."""
    times = [hit[1] for rs in page
             if (hit := _memo.next.get(id(rs.schedule))) is not None and hit[1] is not None]
    return min(times) if times else None

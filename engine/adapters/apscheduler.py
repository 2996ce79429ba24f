"""The APScheduler 3.x adapter: SQLAlchemy (SQLite, PostgreSQL) and Redis job stores.

Jobs are read and written as raw rows (``apscheduler_store``) and their pickled state is
read with an allow-list unpickler (``apscheduler_pickle``), so no job function is ever
imported and APScheduler's restoring methods, which delete jobs whose code is absent,
are never called. A job schedsync cannot describe becomes a ``LiveEntry`` with
``problem`` set and is never written. The user's running scheduler picks our rows up
when it wakes (``schedsync.integrations.apscheduler.install`` wakes it every few
seconds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from schedsync.engine.adapters.apscheduler_jobs import (
    JobState,
    Unrepresentable,
    from_timestamp,
    manual_state,
    new_state,
    run_time_timestamp,
    state_to_spec,
    stored_spec,
    updated_state,
    with_enabled,
)
from schedsync.engine.adapters.apscheduler_pickle import dumps_job_state, restricted_loads
from schedsync.engine.adapters.apscheduler_store import (
    Changes,
    RedisRowStore,
    RowStore,
    SqlRowStore,
)
from schedsync.engine.adapters.base import (
    AdapterBase,
    Capabilities,
    Expectation,
    LiveEntry,
    Operation,
    OpKind,
    OpResult,
)
from schedsync.engine.errors import FatalError, SchedulerUnavailable
from schedsync.engine.spec import SPEC_FIELDS, Spec, make_spec
from schedsync.schemas.config import APSchedulerScheduler

# Operations per job-store transaction. The rows are built before it begins, so even
# the largest holds the store's write lock for a few tens of milliseconds.
CHUNK = 5000
MANUAL_MARK = "@manual-"
# Routing options and descriptions have no place in an APScheduler job (its ``name`` is
# kept as the schedule name, which is what its log lines show).
UNSUPPORTED_FIELDS = frozenset({"queue", "priority", "expires", "description"})
CAPABILITIES = Capabilities(
    trigger_types=frozenset({"cron", "interval", "clocked"}),
    cron_engine="apscheduler",
    seconds_field=True,
    per_schedule_timezone=True,
    fields=frozenset(SPEC_FIELDS) - UNSUPPORTED_FIELDS,
)


class OpRefused(FatalError):
    """One change cannot be made; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class StoredJob:
    """One row, read without the user's code."""

    key: str
    state: JobState | None
    spec: Spec
    problem: str | None
    next_run_time: float | None

    def entry(self) -> LiveEntry:
        if self.problem is None and self.state is not None:
            moment = self.state.get("next_run_time")
            next_run = moment.astimezone(UTC) if isinstance(moment, datetime) else None
        else:  # the state may be unreadable: the row's column still says when
            next_run = from_timestamp(self.next_run_time)
        return LiveEntry(self.key, self.spec, next_run_at=next_run, problem=self.problem)


def read_job(key: str, blob: bytes, next_run_time: float | None) -> StoredJob:
    try:
        state = restricted_loads(blob)
    except Exception as exc:  # noqa: BLE001 - any broken pickle is one entry's problem
        problem = f"its job state cannot be read ({type(exc).__name__}: {exc})"
        return StoredJob(key, None, _problem_spec(key, None, next_run_time), problem, next_run_time)
    try:
        spec = state_to_spec(key, state)
    except Unrepresentable as exc:
        return StoredJob(
            key,
            state if isinstance(state, dict) else None,
            _problem_spec(key, state, next_run_time),
            str(exc),
            next_run_time,
        )
    return StoredJob(key, state, spec, None, next_run_time)


def _problem_spec(key: str, state: Any, next_run_time: float | None) -> Spec:
    func = state.get("func") if isinstance(state, dict) else None
    return make_spec(
        name=key,
        trigger_type="unknown",
        trigger={},
        task=func if isinstance(func, str) else "",
        enabled=next_run_time is not None,
    )


def dump_state(state: JobState) -> tuple[bytes, float | None]:
    """The row APScheduler's job stores write for ``state``."""
    return dumps_job_state(state), run_time_timestamp(state["next_run_time"])


# The state and row of each job a chunk creates, by key.
Created = dict[str, tuple[JobState, tuple[bytes, float | None]]]


class _ChunkPlan:
    """Carries out the operations of one chunk on an in-memory view of its rows, then
    says which rows to insert, update and delete."""

    def __init__(
        self,
        rows: dict[str, tuple[bytes, float | None]],
        now: datetime,
        executor: str,
        created: Created,
    ) -> None:
        self.rows = rows
        self.now = now
        self.executor = executor
        self.created = created
        self.read: dict[str, StoredJob | None] = {}
        self.written: dict[str, JobState | None] = {}

    def current(self, key: str) -> StoredJob | None:
        """The job as the chunk's earlier operations left it."""
        if key in self.written:
            state = self.written[key]
            if state is None:
                return None
            # Only a later operation on the same key in this chunk needs its spec.
            return StoredJob(key, state, state_to_spec(key, state), None,
                             run_time_timestamp(state["next_run_time"]))
        if key not in self.read:
            row = self.rows.get(key)
            self.read[key] = read_job(key, *row) if row is not None else None
        return self.read[key]

    def run(self, op: Operation) -> OpResult:
        try:
            self._run(op)
        except (FatalError, ValueError, TypeError, LookupError) as exc:
            return OpResult(op, ok=False, error=str(exc) or type(exc).__name__)
        return OpResult(op, ok=True)

    def _run(self, op: Operation) -> None:
        job = self.current(op.key)
        if op.kind is OpKind.CREATE:
            if job is not None:
                raise OpRefused(
                    f"a job with id {op.key!r} already exists in the APScheduler job store; "
                    "it was added outside this plan: run plan again"
                )
            made = self.created.get(op.key)
            self.written[op.key] = (
                made[0] if made else new_state(op.key, _spec(op), self.executor, self.now))
            return
        if job is None:
            if op.kind is OpKind.DELETE:
                return  # already gone: deleting converges
            raise OpRefused(
                f"no job with id {op.key!r} in the APScheduler job store (it was removed "
                "meanwhile): run plan again"
            )
        state = _writable(job)
        if op.kind is OpKind.DELETE:
            self.written[op.key] = None
        elif op.kind is OpKind.UPDATE:
            self.written[op.key] = updated_state(state, job.spec, _spec(op), self.now)
        else:
            self.written[op.key] = with_enabled(state, op.kind is OpKind.ENABLE, self.now)

    def changes(self) -> Changes:
        changes = Changes()
        for key, state in self.written.items():
            if state is None:
                if key in self.rows:
                    changes.deletes.append(key)
            elif key in self.rows:
                changes.updates[key] = dump_state(state)
            else:
                made = self.created.get(key)
                changes.inserts[key] = made[1] if made and made[0] is state else dump_state(state)
        return changes


def _prepare_creates(chunk: Sequence[Operation], now: datetime, executor: str) -> Created:
    """The state and row of every job the chunk creates, built before its transaction
    (which then only checks that the ids are free). One that cannot be built is left
    to the transaction, which reports why."""
    created: Created = {}
    # Jobs of one trigger share their next run time: its timestamp is taken once.
    stamps: dict[int, float | None] = {}
    for op in chunk:
        if op.kind is OpKind.CREATE and op.spec is not None and op.key not in created:
            try:
                state = new_state(op.key, op.spec, executor, now)
                moment = state["next_run_time"]
                stamp = stamps.get(id(moment), _UNSET)
                if stamp is _UNSET:
                    stamp = stamps[id(moment)] = run_time_timestamp(moment)
                created[op.key] = (state, (dumps_job_state(state), stamp))
            except (FatalError, ValueError, TypeError, LookupError):
                continue
    return created


_UNSET = -1.0  # compared by identity: "not taken yet"


def _spec(op: Operation) -> Spec:
    if op.spec is None:
        raise OpRefused(f"{op.kind} of {op.key!r} needs the desired schedule")
    return op.spec


def _writable(job: StoredJob) -> JobState:
    if job.problem is not None or job.state is None:
        raise OpRefused(
            f"job {job.key!r} cannot be managed by schedsync: {job.problem}; it is left "
            "untouched. Change it with your own APScheduler code, or delete it there"
        )
    return job.state


class APSchedulerAdapter(AdapterBase):
    capabilities = CAPABILITIES
    single_write_error = OpRefused

    def __init__(self, config: APSchedulerScheduler, repo_root: Path) -> None:
        self.config = config
        self.store: RowStore
        if config.jobstore == "redis":
            self.store = RedisRowStore(config.url, config.jobs_key, config.run_times_key)
        else:
            self.store = SqlRowStore(config.url, config.tablename, repo_root)

    # --- reading ---------------------------------------------------------------------

    def read_jobs(self) -> list[StoredJob]:
        """Every row with its unpickled state (diagnostics and tests; ``list_entries`` is
        the lean path)."""
        rows = self._guard(self.store.read_all)
        return sorted((read_job(*row) for row in rows), key=lambda job: job.key)

    def list_entries(
        self, expect: Expectation | None = None, *, digests: bool = False
    ) -> list[LiveEntry]:
        """Every job but the one-off runs ``trigger`` adds: those are runs waiting for
        the scheduler, not schedules (see ``pending_runs``)."""
        return self._entries(manual=False)

    def pending_runs(self) -> list[LiveEntry]:
        """Runs requested with ``trigger`` that the scheduler has not started yet."""
        return self._entries(manual=True)

    def _entries(self, *, manual: bool) -> list[LiveEntry]:
        # Row by row, keeping only the entry: a job's unpickled state (trigger objects)
        # is several times its spec, and 100k of them must not be alive at once.
        def read() -> list[LiveEntry]:
            return [read_job(*row).entry() for row in self.store.iter_all()
                    if (MANUAL_MARK in row[0]) is manual]

        entries: list[LiveEntry] = self._guard(read)
        return sorted(entries, key=lambda entry: entry.key)

    # --- writing ---------------------------------------------------------------------

    def apply(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        """One transaction per chunk of ``CHUNK`` operations; results are yielded after
        the chunk's commit, so every success reported is durable."""
        for start in range(0, len(ops), CHUNK):
            yield from self._apply_chunk(ops[start : start + CHUNK])

    def _apply_chunk(
        self, chunk: Sequence[Operation], *, optimistic: bool = True
    ) -> Iterator[OpResult]:
        results: list[OpResult] = []
        now = datetime.now(UTC)
        created = _prepare_creates(chunk, now, self.config.executor)
        # Only new, distinct keys, all built: nothing to read or decide job by job.
        only_creates = len(created) == len(chunk) and all(
            op.kind is OpKind.CREATE and op.key in created for op in chunk)

        def decide(rows: dict[str, tuple[bytes, float | None]]) -> Changes:
            if only_creates and not rows:
                results[:] = [OpResult(op, ok=True) for op in chunk]
                return Changes(inserts={op.key: created[op.key][1] for op in chunk})
            plan = _ChunkPlan(rows, now, self.config.executor, created)
            results[:] = [plan.run(op) for op in chunk]
            return plan.changes()

        # A store whose ids are unique (a primary key) refuses a create whose id is taken,
        # so those rows need not be read first; a refusal redoes the chunk reading them.
        skip_reads = optimistic and self.store.unique_ids
        keys = [op.key for op in chunk if not (skip_reads and op.kind is OpKind.CREATE)]
        try:
            self._guard(lambda: self.store.batch(keys, decide))
        except sa.exc.IntegrityError:
            if skip_reads:
                yield from self._apply_chunk(chunk, optimistic=False)
                return
            # A job was added by someone else meanwhile: isolate which change clashes.
            if len(chunk) == 1:
                yield OpResult(
                    chunk[0],
                    ok=False,
                    error=(
                        f"a job with id {chunk[0].key!r} was added to the job store meanwhile: "
                        "run plan again"
                    ),
                )
                return
            for op in chunk:
                yield from self._apply_chunk([op], optimistic=False)
            return
        except Exception as exc:  # noqa: BLE001 - every change of the chunk is reported
            reason = str(exc) if isinstance(exc, FatalError) else f"{type(exc).__name__}: {exc}"
            for op in chunk:
                yield OpResult(op, ok=False, error=reason)
            return
        yield from results

    def trigger(self, key: str, spec: Spec) -> str:
        """Insert a one-off job due now that the live scheduler runs (within its
        heartbeat); the returned id is the run's task id in recorded fires."""
        run_id = f"{key}{MANUAL_MARK}{uuid.uuid4().hex}"
        state = manual_state(run_id, spec, self.config.executor, datetime.now(UTC))
        changes = Changes(inserts={run_id: dump_state(state)})
        self._guard(lambda: self.store.batch([run_id], lambda rows: changes))
        return run_id

    def normalize(self, spec: Spec) -> Spec:
        """``spec`` as it reads back from this store (see ``stored_spec``)."""
        return stored_spec(spec)

    def close(self) -> None:
        self.store.close()

    # --- errors ----------------------------------------------------------------------

    def _guard(self, action: Any) -> Any:
        try:
            return action()
        except sa.exc.IntegrityError:
            raise
        except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
            raise self._unavailable(exc) from None
        except Exception as exc:
            if _is_redis_error(exc):
                raise self._unavailable(exc) from None
            raise

    def _unavailable(self, exc: BaseException) -> SchedulerUnavailable:
        where = _safe_url(self.config.url)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return SchedulerUnavailable(
            f"the APScheduler {self.config.jobstore} job store at {where} cannot be used: "
            f"{first_line}. Check that it is running and that 'url' in schedsync.yaml is right"
        )


def _is_redis_error(exc: BaseException) -> bool:
    try:
        import redis
    except ImportError:  # pragma: no cover - redis is a dependency
        return False
    return isinstance(exc, redis.RedisError)


def _safe_url(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]


__all__ = ["CAPABILITIES", "APSchedulerAdapter", "StoredJob", "read_job"]

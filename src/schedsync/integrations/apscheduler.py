"""One call in the user's APScheduler 3.x process: ``install(scheduler, state=..., project=...)``.

It does two things the scheduler cannot do alone:

- records every run into the schedsync state store (EXECUTED, ERROR, MISSED, plus a
  ``pending`` record when a run is submitted), so ``schedsync fires`` and the API show
  runs started by the scheduler itself;
- wakes the scheduler every ``heartbeat`` seconds. A running APScheduler only looks at
  its job store when it wakes: with no jobs it never does, with a job due in an hour it
  sleeps an hour, so jobs applied by schedsync from another process would wait that long
  (SCHEDULERS.md). Waking it makes applied changes take effect within seconds.

Nothing here ever raises into the scheduler: state store trouble is logged and the run
goes on. Records are written by one background thread, so a slow state store never
delays a job.

Task ids: a scheduled run is ``<job id>@<scheduled run time, UTC ISO>``; a run requested
with ``schedsync trigger`` is the id of its one-off job (``<name>@manual-<hex>``), which
is the task id the trigger command printed.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    EVENT_SCHEDULER_SHUTDOWN,
)
from apscheduler.schedulers.base import STATE_RUNNING

log = logging.getLogger("schedsync.integrations.apscheduler")

MANUAL_MARK = "@manual-"
_EVENTS = (EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
           | EVENT_SCHEDULER_SHUTDOWN)
FLUSH_TIMEOUT = 5.0


class FireStore(Protocol):
    """The part of ``schedsync.engine.state.StateStore`` this integration uses."""

    def record_fire(self, project: str, name: str, *, task_id: str, fired_at: datetime,
                    source: str, status: str) -> Any: ...

    def finish_fire(self, task_id: str, *, status: str, finished_at: datetime,
                    error: str | None = None, project: str | None = None,
                    name: str | None = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class FireEvent:
    """What one scheduler event means for the fire history."""

    kind: str  # "record" or "finish"
    name: str
    task_id: str
    source: str
    status: str
    at: datetime
    error: str | None = None


def run_name(job_id: str) -> tuple[str, str]:
    """(schedule name, source) of a job id: manual runs carry ``@manual-``."""
    name, mark, _ = job_id.partition(MANUAL_MARK)
    return (name, "manual") if mark else (job_id, "schedule")


def task_id_of(job_id: str, scheduled: datetime | None) -> str:
    if MANUAL_MARK in job_id or scheduled is None:
        return job_id
    return f"{job_id}@{scheduled.astimezone(UTC).isoformat()}"


def fire_events(event: Any, now: datetime) -> list[FireEvent]:
    """Translate an APScheduler job event into fire records (pure)."""
    name, source = run_name(event.job_id)
    if event.code == EVENT_JOB_SUBMITTED:
        # A manual run's one-off job is due when ``trigger`` was asked: that is its
        # fire time (``schedsync trigger`` may have recorded it already; this upserts).
        return [FireEvent("record", name, task_id_of(event.job_id, when), source, "pending",
                          when.astimezone(UTC) if source == "manual" else now)
                for when in event.scheduled_run_times]
    task_id = task_id_of(event.job_id, event.scheduled_run_time)
    if event.code == EVENT_JOB_MISSED:
        at = event.scheduled_run_time or now
        return [FireEvent("record", name, task_id, source, "missed", at.astimezone(UTC))]
    if event.code == EVENT_JOB_ERROR:
        error = f"{type(event.exception).__name__}: {event.exception}"
        return [FireEvent("finish", name, task_id, source, "failed", now, error)]
    return [FireEvent("finish", name, task_id, source, "succeeded", now)]


def write_fire(store: FireStore, project: str, fire: FireEvent) -> None:
    if fire.kind == "record":
        store.record_fire(project, fire.name, task_id=fire.task_id, fired_at=fire.at,
                          source=fire.source, status=fire.status)
    else:
        store.finish_fire(fire.task_id, status=fire.status, finished_at=fire.at,
                          error=fire.error, project=project, name=fire.name)


def _waker(scheduler: Any) -> Callable[[], None]:
    """``scheduler.wakeup`` made safe to call from another thread: event-loop schedulers
    must run it on their own loop."""
    kinds = {cls.__name__ for cls in type(scheduler).__mro__}  # subclasses count too
    if "AsyncIOScheduler" in kinds:
        return lambda: scheduler._eventloop.call_soon_threadsafe(scheduler.wakeup)
    if "TornadoScheduler" in kinds:
        return lambda: scheduler._ioloop.add_callback(scheduler.wakeup)
    if "TwistedScheduler" in kinds:
        return lambda: scheduler._reactor.callFromThread(scheduler.wakeup)
    return lambda: scheduler.wakeup()


_Opener = Callable[[], FireStore]


class _Stop:
    pass


class Installation:
    """What ``install`` set up; ``stop()`` undoes it (tests, reloads)."""

    def __init__(self, scheduler: Any, store: FireStore | _Opener,
                 project: str, heartbeat: float,
                 jobstores: frozenset[str] | None = None) -> None:
        self.scheduler = scheduler
        self.project = project
        self.heartbeat = heartbeat
        self.jobstores = jobstores
        self._store: FireStore | None = None if callable(store) else store
        self._open: _Opener | None = store if callable(store) else None
        self._queue: queue.Queue[FireEvent | threading.Event | _Stop] = queue.Queue()
        self._stopped = threading.Event()
        self._wake = _waker(scheduler)
        self._threads = [
            threading.Thread(target=self._record_loop, name="schedsync-fires", daemon=True),
            threading.Thread(target=self._heartbeat_loop, name="schedsync-heartbeat",
                             daemon=True),
        ]

    def start(self) -> Installation:
        self.scheduler.add_listener(self._on_event, _EVENTS)
        for thread in self._threads:
            thread.start()
        return self

    # --- scheduler side: never raises, never blocks for long ---------------------------

    def _on_event(self, event: Any) -> None:
        try:
            if event.code == EVENT_SCHEDULER_SHUTDOWN:
                self.flush()
                return
            if self.jobstores is not None and event.jobstore not in self.jobstores:
                return
            for fire in fire_events(event, datetime.now(UTC)):
                self._queue.put(fire)
        except Exception:
            log.exception("schedsync: could not note a run of job %r",
                          getattr(event, "job_id", None))

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> bool:
        """Wait until every run noted so far is written; False on timeout."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def stop(self) -> None:
        try:
            self.scheduler.remove_listener(self._on_event)
        except Exception:  # noqa: BLE001 - already removed
            log.debug("schedsync listener was not registered")
        self.flush()
        self._stopped.set()
        self._queue.put(_Stop())
        for thread in self._threads:
            thread.join(timeout=FLUSH_TIMEOUT)

    # --- background threads ----------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        while not self._stopped.wait(self.heartbeat):
            try:
                if self.scheduler.state == STATE_RUNNING:
                    self._wake()
            except Exception:  # a missed beat is retried at the next one
                log.debug("schedsync heartbeat could not wake the scheduler", exc_info=True)

    def _current_store(self) -> FireStore | None:
        # Opened in this thread, on first use: the connection then lives where it is used.
        if self._store is None and self._open is not None:
            try:
                self._store = self._open()
            except Exception:
                log.exception("schedsync: cannot open the state store; runs are not recorded")
        return self._store

    def _record_loop(self) -> None:
        while True:
            item = self._queue.get()
            if isinstance(item, _Stop):
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            store = self._current_store()
            if store is None:
                continue
            try:
                write_fire(store, self.project, item)
            except Exception:
                log.exception("schedsync: could not record run %s of %r", item.task_id,
                              item.name)


def _opener(state: str, repo_root: Path | None) -> Callable[[], FireStore]:
    def open_store() -> FireStore:
        from schedsync.engine.state import StateStore

        store: FireStore = StateStore.open(state, repo_root or Path.cwd())
        return store

    return open_store


def install(scheduler: Any, *, state: str | FireStore, project: str,
            repo_root: Path | None = None, heartbeat: float = 2.0,
            jobstores: Collection[str] | None = None) -> Installation:
    """Record the runs of ``scheduler`` into the schedsync state store and wake it every
    ``heartbeat`` seconds so jobs applied by schedsync are picked up promptly.

    ``state`` is the state location as in ``schedsync.yaml`` (a SQLite path, relative to
    ``repo_root``, or a PostgreSQL URL) or an open ``StateStore``. Call it before or
    after ``scheduler.start()``. ``jobstores`` limits recording to the runs of jobs in
    those job store aliases (default: every job store).
    """
    if heartbeat <= 0:
        raise ValueError(f"heartbeat must be a positive number of seconds, got {heartbeat}")
    source = _opener(state, repo_root) if isinstance(state, str) else state
    only = frozenset(jobstores) if jobstores is not None else None
    return Installation(scheduler, source, project, heartbeat, only).start()

"""Record Celery beat runs and manual runs in schedsync's state store.

One call in the user's Celery app module (it runs in beat and in every worker)::

    from schedsync.integrations.celery import install
    install(app, state="postgresql://…/schedsync", project="acme")

Beat side: ``before_task_publish`` sees each message beat sends, with the headers of
the entry (schedsync puts ``schedsync_name`` / ``schedsync_project`` on every entry it
writes; django-celery-beat adds ``periodic_task_name``); a run started by beat is
recorded as source ``schedule``, one sent by hand with schedsync's headers as
``manual``. Worker side: ``task_prerun`` / ``task_failure`` / ``task_postrun`` finish the
fire (succeeded or failed, finished_at, error). No signal carries a timestamp, so the
handlers take one.

Nothing here ever raises into Celery: a state store that is down costs a log line, not
a task.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from celery import Celery

    from schedsync.engine.state import StateStore

log = logging.getLogger("schedsync.integrations.celery")

NAME_HEADER = "schedsync_name"
PROJECT_HEADER = "schedsync_project"
DJANGO_NAME_HEADER = "periodic_task_name"
BEAT_HEADER = "celery_beat_task"


@dataclass
class _Recorder:
    """Holds the state store (opened lazily, once per process: workers fork)."""

    state: str | StateStore
    repo_root: Path | None
    project: str | None
    _store: Any = None
    _pid: int = 0
    _errors: dict[str, str] = field(default_factory=dict)
    _keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def store(self) -> Any:
        if not isinstance(self.state, str):
            return self.state
        with self._lock:
            if self._store is None or self._pid != os.getpid():
                from schedsync.engine.state import StateStore

                root = self.repo_root or Path.cwd()
                self._store = StateStore.open(self.state, root)
                self._pid = os.getpid()
            return self._store

    def schedule_of(self, headers: Any) -> tuple[str, str] | None:
        """(project, name) of a message's schedule, or None when it is not one."""
        if not isinstance(headers, dict):
            return None
        name = headers.get(NAME_HEADER) or headers.get(DJANGO_NAME_HEADER)
        project = headers.get(PROJECT_HEADER) or self.project
        if not isinstance(name, str) or not isinstance(project, str):
            return None
        return project, name

    # -- beat side ---------------------------------------------------------------------

    def published(self, headers: Any) -> None:
        key = self.schedule_of(headers)
        if key is None:
            return
        assert isinstance(headers, dict)  # schedule_of returned a key
        task_id = headers.get("id")
        if not isinstance(task_id, str):
            return
        by_beat = bool(headers.get(BEAT_HEADER)) or DJANGO_NAME_HEADER in headers
        source = "schedule" if by_beat else "manual"
        self.store().record_fire(
            key[0], key[1], task_id=task_id, fired_at=_now(), source=source
        )

    # -- worker side -------------------------------------------------------------------

    def started(self, task_id: str, request: Any) -> None:
        key = self.schedule_of(_request_headers(request))
        if key is not None:
            with self._lock:
                self._keys[task_id] = key

    def failed(self, task_id: str, exception: Any) -> None:
        with self._lock:
            if task_id in self._keys:
                self._errors[task_id] = f"{type(exception).__name__}: {exception}"

    def finished(self, task_id: str, state: Any) -> None:
        with self._lock:
            key = self._keys.pop(task_id, None)
            error = self._errors.pop(task_id, None)
        if key is None:
            return
        if state == "SUCCESS":
            status = "succeeded"
        elif state == "FAILURE":
            status = "failed"
        else:  # RETRY / REJECTED / IGNORED: the run is not over
            return
        self.store().finish_fire(
            task_id, status=status, finished_at=_now(), error=error,
            project=key[0], name=key[1],
        )


def _request_headers(request: Any) -> dict[str, Any]:
    # Custom message headers reach the worker both in ``request.headers`` (when the
    # message has them) and as request attributes; collect whichever is there.
    found: dict[str, Any] = {}
    headers = getattr(request, "headers", None)
    if isinstance(headers, dict):
        found.update(headers)
    for name in (NAME_HEADER, PROJECT_HEADER, DJANGO_NAME_HEADER):
        value = getattr(request, name, None)
        if isinstance(value, str):
            found.setdefault(name, value)
    return found


def _now() -> datetime:
    return datetime.now(UTC)


def _safely(what: str, action: Any, *args: Any) -> None:
    try:
        action(*args)
    except Exception:
        log.warning("schedsync: could not record %s", what, exc_info=True)


@dataclass(frozen=True)
class Installed:
    """What ``install`` connected; ``uninstall()`` disconnects it (tests, reloads)."""

    handlers: tuple[tuple[Any, Any], ...]

    def uninstall(self) -> None:
        for signal, handler in self.handlers:
            signal.disconnect(handler)


def install(
    app: Celery,
    *,
    state: str | StateStore,
    repo_root: str | Path | None = None,
    project: str | None = None,
) -> Installed:
    """Record every run of a schedsync-managed schedule in the state store.

    ``state`` is the ``state`` location of ``schedsync.yaml`` (a SQLite path, relative to
    ``repo_root``, or a ``postgresql://`` URL) or an open ``StateStore``. ``project`` is
    used for messages that name their schedule but not its project (entries created
    outside schedsync in django-celery-beat).
    """
    from celery import signals

    root = Path(repo_root) if repo_root is not None else None
    recorder = _Recorder(state, root, project)

    def before_publish(sender: Any = None, headers: Any = None, **_: Any) -> None:
        _safely("a fire", recorder.published, headers)

    def prerun(sender: Any = None, task_id: Any = None, task: Any = None, **_: Any) -> None:
        if getattr(task, "app", app) is app:  # only this app's tasks in a shared process
            _safely("a start", recorder.started, str(task_id), getattr(task, "request", None))

    def failure(sender: Any = None, task_id: Any = None, exception: Any = None,
                **_: Any) -> None:
        _safely("a failure", recorder.failed, str(task_id), exception)

    def postrun(sender: Any = None, task_id: Any = None, state: Any = None, **_: Any) -> None:
        _safely("an outcome", recorder.finished, str(task_id), state)

    handlers = (
        (signals.before_task_publish, before_publish),
        (signals.task_prerun, prerun),
        (signals.task_failure, failure),
        (signals.task_postrun, postrun),
    )
    for signal, handler in handlers:
        # weak=False: the handlers are closures that nothing else keeps alive.
        signal.connect(handler, weak=False)
    return Installed(handlers)

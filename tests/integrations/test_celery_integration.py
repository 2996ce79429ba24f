"""``schedsync.integrations.celery.install``: fires recorded from Celery's own signals.

The publishing side runs a real ``send_task`` on kombu's in-memory transport; the worker
side runs tasks eagerly (``apply``), which sends the same task signals a worker does. The
real beat + worker processes are in ``test_celery_beat_processes.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery

from schedsync.engine.state import StateStore
from schedsync.integrations.celery import install

NAMED = {"schedsync_name": "digest", "schedsync_project": "acme"}


@pytest.fixture(scope="module")
def app() -> Celery:
    # One app per module: Celery warns when a task name is registered twice.
    app = Celery("integration-test", broker="memory://", set_as_current=False)

    @app.task(name="it.ok")
    def ok(value: int = 0) -> int:
        return value

    @app.task(name="it.fails")
    def fails() -> None:
        raise ValueError("bad input")

    return app


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore.open(str(tmp_path / "state.db"), tmp_path)
    yield store
    store.close()


@pytest.fixture
def installed(app: Celery, state: StateStore, tmp_path: Path) -> Iterator[None]:
    handle = install(app, state=str(tmp_path / "state.db"), repo_root=tmp_path)
    yield
    handle.uninstall()


@pytest.mark.usefixtures("installed")
def test_beat_and_manual_messages_are_recorded_with_their_source(
    app: Celery, state: StateStore
) -> None:
    by_beat = app.send_task("it.ok", headers={**NAMED, "celery_beat_task": True})
    by_hand = app.send_task("it.ok", headers=NAMED)
    untracked = app.send_task("it.ok")
    beat_fire, manual_fire = state.fire(by_beat.id), state.fire(by_hand.id)
    assert beat_fire is not None
    assert manual_fire is not None
    assert (beat_fire.project, beat_fire.name, beat_fire.source, beat_fire.status) == (
        "acme", "digest", "schedule", "pending")
    assert manual_fire.source == "manual"
    assert state.fire(untracked.id) is None


@pytest.mark.usefixtures("installed")
def test_worker_outcomes_finish_the_fire(app: Celery, state: StateStore) -> None:
    good = app.tasks["it.ok"].apply(args=[3], headers=NAMED)
    bad = app.tasks["it.fails"].apply(headers=NAMED)
    done, failed = state.fire(good.id), state.fire(bad.id)
    assert done is not None
    assert failed is not None
    assert (done.status, done.name) == ("succeeded", "digest")
    assert done.finished_at is not None
    assert failed.status == "failed"
    assert failed.error == "ValueError: bad input"
    assert state.fire(app.tasks["it.ok"].apply().id) is None


def test_django_periodic_task_name_uses_the_default_project(
    app: Celery, state: StateStore, tmp_path: Path
) -> None:
    handle = install(app, state=state, project="acme")
    try:
        sent = app.send_task("it.ok", headers={"periodic_task_name": "made-in-admin"})
    finally:
        handle.uninstall()
    fire = state.fire(sent.id)
    assert fire is not None
    assert (fire.project, fire.name, fire.source) == ("acme", "made-in-admin", "schedule")


def test_a_broken_state_store_never_breaks_celery(
    app: Celery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    handle = install(app, state=str(blocker / "state.db"), repo_root=tmp_path)
    try:
        with caplog.at_level(logging.WARNING, logger="schedsync.integrations.celery"):
            sent = app.send_task("it.ok", headers=NAMED)
            result = app.tasks["it.ok"].apply(args=[7], headers=NAMED)
    finally:
        handle.uninstall()
    assert sent.id
    assert result.get() == 7
    assert "could not record" in caplog.text

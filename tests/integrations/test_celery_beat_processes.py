"""Real ``celery beat`` + ``celery worker`` processes driven through the adapters.

For RedBeat (Redis db 2, broker on db 3) and django-celery-beat (SQLite and PostgreSQL,
tables made by Django's migrations): a 1-second interval schedule is applied, its runs are
observed with their task ids in the state store (recorded by the integration installed in
the fixture app), then disabled (no more runs), re-enabled with new args (new args
observed), deleted (no more runs). A manual trigger and a failing task are recorded too.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schedsync.engine.adapters.base import SchedulerAdapter
from schedsync.engine.adapters.django_celery_beat import DjangoCeleryBeatAdapter
from schedsync.engine.adapters.redbeat import RedBeatAdapter
from schedsync.engine.spec import make_spec
from schedsync.engine.state import StateStore
from schedsync.schemas.config import CeleryBeatScheduler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "celery_fixtures"))
from django_db import migrate
from processes import (
    BROKER,
    REDBEAT,
    Runs,
    celery_processes,
    process_env,
    process_logs,
    wait_for,
)
from services import require_service

pytestmark = [pytest.mark.slow, pytest.mark.redis]
PROJECT = "acme"
QUIET = 4.0  # seconds without runs that prove a schedule stopped (beat wakes every 1 s)
SETTLE = 3.0  # time for beat to notice a change and an in-flight run to finish


def tick(queue: str, args: list[Any], **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"name": "tick", "trigger_type": "interval",
                              "trigger": {"every": 1, "period": "seconds"},
                              "task": "fixture.record", "args": args, "queue": queue}
    fields.update(changes)
    return make_spec(**fields)


def assert_stopped(runs: Runs, what: str) -> None:
    time.sleep(SETTLE)
    before = len(runs.all())
    time.sleep(QUIET)
    assert len(runs.all()) == before, f"runs continued after {what}"


def scenario(adapter: SchedulerAdapter, runs: Runs, state: StateStore, queue: str) -> None:
    adapter.create("tick", tick(queue, ["a"]))
    adapter.create("boom", tick(queue, [], name="boom", task="fixture.fail"))
    first = wait_for("two runs with args ['a']", lambda: runs.with_args(["a"])[1:])[0]

    fire = wait_for("the fire of a beat run", lambda: _finished(state, first["id"]))
    assert (fire.project, fire.name, fire.source) == (PROJECT, "tick", "schedule")
    assert fire.status == "succeeded"
    assert fire.finished_at is not None
    assert fire.fired_at <= fire.finished_at
    failed = wait_for("a failed fire", lambda: _failed_fire(state))
    assert failed.source == "schedule"
    assert "fixture.fail always fails" in str(failed.error)
    adapter.delete("boom")

    manual_id = adapter.trigger("tick", tick(queue, ["manual"]))
    state.record_fire(PROJECT, "tick", task_id=manual_id, fired_at=_now(), source="manual")
    manual = wait_for("the manual run's fire", lambda: _finished(state, manual_id))
    assert (manual.source, manual.status) == ("manual", "succeeded")
    assert [r["id"] for r in runs.with_args(["manual"])] == [manual_id]

    adapter.set_enabled("tick", False)
    assert_stopped(runs, "disable")

    adapter.update("tick", tick(queue, ["b"]))
    wait_for("a run with the new args ['b']", lambda: runs.with_args(["b"]))

    adapter.delete("tick")
    assert_stopped(runs, "delete")
    # django-celery-beat's beat adds its own celery.backend_cleanup entry; ours are gone.
    assert {e.key for e in adapter.list_entries()} <= {"celery.backend_cleanup"}


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _finished(state: StateStore, task_id: str) -> Any:
    fire = state.fire(task_id)
    return fire if fire is not None and fire.status != "pending" else None


def _failed_fire(state: StateStore) -> Any:
    fires, _ = state.fires(PROJECT, "boom", limit=10)
    return next((f for f in fires if f.status == "failed" and f.fired_at), None)


@pytest.fixture
def state(tmp_path: Path) -> Iterator[StateStore]:
    store = StateStore.open(str(tmp_path / "state.db"), tmp_path)
    yield store
    store.close()


def run_scenario(adapter: SchedulerAdapter, env: dict[str, str], runs: Runs, scheduler: str,
                 state: StateStore, workdir: Path) -> None:
    with celery_processes(env, scheduler, workdir):
        try:
            scenario(adapter, runs, state, env["SCHEDSYNC_TEST_QUEUE"])
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{process_logs(workdir)}") from None


def test_redbeat_with_real_beat_and_worker(tmp_path: Path, state: StateStore) -> None:
    require_service("redis")
    env, runs = process_env({"SCHEDSYNC_TEST_STATE": str(tmp_path / "state.db"),
                             "SCHEDSYNC_TEST_ROOT": str(tmp_path),
                             "SCHEDSYNC_TEST_PROJECT": ""})
    config = CeleryBeatScheduler(type="celery-beat", store="redbeat", url=REDBEAT,
                                 key_prefix=env["SCHEDSYNC_TEST_PREFIX"], broker_url=BROKER)
    adapter = RedBeatAdapter(config, tmp_path, project=PROJECT)
    try:
        run_scenario(adapter, env, runs, "redbeat.RedBeatScheduler", state, tmp_path)
    finally:
        _clean_redbeat(adapter)
        adapter.close()


def _clean_redbeat(adapter: RedBeatAdapter) -> None:
    keys = list(adapter.redis.scan_iter(match=f"{adapter.prefix}*"))
    if keys:
        adapter.redis.delete(*keys)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def django_db(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """(URL for schedsync, location for Django's settings)"""
    if request.param == "sqlite":
        path = tmp_path / "django.sqlite3"
        migrate(str(path))
        return f"sqlite:///{path}", str(path)
    url = str(request.getfixturevalue("postgres_url"))
    plain = url.replace("postgresql+psycopg://", "postgresql://")
    migrate(plain)
    return plain, plain


def test_django_celery_beat_with_real_beat_and_worker(
    tmp_path: Path, state: StateStore, django_db: tuple[str, str]
) -> None:
    require_service("redis")
    url, location = django_db
    env, runs = process_env({"SCHEDSYNC_TEST_STATE": str(tmp_path / "state.db"),
                             "SCHEDSYNC_TEST_ROOT": str(tmp_path),
                             "DJANGO_SETTINGS_MODULE": "fixture_django_settings",
                             "SCHEDSYNC_TEST_DB": location})
    config = CeleryBeatScheduler(type="celery-beat", store="django-celery-beat", url=url,
                                 broker_url=BROKER)
    adapter = DjangoCeleryBeatAdapter(config, tmp_path, project=PROJECT)
    try:
        run_scenario(adapter, env, runs, "django_celery_beat.schedulers:DatabaseScheduler",
                     state, tmp_path)
    finally:
        adapter.close()


def test_static_beat_schedule_app_reads_back(tmp_path: Path) -> None:
    from schedsync.engine.adapters.beat_schedule import BeatScheduleAdapter

    fixtures = Path(__file__).resolve().parents[1] / "celery_fixtures"
    shutil.copy(fixtures / "fixture_static_app.py", tmp_path / "static_app_for_import.py")
    config = CeleryBeatScheduler(type="celery-beat", store="beat-schedule",
                                 app="static_app_for_import:app")
    names = {e.key for e in BeatScheduleAdapter(config, tmp_path).list_entries()}
    assert names == {"seconds", "delta", "run-every", "cron-text", "cron-ints", "added"}

"""The APScheduler adapter against real job stores: SQLite file, PostgreSQL, Redis db 1.

Jobs the user's own app wrote are added by a real APScheduler in a subprocess (whose
module then is nowhere importable), and a real APScheduler job store restores the jobs
we write, proving the rows are what APScheduler itself expects.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from celery_fixtures.services import require_service
from schedsync.engine.adapters.apscheduler import APSchedulerAdapter
from schedsync.engine.adapters.apscheduler_pickle import restricted_loads
from schedsync.engine.adapters.apscheduler_store import Changes, RedisRowStore, SqlRowStore
from schedsync.engine.adapters.base import Operation, OpKind, SchedulerAdapter
from schedsync.engine.errors import FatalError, SchedulerUnavailable
from schedsync.engine.spec import Spec, make_spec
from schedsync.schemas.config import APSchedulerScheduler

REDIS_URL = "redis://127.0.0.1:6379/1"
BERLIN = "Europe/Berlin"


@pytest.fixture(params=["sqlite", "postgres", "redis"])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[APSchedulerScheduler]:
    if request.param == "sqlite":
        yield APSchedulerScheduler(type="apscheduler", url="sqlite:///state/jobs.sqlite")
    elif request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        yield APSchedulerScheduler(type="apscheduler", url=url)
    else:
        require_service("redis")
        import redis

        prefix = f"schedsync-test-{uuid.uuid4().hex[:8]}"
        yield APSchedulerScheduler(type="apscheduler", jobstore="redis", url=REDIS_URL,
                                   jobs_key=f"{prefix}.jobs", run_times_key=f"{prefix}.run_times")
        client = redis.Redis.from_url(REDIS_URL)
        client.delete(f"{prefix}.jobs", f"{prefix}.run_times")
        client.close()


@pytest.fixture
def adapter(config: APSchedulerScheduler, tmp_path: Path) -> Iterator[APSchedulerAdapter]:
    made = APSchedulerAdapter(config, tmp_path)
    yield made
    made.close()


def cron(name: str, **fields: str) -> Spec:
    return make_spec(name=name, trigger_type="cron", trigger=fields, task="apptasks:work",
                     args=[name, 1], kwargs={"n": {"deep": [1, 2]}}, timezone=BERLIN)


def every(name: str, count: int, period: str = "minutes", **over: Any) -> Spec:
    return make_spec(name=name, trigger_type="interval",
                     trigger={"every": count, "period": period},
                     task="apptasks:work", args=[name], timezone=over.pop("timezone", "UTC"),
                     **over)


def specs_of(adapter: SchedulerAdapter) -> dict[str, Spec]:
    return {e.key: e.spec for e in adapter.list_entries() if e.problem is None}


def raw_rows(adapter: APSchedulerAdapter) -> dict[str, tuple[bytes, float | None]]:
    return {key: (blob, nrt) for key, blob, nrt in adapter.store.read_all()}


# --- a real APScheduler in a subprocess ------------------------------------------------

def _store_code(config: APSchedulerScheduler, tmp_path: Path) -> str:
    if config.jobstore == "redis":
        return (f"from apscheduler.jobstores.redis import RedisJobStore\n"
                f"store = RedisJobStore(db=1, jobs_key={config.jobs_key!r}, "
                f"run_times_key={config.run_times_key!r})\n")
    url = config.url.replace("sqlite:///state", f"sqlite:///{tmp_path}/state")
    return ("from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore\n"
            f"store = SQLAlchemyJobStore(url={url!r})\n")


def run_real(config: APSchedulerScheduler, tmp_path: Path, body: str,
             modules: dict[str, str]) -> str:
    """Run ``body`` with a real job store ``store`` and ``modules`` importable."""
    folder = tmp_path / f"mods-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source)
    code = _store_code(config, tmp_path) + textwrap.dedent(body)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(folder)}, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    for name in modules:  # the user's code is gone: nothing may import it from now on
        (folder / f"{name}.py").unlink()
    return done.stdout


def add_foreign_jobs(config: APSchedulerScheduler, tmp_path: Path) -> None:
    """The user's app adds two jobs with a module schedsync cannot import; one uses a
    trigger class schedsync does not describe."""
    run_real(config, tmp_path, """
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
        s = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
        s.start(paused=True)
        s.add_job("vanishing_mod:work", "cron", hour=3, id="user.own", args=[1])
        s.add_job("vanishing_mod:work", CalendarIntervalTrigger(months=1, timezone="UTC"),
                  id="user.calendar")
        s.pause_job("user.own")
        s.resume_job("user.own")
        store.shutdown()
    """, {"vanishing_mod": "def work(*args):\n    return args\n"})


def restore_with_apscheduler(config: APSchedulerScheduler, tmp_path: Path) -> dict[str, Any]:
    out = run_real(config, tmp_path, """
        import json
        from apscheduler.schedulers.background import BackgroundScheduler
        s = BackgroundScheduler(jobstores={"default": store})
        store.start(s, "default")
        print(json.dumps({job.id: {
            "func": job.func_ref, "trigger": str(job.trigger), "name": job.name,
            "args": list(job.args), "kwargs": job.kwargs, "executor": job.executor,
            "next": job.next_run_time.isoformat() if job.next_run_time else None,
            "weekday": job.next_run_time.weekday() if job.next_run_time else None,
            "zone": str(getattr(job.trigger, "timezone", "")),
            "misfire": job.misfire_grace_time, "coalesce": job.coalesce,
            "max_instances": job.max_instances,
        } for job in store.get_all_jobs()}))
    """, {"apptasks": "def work(*args, **kwargs):\n    return args\n"})
    result: dict[str, Any] = json.loads(out)
    return result


# --- round trips --------------------------------------------------------------------------

def test_create_update_disable_enable_delete_read_back_equal(
    adapter: APSchedulerAdapter,
) -> None:
    specs = {
        "digest": cron("digest", minute="0", hour="9", day_of_week="1-5"),
        "fast": cron("fast", second="*/10", minute="*", hour="8-17"),
        "ping": every("ping", 5),
        "once": make_spec(name="once", trigger_type="clocked",
                          trigger={"run_at": "2030-01-02T03:04:05+01:00"},
                          task="apptasks:work", timezone=BERLIN),
    }
    for key, spec in specs.items():
        adapter.create(key, spec)
    assert specs_of(adapter) == specs

    changed = cron("digest", minute="30", hour="7", day_of_week="sun")
    changed["kwargs"] = {"locale": "de-DE"}
    adapter.update("digest", changed)
    assert specs_of(adapter)["digest"] == changed

    adapter.set_enabled("ping", False)
    entry = {e.key: e for e in adapter.list_entries()}["ping"]
    assert entry.spec == {**specs["ping"], "enabled": False}
    assert entry.next_run_at is None
    adapter.set_enabled("ping", True)
    entry = {e.key: e for e in adapter.list_entries()}["ping"]
    assert entry.spec == specs["ping"]
    assert entry.next_run_at is not None

    adapter.delete("once")
    assert set(specs_of(adapter)) == {"digest", "fast", "ping"}


def test_disabled_on_create_and_update_to_disabled(adapter: APSchedulerAdapter) -> None:
    off = {**every("off", 2, "hours"), "enabled": False}
    adapter.create("off", off)
    assert specs_of(adapter)["off"] == off
    adapter.update("off", {**off, "enabled": True, "args": ["now on"]})
    entry = adapter.list_entries()[0]
    assert entry.spec["enabled"] is True
    assert entry.next_run_at is not None
    adapter.update("off", {**off, "args": ["off again"]})
    entry = adapter.list_entries()[0]
    assert entry.spec["enabled"] is False
    assert entry.next_run_at is None


def test_day_of_week_1_runs_on_monday(adapter: APSchedulerAdapter, tmp_path: Path) -> None:
    adapter.create("monday", cron("monday", minute="0", hour="9", day_of_week="1"))
    adapter.create("sunday", cron("sunday", minute="0", hour="9", day_of_week="0"))
    adapter.create("sunday7", cron("sunday7", minute="0", hour="9", day_of_week="7"))
    entries = {e.key: e for e in adapter.list_entries()}
    zone = ZoneInfo(BERLIN)
    assert entries["monday"].next_run_at is not None
    assert entries["monday"].next_run_at.astimezone(zone).weekday() == 0
    assert entries["sunday"].next_run_at is not None
    assert entries["sunday"].next_run_at.astimezone(zone).weekday() == 6
    assert entries["sunday7"].next_run_at == entries["sunday"].next_run_at
    assert entries["monday"].spec["trigger"]["day_of_week"] == "1"
    # The real APScheduler, restoring the rows with its own code, agrees.
    real = restore_with_apscheduler(adapter.config, tmp_path)
    assert real["monday"]["weekday"] == 0
    assert real["sunday"]["weekday"] == 6
    assert "day_of_week='mon'" in real["monday"]["trigger"]


def test_real_apscheduler_restores_our_jobs(adapter: APSchedulerAdapter, tmp_path: Path) -> None:
    adapter.create("digest", cron("digest", minute="0", hour="9"))
    adapter.create("ping", every("ping", 90, "seconds", timezone=BERLIN))
    adapter.create("off", {**every("off", 1, "hours"), "enabled": False})
    real = restore_with_apscheduler(adapter.config, tmp_path)
    entries = {e.key: e for e in adapter.list_entries()}
    assert set(real) == {"digest", "ping", "off"}
    for key, job in real.items():
        assert job["func"] == "apptasks:work"
        assert job["name"] == key
        assert job["executor"] == "default"
        assert (job["misfire"], job["coalesce"], job["max_instances"]) == (30, True, 1)
        assert job["args"] == entries[key].spec["args"]
        assert job["kwargs"] == entries[key].spec["kwargs"]
        next_run = entries[key].next_run_at
        restored = None if job["next"] is None else datetime.fromisoformat(job["next"])
        assert restored == next_run
    assert real["off"]["next"] is None
    assert real["ping"]["trigger"] == "interval[0:01:30]"
    assert real["ping"]["zone"] == BERLIN
    assert real["digest"]["zone"] == BERLIN


def test_update_keeps_the_next_run_unless_the_trigger_changes(
    adapter: APSchedulerAdapter,
) -> None:
    adapter.create("ping", every("ping", 1, "hours"))
    before = adapter.list_entries()[0].next_run_at
    adapter.update("ping", {**every("ping", 1, "hours"), "kwargs": {"x": 1}})
    assert adapter.list_entries()[0].next_run_at == before
    adapter.set_enabled("ping", True)  # already enabled: still the same next run
    assert adapter.list_entries()[0].next_run_at == before
    adapter.update("ping", every("ping", 3, "hours"))
    after = adapter.list_entries()[0].next_run_at
    assert after is not None
    assert before is not None
    assert after > before


# --- jobs the tool cannot describe or import ------------------------------------------------

def test_foreign_jobs_survive_every_operation_byte_for_byte(
    adapter: APSchedulerAdapter, tmp_path: Path,
) -> None:
    add_foreign_jobs(adapter.config, tmp_path)
    foreign = {k: v for k, v in raw_rows(adapter).items() if k.startswith("user.")}
    assert set(foreign) == {"user.own", "user.calendar"}

    entries = {e.key: e for e in adapter.list_entries()}
    # A job whose module is absent is still read, without importing it...
    assert entries["user.own"].problem is None
    assert entries["user.own"].spec["task"] == "vanishing_mod:work"
    assert entries["user.own"].spec["trigger"]["hour"] == "3"
    # ...and one whose trigger has no spec is reported, never touched.
    assert entries["user.calendar"].problem is not None
    assert "CalendarIntervalTrigger" in entries["user.calendar"].problem

    adapter.create("mine", every("mine", 5))
    adapter.create("other", every("other", 10))
    adapter.update("mine", every("mine", 7))
    adapter.set_enabled("mine", False)
    adapter.set_enabled("mine", True)
    adapter.delete("other")
    adapter.trigger("mine", every("mine", 7))
    results = list(adapter.apply([
        Operation(OpKind.UPDATE, "user.calendar", every("user.calendar", 1)),
        Operation(OpKind.DELETE, "user.calendar", None),
        Operation(OpKind.DISABLE, "user.calendar", None),
        Operation(OpKind.CREATE, "user.own", every("user.own", 1)),
    ]))
    assert [r.ok for r in results] == [False, False, False, False]
    assert "cannot be managed" in (results[0].error or "")
    assert "already exists" in (results[3].error or "")
    with pytest.raises(FatalError, match="left untouched"):
        adapter.delete("user.calendar")

    after = raw_rows(adapter)
    assert {k: after[k] for k in foreign} == foreign


# --- batches ------------------------------------------------------------------------

def test_apply_batches_and_reports_each_change(adapter: APSchedulerAdapter) -> None:
    adapter.create("exists", every("exists", 1))
    ops = [Operation(OpKind.CREATE, f"job-{i:04}", every(f"job-{i:04}", i % 50 + 1))
           for i in range(1100)]
    ops.insert(600, Operation(OpKind.CREATE, "exists", every("exists", 2)))
    ops.insert(700, Operation(OpKind.UPDATE, "missing", every("missing", 2)))
    ops.append(Operation(OpKind.DELETE, "job-0001", None))
    ops.append(Operation(OpKind.DELETE, "never-there", None))
    ops.append(Operation(OpKind.CREATE, "bad", make_spec(
        name="bad", trigger_type="solar",
        trigger={"event": "sunset", "latitude": 1, "longitude": 2}, task="apptasks:work")))
    results = list(adapter.apply(ops))
    assert [r.op for r in results] == ops
    failed = {r.op.key: r.error for r in results if not r.ok}
    assert set(failed) == {"exists", "missing", "bad"}
    assert "already exists" in (failed["exists"] or "")
    assert "solar" in (failed["bad"] or "")
    live = specs_of(adapter)
    assert len(live) == 1100  # 1100 created, one deleted, "exists" kept
    assert live["exists"] == every("exists", 1)
    assert live["job-0049"] == every("job-0049", 50)


def test_trigger_adds_a_one_off_job_due_now(adapter: APSchedulerAdapter) -> None:
    spec = every("report", 1, "days")
    adapter.create("report", {**spec, "enabled": False})
    started = datetime.now(UTC)
    run_id = adapter.trigger("report", spec)
    assert run_id.startswith("report@manual-")
    assert [e.key for e in adapter.list_entries()] == ["report"]  # a run, not a schedule
    entry = {e.key: e for e in adapter.pending_runs()}[run_id]
    assert entry.spec["trigger_type"] == "clocked"
    state = {job.key: job.state for job in adapter.read_jobs()}[run_id]
    assert state is not None
    assert state["misfire_grace_time"] == 3600  # runs requested from outside are never late
    assert entry.spec["task"] == "apptasks:work"
    assert entry.spec["args"] == ["report"]
    assert entry.next_run_at is not None
    assert started - timedelta(seconds=1) <= entry.next_run_at <= datetime.now(UTC)


# --- configuration and errors -----------------------------------------------------

def test_relative_sqlite_url_is_inside_the_repository(tmp_path: Path) -> None:
    config = APSchedulerScheduler(type="apscheduler", url="sqlite:///a/b/jobs.sqlite")
    adapter = APSchedulerAdapter(config, tmp_path)
    assert adapter.list_entries() == []  # a missing table is an empty store
    adapter.create("x", every("x", 1))
    adapter.close()
    assert (tmp_path / "a" / "b" / "jobs.sqlite").is_file()


@pytest.mark.parametrize(("url", "jobstore"), [
    ("postgresql://postgres@127.0.0.1:1/none", "sqlalchemy"),
    ("redis://127.0.0.1:1/1", "redis"),
])
def test_unreachable_store_is_a_clear_error(url: str, jobstore: str, tmp_path: Path) -> None:
    config = APSchedulerScheduler(type="apscheduler", url=url, jobstore=jobstore)  # type: ignore[arg-type]
    adapter = APSchedulerAdapter(config, tmp_path)
    with pytest.raises(SchedulerUnavailable, match="cannot be used"):
        adapter.list_entries()
    results = list(adapter.apply([Operation(OpKind.CREATE, "x", every("x", 1))]))
    assert not results[0].ok
    assert "cannot be used" in (results[0].error or "")


def test_normalize_gives_the_read_back_form(tmp_path: Path) -> None:
    config = APSchedulerScheduler(type="apscheduler", url="sqlite:///jobs.sqlite")
    adapter = APSchedulerAdapter(config, tmp_path)
    spec = make_spec(name="n", trigger_type="interval", trigger={"every": 120, "period": "seconds"},
                     task="apptasks.sub.work", timezone=None, description="kept")
    normal = adapter.normalize(spec)
    assert normal["task"] == "apptasks.sub:work"
    assert normal["trigger"] == {"every": 2, "period": "minutes"}
    assert normal["timezone"] == "UTC"
    assert normal["description"] == "kept"
    adapter.create("n", spec)
    assert {k: v for k, v in specs_of(adapter)["n"].items() if k != "description"} == {
        k: v for k, v in normal.items() if k != "description"}
    adapter.close()


# --- concurrency with the live scheduler ---------------------------------------------

def _other_writer_blocked(adapter: APSchedulerAdapter, key: str) -> bool:
    """Whether another connection could change ``key`` right now (SQL stores)."""
    import sqlalchemy as sa

    store = adapter.store
    assert isinstance(store, SqlRowStore)
    other = sa.create_engine(store.engine.url, connect_args={"timeout": 0.1}
                             if store.sqlite else {})
    try:
        with other.connect() as conn:
            if store.sqlite:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                conn.exec_driver_sql(
                    "SELECT id FROM apscheduler_jobs WHERE id = %(k)s FOR UPDATE NOWAIT",
                    {"k": key})
            conn.rollback()
        return False
    except sa.exc.OperationalError:
        return True
    finally:
        other.dispose()


def test_a_batch_decides_on_rows_nobody_can_change_meanwhile(
    adapter: APSchedulerAdapter,
) -> None:
    adapter.create("job", every("job", 1))
    seen: list[bytes] = []

    def decide(rows: dict[str, tuple[bytes, float | None]]) -> Changes:
        seen.append(rows["job"][0])
        if isinstance(adapter.store, SqlRowStore):
            assert _other_writer_blocked(adapter, "job")
        elif len(seen) == 1:
            # The live scheduler rewrites the job between our read and our write.
            store = adapter.store
            assert isinstance(store, RedisRowStore)
            store.client.hset(store.jobs_key, "job", pickle.dumps(
                {**restricted_loads(rows["job"][0]), "kwargs": {"live": True}}))
        return Changes(updates={"job": rows["job"]})

    adapter.store.batch(["job"], decide)
    if isinstance(adapter.store, RedisRowStore):
        assert len(seen) == 2  # decided again on the row the scheduler wrote
        assert restricted_loads(seen[1])["kwargs"] == {"live": True}
    assert specs_of(adapter)["job"]["kwargs"] == (
        {"live": True} if isinstance(adapter.store, RedisRowStore) else {})


def test_a_shared_trigger_reuses_its_next_fire_time_only_until_it_passes() -> None:
    from apscheduler.triggers.cron import CronTrigger

    from schedsync.engine.adapters.apscheduler_jobs import first_run

    trigger = CronTrigger(minute="0", hour="9", timezone=UTC)
    morning = datetime(2026, 12, 1, 8, tzinfo=UTC)
    nine = datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert first_run(trigger, morning) == nine
    assert first_run(trigger, morning + timedelta(minutes=59)) == nine
    assert first_run(trigger, nine) == nine
    assert first_run(trigger, nine + timedelta(seconds=1)) == nine + timedelta(days=1)
    assert first_run(trigger, morning) == nine  # an earlier moment is worked out again


def _loaded(blob: bytes, key: str) -> dict[str, Any]:
    """A row's state with its own id and name masked, its trigger as its state."""
    state: dict[str, Any] = pickle.loads(blob)
    assert state["id"] == state["name"] == key
    return {**state, "id": "", "name": "", "trigger": state["trigger"].__getstate__()}


def test_a_batch_of_only_creates_writes_what_the_general_path_writes(
    adapter: APSchedulerAdapter,
) -> None:
    def specs(prefix: str) -> list[tuple[str, Spec]]:
        made = [(f"{prefix}-{i:03}", make_spec(
            name=f"{prefix}-{i:03}", trigger_type="cron",
            trigger={"minute": str(i % 60), "hour": str(i % 24)}, task="apptasks:work",
            args=[i, "x"], kwargs={"n": {"deep": [1, 2]}} if i % 2 else {"batch": "b"},
            timezone=BERLIN)) for i in range(120)]
        made.append((f"{prefix}-off", {**cron(f"{prefix}-off", hour="3"), "enabled": False,
                                       "args": []}))
        made.append((f"{prefix}-once", make_spec(
            name=f"{prefix}-once", trigger_type="clocked",
            trigger={"run_at": "2031-05-01T08:00:00Z"}, task="apptasks:work")))
        return made

    fast = [Operation(OpKind.CREATE, key, spec) for key, spec in specs("fast")]
    # A delete of an absent key in the batch takes the general path, job by job.
    general = [*(Operation(OpKind.CREATE, key, spec) for key, spec in specs("slow")),
               Operation(OpKind.DELETE, "never-there", None)]
    assert all(r.ok for r in adapter.apply(fast))
    assert all(r.ok for r in adapter.apply(general))
    rows = raw_rows(adapter)
    assert len(rows) == 2 * 122
    for key, _ in specs("fast"):
        twin = key.replace("fast", "slow")
        assert _loaded(rows[key][0], key) == _loaded(rows[twin][0], twin)
        assert rows[key][1] == rows[twin][1]
    assert rows["fast-off"][1] is None


def test_an_id_taken_in_a_batch_of_only_creates_is_refused_alone(
    adapter: APSchedulerAdapter,
) -> None:
    adapter.create("taken", every("taken", 1))
    before = raw_rows(adapter)["taken"]
    ops = [Operation(OpKind.CREATE, f"new-{i}", every(f"new-{i}", i + 1)) for i in range(5)]
    ops.insert(2, Operation(OpKind.CREATE, "taken", every("taken", 7)))
    results = list(adapter.apply(ops))
    assert [r.op for r in results] == ops
    assert [r.op.key for r in results if not r.ok] == ["taken"]
    assert "already exists" in (results[2].error or "")
    rows = raw_rows(adapter)
    assert rows["taken"] == before
    assert set(rows) == {"taken", *(f"new-{i}" for i in range(5))}

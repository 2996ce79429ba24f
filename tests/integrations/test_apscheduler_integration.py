"""A real APScheduler process with the integration installed runs what the adapter writes.

The scheduler is a ``BlockingScheduler`` in a subprocess on a SQLite job store; its job
function appends a line to a file. Started with an empty store it would sleep forever,
so every job it runs here was picked up through the integration's heartbeat.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from schedsync.engine.adapters.apscheduler import APSchedulerAdapter
from schedsync.engine.spec import Spec, make_spec
from schedsync.engine.state import StateStore
from schedsync.schemas.config import APSchedulerScheduler

pytestmark = pytest.mark.slow

TASKS = textwrap.dedent("""\
    def append(path, text):
        with open(path, "a") as out:
            out.write(text + "\\n")

    def boom():
        raise RuntimeError("boom")
""")
SCHEDULER = textwrap.dedent("""\
    import sys
    from pathlib import Path
    from apscheduler.events import EVENT_SCHEDULER_STARTED
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler
    from schedsync.integrations.apscheduler import install

    url, state, repo, ready = sys.argv[1:5]
    scheduler = BlockingScheduler(jobstores={"default": SQLAlchemyJobStore(url=url)},
                                  timezone="UTC")
    install(scheduler, state=state, project="demo", repo_root=Path(repo), heartbeat=0.5)
    scheduler.add_listener(lambda event: Path(ready).write_text("started"),
                           EVENT_SCHEDULER_STARTED)
    scheduler.start()
""")


@dataclass
class LiveScheduler:
    adapter: APSchedulerAdapter
    state: StateStore
    out: Path
    log: Path

    def lines(self) -> list[str]:
        return self.out.read_text().splitlines() if self.out.exists() else []


def wait_for(check: Callable[[], Any], what: str, live: LiveScheduler,
             timeout: float = 8.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; scheduler log:\n"
                         f"{live.log.read_text()[-3000:]}")


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveScheduler]:
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "firetasks.py").write_text(TASKS)
    script = tmp_path / "run_scheduler.py"
    script.write_text(SCHEDULER)
    config = APSchedulerScheduler(type="apscheduler", url="sqlite:///jobs/jobs.sqlite")
    adapter = APSchedulerAdapter(config, tmp_path)
    adapter.list_entries()
    state = StateStore.open(".schedsync/state.db", tmp_path)
    ready, log = tmp_path / "ready", tmp_path / "scheduler.log"
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, str(script), f"sqlite:///{tmp_path}/jobs/jobs.sqlite",
             ".schedsync/state.db", str(tmp_path), str(ready)],
            env={**os.environ, "PYTHONPATH": str(tmp_path / "mods")},
            stdout=log_file, stderr=subprocess.STDOUT,
        )
    try:
        found = LiveScheduler(adapter, state, tmp_path / "out.txt", log)
        wait_for(ready.exists, "the scheduler to start", found, timeout=15)
        yield found
    finally:
        process.kill()
        process.wait(timeout=10)
        adapter.close()
        state.close()


def appender(live: LiveScheduler, name: str, seconds: int, text: str) -> Spec:
    return make_spec(name=name, trigger_type="interval",
                     trigger={"every": seconds, "period": "seconds"},
                     task="firetasks:append", args=[str(live.out), text], timezone="UTC")


def test_created_job_runs_disable_stops_it_trigger_runs_once(live: LiveScheduler) -> None:
    spec = appender(live, "tick", 1, "tick")
    live.adapter.create("tick", spec)
    wait_for(lambda: live.lines().count("tick") >= 2, "two scheduled runs", live)

    live.adapter.set_enabled("tick", False)
    time.sleep(1.5)  # a run already started may still finish
    stopped_at = len(live.lines())
    time.sleep(3)
    assert len(live.lines()) == stopped_at
    assert live.adapter.list_entries()[0].spec["enabled"] is False

    manual = appender(live, "tick", 1, "manual")
    asked = datetime.now(UTC)
    run_id = live.adapter.trigger("tick", manual)
    wait_for(lambda: "manual" in live.lines(), "the manual run", live, timeout=5)
    time.sleep(1.5)
    assert live.lines().count("manual") == 1
    # The one-off job is gone after its run; the paused schedule is untouched.
    assert live.adapter.pending_runs() == []
    assert [e.key for e in live.adapter.list_entries()] == ["tick"]

    fired = wait_for(lambda: (f := live.state.fire(run_id)) and f.status == "succeeded" and f,
                     "the manual fire record", live)
    assert fired.source == "manual"
    assert asked <= fired.fired_at <= asked + timedelta(seconds=1)  # asked, not started
    assert fired.name == "tick"
    fires, _ = live.state.fires("demo", "tick", limit=100)
    scheduled = [f for f in fires if f.source == "schedule"]
    assert len(scheduled) >= 2
    assert all(f.task_id.startswith("tick@") for f in scheduled)
    assert {f.status for f in scheduled} <= {"succeeded", "pending"}
    assert any(f.status == "succeeded" and f.finished_at is not None for f in scheduled)


def test_failed_runs_are_recorded_and_never_stop_the_scheduler(live: LiveScheduler) -> None:
    live.adapter.create("bad", make_spec(
        name="bad", trigger_type="interval", trigger={"every": 1, "period": "seconds"},
        task="firetasks:boom", timezone="UTC"))

    def failed() -> list[Any]:
        return [f for f in live.state.fires("demo", "bad", limit=20)[0] if f.status == "failed"]

    records = wait_for(lambda: len(failed()) >= 2 and failed(), "failed fires", live)
    assert records[0].error is not None
    assert "RuntimeError: boom" in records[0].error
    # The scheduler keeps going: a job added afterwards still runs.
    live.adapter.create("tick", appender(live, "tick", 1, "after"))
    wait_for(lambda: "after" in live.lines(), "a run after the failures", live)


# --- in-process: the integration's own guarantees -------------------------------------

class _BrokenStore:
    """A state store that always fails, to prove recording never hurts the scheduler."""

    def __init__(self) -> None:
        self.calls = 0

    def record_fire(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        raise RuntimeError("state store down")

    def finish_fire(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        raise RuntimeError("state store down")


def test_a_failing_state_store_never_stops_jobs(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    from apscheduler.schedulers.background import BackgroundScheduler

    from schedsync.integrations.apscheduler import install

    ran: list[int] = []
    broken = _BrokenStore()
    scheduler = BackgroundScheduler(timezone="UTC")
    installed = install(scheduler, state=broken, project="demo", heartbeat=0.2)
    scheduler.add_job(ran.append, "interval", seconds=0.3, args=[1], id="quick")
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while len(ran) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(ran) >= 3
        assert installed.flush()
    finally:
        scheduler.shutdown(wait=True)
        installed.stop()
    assert broken.calls >= 3
    assert "could not record run" in caplog.text


def test_asyncio_scheduler_is_woken_on_its_loop(tmp_path: Path) -> None:
    import asyncio

    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from schedsync.integrations.apscheduler import install

    (tmp_path / "mods").mkdir()
    sys.path.insert(0, str(tmp_path / "mods"))
    (tmp_path / "mods" / "asynctasks.py").write_text(TASKS)
    config = APSchedulerScheduler(type="apscheduler", url="sqlite:///jobs.sqlite")
    adapter = APSchedulerAdapter(config, tmp_path)
    out = tmp_path / "out.txt"
    store = StateStore.open("state.db", tmp_path)

    async def main() -> None:
        scheduler = AsyncIOScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{tmp_path}/jobs.sqlite")},
            timezone="UTC")
        installed = install(scheduler, state=store, project="demo", heartbeat=0.3)
        scheduler.start()
        await asyncio.sleep(0.2)
        # Written from "outside" while the scheduler sleeps with an empty store.
        await asyncio.to_thread(adapter.create, "tick", make_spec(
            name="tick", trigger_type="interval", trigger={"every": 1, "period": "seconds"},
            task="asynctasks:append", args=[str(out), "async"], timezone="UTC"))
        for _ in range(60):
            if out.exists():
                break
            await asyncio.sleep(0.1)
        scheduler.shutdown(wait=False)
        installed.stop()

    try:
        asyncio.run(main())
        assert out.read_text().splitlines()[0] == "async"
        fires, _ = store.fires("demo", "tick")
        assert any(f.status == "succeeded" for f in fires)
    finally:
        sys.path.remove(str(tmp_path / "mods"))
        adapter.close()
        store.close()


class _RecordingStore:
    """Implements the two state store methods the integration calls."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.finishes: list[dict[str, Any]] = []

    def record_fire(self, project: str, name: str, **fields: Any) -> None:
        self.records.append({"project": project, "name": name, **fields})

    def finish_fire(self, task_id: str, **fields: Any) -> None:
        self.finishes.append({"task_id": task_id, **fields})


def _fail() -> None:
    raise ValueError("nope")


def test_fires_of_the_chosen_job_stores_with_every_outcome() -> None:
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    from schedsync.integrations.apscheduler import install

    store = _RecordingStore()
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore(), "mine": MemoryJobStore()}, timezone="UTC")
    installed = install(scheduler, state=store, project="demo", jobstores={"mine"})
    past = datetime.now(UTC) - timedelta(seconds=30)
    scheduler.add_job(print, "date", run_date=past, id="late", jobstore="mine",
                      misfire_grace_time=1)
    scheduler.add_job(_fail, "date", id="bad", jobstore="mine")
    scheduler.add_job(len, "date", args=["x"], id="good@manual-abc", jobstore="mine")
    scheduler.add_job(len, "date", args=["x"], id="elsewhere")
    scheduler.start()
    try:
        deadline = time.monotonic() + 5
        while len(store.finishes) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert installed.flush()
    finally:
        scheduler.shutdown(wait=True)
        installed.stop()
    names = {r["name"] for r in store.records} | {f["name"] for f in store.finishes}
    assert names == {"late", "bad", "good"}
    late = [r for r in store.records if r["name"] == "late"]
    # Submitted, then too late. APScheduler sends SUBMITTED from the scheduler thread and
    # MISSED from the executor's, so they arrive in either order; the state store keeps
    # "missed" whichever comes first (a later "pending" never overwrites an outcome).
    assert sorted(r["status"] for r in late) == ["missed", "pending"]
    assert {r["task_id"] for r in late} == {f"late@{past.isoformat()}"}
    finished = {f["name"]: f for f in store.finishes}
    assert finished["bad"]["status"] == "failed"
    assert finished["bad"]["error"] == "ValueError: nope"
    assert finished["good"]["status"] == "succeeded"
    assert finished["good"]["task_id"] == "good@manual-abc"
    manual = [r for r in store.records if r["name"] == "good"]
    assert manual[0]["source"] == "manual"
    assert manual[0]["status"] == "pending"

"""Several processes on one state: no lost writes, one apply at a time."""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest
import sqlalchemy as sa
import state_fixtures

from schedsync.engine.errors import LockHeld
from schedsync.engine.state import StateStore
from schedsync.engine.state.schema import apply_lock

WRITES = 60
# fork: a spawned child spends ~1.5 s importing; the children open their own stores.
_spawn = multiprocessing.get_context("fork")


pg_database = state_fixtures.pg_database  # registers the module-scoped fixture here


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return state_fixtures.pick_location(request, tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A location where no state exists yet, so that creating it races too."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(tmp_path / "state.db")


def _writer(location: str, root: str, worker: int, start: Event) -> None:
    start.wait(30)
    # Both processes open a brand-new file at once: creating the schema races too.
    with StateStore.open(location, Path(root)) as store:
        now = datetime.now(UTC)
        for i in range(WRITES):
            store.bump_serial()
            store.record_applied("acme", "aps", f"w{worker}-{i}", f"key-{worker}-{i}",
                                 {"i": i})
            store.record_fire("acme", "shared", task_id=f"task-{worker}-{i}",
                              fired_at=now, source="schedule")
            store.audit(actor=f"worker{worker}", action="write", project="acme",
                        target=str(i), result="ok")


def test_two_processes_writing_at_once_lose_nothing(fresh_location: str,
                                                    tmp_path: Path) -> None:
    location = fresh_location
    start = _spawn.Event()
    workers = [_spawn.Process(target=_writer, args=(location, str(tmp_path), n, start))
               for n in range(2)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    with StateStore.open(location, tmp_path) as store:
        assert store.serial() == 2 * WRITES
        assert len(store.bindings("acme", "aps")) == 2 * WRITES
        fires, cursor, total = [], None, 0
        while True:
            fires, cursor = store.fires("acme", "shared", limit=100, cursor=cursor)
            total += len(fires)
            if cursor is None:
                break
        assert total == 2 * WRITES
        assert len(store.audit_entries(limit=1000)) == 2 * WRITES
        assert store.check_integrity() == []


def _hold(location: str, root: str, taken: Event, release: Event, exit_holding: bool) -> None:
    with StateStore.open(location, Path(root)) as store, store.lock("ci-job-7"):
        taken.set()
        if exit_holding:
            os._exit(0)  # dies holding the lock, as a killed apply would
        release.wait(30)


@pytest.fixture
def holder(location: str, tmp_path: Path) -> Iterator[tuple[Event, multiprocessing.Process]]:
    """A second process holding the apply lock until ``release`` is set."""
    taken, release = _spawn.Event(), _spawn.Event()
    process = _spawn.Process(target=_hold,
                             args=(location, str(tmp_path), taken, release, False))
    process.start()
    assert taken.wait(30), "the holder process never took the lock"
    yield release, process  # type: ignore[misc]
    release.set()
    process.join(30)


def test_a_second_apply_waits_then_gets_lock_held(
    location: str, tmp_path: Path, holder: tuple[Event, multiprocessing.Process]
) -> None:
    _, process = holder
    with StateStore.open(location, tmp_path) as store:
        started = time.monotonic()
        with pytest.raises(LockHeld) as caught, store.lock("second", timeout=0.4):
            pytest.fail("took a lock another process holds")
        assert time.monotonic() - started >= 0.4
        message = str(caught.value)
        assert "held by 'ci-job-7'" in message
        assert f"pid {process.pid}" in message
        assert " since " in message
        assert "waited 0.4 s" in message
        info = store.lock_info()
        assert info is not None
        assert (info.holder, info.pid) == ("ci-job-7", process.pid)


def test_a_waiting_apply_gets_the_lock_once_it_is_released(
    location: str, tmp_path: Path, holder: tuple[Event, multiprocessing.Process]
) -> None:
    release, _ = holder
    with StateStore.open(location, tmp_path) as store:
        release.set()  # the holder finishes while we wait
        with store.lock("second", timeout=20):
            info = store.lock_info()
            assert info is not None
            assert (info.holder, info.pid) == ("second", os.getpid())
        assert store.lock_info() is None


def test_a_lock_left_by_a_dead_process_is_broken(location: str, tmp_path: Path) -> None:
    taken, release = _spawn.Event(), _spawn.Event()
    process = _spawn.Process(target=_hold, args=(location, str(tmp_path), taken, release, True))
    process.start()
    process.join(30)
    assert taken.is_set()
    with StateStore.open(location, tmp_path) as store:
        left = store.lock_info()
        assert left is not None
        assert left.pid == process.pid
        with store.lock("after-crash"):
            info = store.lock_info()
            assert info is not None
            assert info.holder == "after-crash"


def test_an_old_lock_from_another_host_is_broken_after_the_ttl(location: str,
                                                               tmp_path: Path) -> None:
    with StateStore.open(location, tmp_path) as store:
        with store._write() as conn:
            conn.execute(apply_lock.insert().values(
                name="apply", token="t", holder="ci on other host", host="elsewhere",
                pid=1, acquired_at=datetime.now(UTC) - timedelta(minutes=30)))
        with pytest.raises(LockHeld, match="ci on other host"), store.lock("me"):
            pass
        store.lock_ttl = timedelta(minutes=10)
        with store.lock("me"):
            pass
        assert store.lock_info() is None


def test_break_lock_removes_any_holder(location: str, tmp_path: Path) -> None:
    with StateStore.open(location, tmp_path) as store:
        with store._write() as conn:
            conn.execute(apply_lock.insert().values(
                name="apply", token="t", holder="stuck", host="elsewhere", pid=1,
                acquired_at=datetime.now(UTC)))
        broken = store.break_lock()
        assert broken is not None
        assert broken.holder == "stuck"
        assert store.lock_info() is None


def test_sqlite_integrity_problems_are_reported(tmp_path: Path) -> None:
    with StateStore.open("state.db", tmp_path) as store:
        store.record_applied("acme", "aps", "a", "k", {"task": "t"})
    raw = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    with raw.begin() as conn:  # foreign keys are off in a plain connection
        conn.exec_driver_sql("DELETE FROM schedsync_schedules")
        conn.exec_driver_sql("UPDATE schedsync_bindings SET base_spec = '[1'")
    raw.dispose()
    with StateStore.open("state.db", tmp_path) as store:
        problems = store.check_integrity()
    assert any("foreign_key_check: schedsync_bindings" in p for p in problems)
    assert any("schedule" in p and "does not exist" in p for p in problems)
    assert any("is not a JSON object" in p for p in problems)


def test_threads_share_one_store(location: str, tmp_path: Path) -> None:
    """The server calls one store from its worker threads."""
    import threading

    with StateStore.open(location, tmp_path) as store:
        def work(n: int) -> None:
            for i in range(10):
                store.bump_serial()
                store.record_applied("acme", "aps", f"t{n}-{i}", "k", {"i": i})

        threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert store.serial() == 60
        assert len(store.bindings("acme", "aps")) == 60


def _use_inherited(store: StateStore, out: multiprocessing.SimpleQueue[int]) -> None:
    store.bump_serial()
    out.put(store.serial())


def test_a_forked_child_opens_its_own_connections(location: str, tmp_path: Path) -> None:
    with StateStore.open(location, tmp_path) as store:
        store.bump_serial()  # the parent has a pooled connection now
        out: multiprocessing.SimpleQueue[int] = _spawn.SimpleQueue()
        child = _spawn.Process(target=_use_inherited, args=(store, out))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert out.get() == 2
        assert store.serial() == 2  # and the parent's connection still works
        assert store.check_integrity() == []


def _apply_then_die(location: str, root: str) -> None:
    import signal

    store = StateStore.open(location, Path(root))
    store.record_applied("acme", "aps", "a", "acme.a", {"task": "t"})
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush, no atexit


def test_record_applied_survives_a_kill_right_after_it(location: str, tmp_path: Path) -> None:
    child = _spawn.Process(target=_apply_then_die, args=(location, str(tmp_path)))
    child.start()
    child.join(30)
    assert child.exitcode == -9
    with StateStore.open(location, tmp_path) as store:
        assert store.bindings("acme", "aps")["a"].base_spec == {"task": "t"}
        assert store.check_integrity() == []

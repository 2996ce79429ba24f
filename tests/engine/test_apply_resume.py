"""A large apply (more than one batch: ids planned up front, new schedules recorded by
plain INSERTs) interrupted between batches converges on the next apply, with nothing
lost or duplicated: after a state error right after a store commit, and after kill -9.
"""

from __future__ import annotations

import pickle
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from schedsync.engine.state import StateStore
from schedsync.engine.state.errors import StateError
from schedsync.engine.sync import apply_plan, make_plan
from schedsync.engine.workspace import Workspace

CONFIG = """version: 1
state: .schedsync/state.db
projects:
  acme:
    timezone: Europe/Berlin
    schedulers:
      aps:
        type: apscheduler
        jobstore: sqlalchemy
        url: sqlite:///.schedsync/jobs.sqlite
"""


def write_repo(root: Path, count: int) -> Path:
    (root / "schedules" / "acme").mkdir(parents=True)
    (root / "schedsync.yaml").write_text(CONFIG)
    lines = ["schedules:\n"]
    for i in range(count):
        trigger = (f"    trigger_type: cron\n    trigger: \"{i % 60} {i % 24} * * 1-5\"\n"
                   if i % 3 else
                   f"    trigger_type: interval\n    trigger: {{every: {i % 89 + 1}, "
                   "period: minutes}\n")
        lines.append(f"  - name: bulk.{i:05d}\n    scheduler: aps\n{trigger}"
                     f"    task: schedsync.demo_tasks:heartbeat\n    args: [{i}]\n")
    (root / "schedules" / "acme" / "bulk.yaml").write_text("".join(lines))
    return root


def job_rows(root: Path) -> list[tuple[str, Any]]:
    with sqlite3.connect(root / ".schedsync" / "jobs.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return [(key, pickle.loads(state)) for key, state in
                conn.execute("SELECT id, job_state FROM apscheduler_jobs")]


def bound_names(root: Path) -> list[str]:
    db = root / ".schedsync" / "state.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            rows = conn.execute(
                "SELECT s.name FROM schedsync_bindings b "
                "JOIN schedsync_schedules s ON s.id = b.schedule_id").fetchall()
        except sqlite3.OperationalError:  # the state is being created
            return []
    return [name for (name,) in rows]


def apply_all(root: Path) -> tuple[int, int]:
    """(applied, failed) of a full apply."""
    ws = Workspace.open(root)
    try:
        result = apply_plan(ws, make_plan(ws))
    finally:
        ws.close()
    return len(result.applied), len(result.failed)


def assert_converged(root: Path, count: int) -> None:
    rows = job_rows(root)
    keys = [key for key, _ in rows]
    assert len(keys) == len(set(keys)) == count
    assert {state["id"] for _, state in rows} == set(keys)
    names = bound_names(root)
    assert sorted(names) == sorted(keys)  # every job bound once, none twice
    ws = Workspace.open(root)
    try:
        assert not make_plan(ws).has_changes
    finally:
        ws.close()
    with StateStore.open(".schedsync/state.db", root) as state:
        assert state.check_integrity() == []
        records = state.schedule_records("acme")
        assert len(records) == count


def test_a_state_error_after_a_store_commit_then_apply_converges(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_repo(tmp_path, 3500)  # batches of 1000 and 2000 and 500
    calls = []
    original = StateStore.record_applied_many

    def failing(self: StateStore, *args: Any, **kwargs: Any) -> None:
        calls.append(len(args[2]))
        if len(calls) == 2:  # the second batch is in the store, not in the state
            raise StateError("state: disk I/O error (injected)")
        original(self, *args, **kwargs)

    monkeypatch.setattr(StateStore, "record_applied_many", failing)
    with pytest.raises(StateError):
        apply_all(root)
    monkeypatch.setattr(StateStore, "record_applied_many", original)
    assert calls == [1000, 2000]
    assert len(job_rows(root)) == 3000
    assert len(bound_names(root)) == 1000
    # The 2000 unrecorded jobs are in sync: their records are made, nothing re-created.
    assert apply_all(root) == (500, 0)
    assert_converged(root, 3500)


def test_kill_9_between_batches_then_apply_converges(tmp_path: Path) -> None:
    count = 6000  # batches of 1000, 2000, 3000
    root = write_repo(tmp_path, count)
    mid_apply = False
    for _ in range(3):  # the kill must land between batches; on a miss, start over
        proc = subprocess.Popen(
            [sys.executable, "-m", "schedsync", "--repo", str(root), "apply",
             "--auto-approve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        bound = 0
        while proc.poll() is None and time.monotonic() < deadline:
            bound = len(bound_names(root))
            if bound >= 1000:
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        mid_apply = 1000 <= bound < count and len(bound_names(root)) < count
        if mid_apply:
            break
        for name in (".schedsync/state.db", ".schedsync/jobs.sqlite"):
            for suffix in ("", "-wal", "-shm", "-journal"):
                (root / f"{name}{suffix}").unlink(missing_ok=True)
    assert mid_apply, "every apply finished before it could be killed between batches"
    before = len(job_rows(root))
    assert before < count
    assert apply_all(root) == (count - before, 0)  # only the missing ones are created
    assert_converged(root, count)

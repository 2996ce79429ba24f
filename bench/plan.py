"""Plan and apply on an APScheduler SQLite store (issue 3's figures).

    .venv/bin/python bench/plan.py            # 10k schedules, 5 runs, plus 100k RSS
    BENCH_N=2000 BENCH_RSS_N=0 .venv/bin/python bench/plan.py   # quick

Prints medians and three figures, each against a reference measured in the same run:
- plan with no changes / (load the repository + raw SELECT and unpickle of the store)
  (target <= 1.5)
- apply of N creates / raw batched INSERT of the same rows (target <= 3)
- peak RSS of a plan over 100k schedules (target < 1 GiB)

Then a breakdown (not targets): the same ratios in CPU time, which a busy machine
disturbs less than wall time, and what apply writes besides the job rows: the same job
rows plus the state file's rows (schedule records and base specs), inserted raw.
"""

from __future__ import annotations

import gc
import os
import pickle
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _repo import write_repo

N = int(os.environ.get("BENCH_N", "10000"))
RSS_N = int(os.environ.get("BENCH_RSS_N", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
JOBS = ".schedsync/jobs.sqlite"


class Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def fresh_apply(template: Path) -> tuple[Timer, Timer, float]:
    """(apply of N creates, raw batched insert of the same rows, wall seconds of raw
    inserts of everything apply wrote: job rows and state rows)."""
    from schedsync.engine.sync import apply_plan, make_plan
    from schedsync.engine.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    try:
        shutil.copytree(template, root, dirs_exist_ok=True)
        shutil.rmtree(root / ".schedsync", ignore_errors=True)
        ws = Workspace.open(root)
        plan = make_plan(ws)
        with Timer() as applied:
            result = apply_plan(ws, plan)
        ws.close()
        assert not result.failed, result.failed[:3]
        assert len(result.applied) == N
        reference = raw_insert(root / JOBS, ["apscheduler_jobs"])
        state = root / ".schedsync" / "state.db"
        written = raw_insert(root / JOBS, ["apscheduler_jobs"]).wall + raw_insert(
            state, ["schedsync_schedules", "schedsync_bindings"], wal=True).wall
        return applied, reference, written
    finally:
        shutil.rmtree(root, ignore_errors=True)


def raw_insert(store: Path, tables: list[str], *, wal: bool = False) -> Timer:
    """The reference: the same rows, one executemany per table in one transaction (the
    state file's journal settings when ``wal``: WAL, synchronous NORMAL)."""
    copies = []
    with sqlite3.connect(store) as source:
        for table in tables:
            rows = source.execute(f"SELECT * FROM {table}").fetchall()
            ddl = source.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
            copies.append((table, rows, ddl))
    target = store.with_name("raw.sqlite")
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(target)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
    for _, _, ddl in copies:
        conn.execute(ddl)
    with Timer() as timer, conn:
        for table, rows, _ in copies:
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    conn.close()
    return timer


def plan_no_changes(root: Path) -> tuple[Timer, Timer]:
    """(plan with no changes, load + raw read of the store)."""
    from schedsync.engine.repository import load_repository
    from schedsync.engine.sync import make_plan
    from schedsync.engine.workspace import Workspace

    gc.collect()
    with Timer() as planned:
        ws = Workspace.open(root)
        plan = make_plan(ws)
    ws.close()
    assert not plan.has_changes, plan.summary()
    gc.collect()
    with Timer() as reference:
        load_repository(root)
        with sqlite3.connect(root / JOBS) as conn:
            states = [pickle.loads(blob)
                      for _, _, blob in conn.execute("SELECT * FROM apscheduler_jobs")]
    assert len(states) == N
    return planned, reference


def peak_rss_of_plan(count: int) -> int:
    """Peak RSS (bytes) of a child process planning ``count`` schedules."""
    root = Path(tempfile.mkdtemp(prefix="bench-rss-"))
    try:
        write_repo(root, count)
        code = (
            "import resource, sys\n"
            "from pathlib import Path\n"
            "from schedsync.engine.sync import make_plan\n"
            "from schedsync.engine.workspace import Workspace\n"
            f"ws = Workspace.open(Path({str(root)!r}))\n"
            "plan = make_plan(ws)\n"
            f"assert plan.summary()['create'] == {count}\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    template = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    try:
        write_repo(template, N)
        applies = [fresh_apply(template) for _ in range(RUNS)]
        # One applied copy for the no-change plans.
        from schedsync.engine.sync import apply_plan, make_plan
        from schedsync.engine.workspace import Workspace

        ws = Workspace.open(template)
        apply_plan(ws, make_plan(ws))
        ws.close()
        plans = [plan_no_changes(template) for _ in range(RUNS)]
    finally:
        shutil.rmtree(template, ignore_errors=True)
    apply_s = statistics.median(a.wall for a, _, _ in applies)
    raw_s = statistics.median(r.wall for _, r, _ in applies)
    plan_s = statistics.median(p.wall for p, _ in plans)
    ref_s = statistics.median(r.wall for _, r in plans)
    print(f"schedules: {N}, runs: {RUNS} (medians)")
    print(f"apply {N} creates: {apply_s:.3f} s; raw batched insert: {raw_s:.3f} s; "
          f"ratio {apply_s / raw_s:.2f} (target <= 3)")
    print(f"plan, no changes: {plan_s:.3f} s; load + raw read: {ref_s:.3f} s; "
          f"ratio {plan_s / ref_s:.2f} (target <= 1.5)")
    apply_cpu = statistics.median(a.cpu for a, _, _ in applies)
    raw_cpu = statistics.median(r.cpu for _, r, _ in applies)
    written = statistics.median(w for _, _, w in applies)
    plan_cpu = statistics.median(p.cpu for p, _ in plans)
    ref_cpu = statistics.median(r.cpu for _, r in plans)
    print(f"  breakdown: apply CPU {apply_cpu:.3f} s / raw insert CPU {raw_cpu:.3f} s = "
          f"{apply_cpu / raw_cpu:.1f}; raw inserts of everything apply writes (job rows + "
          f"state rows): {written:.3f} s = {written / raw_s:.1f}x the reference")
    print(f"  breakdown: plan CPU {plan_cpu:.3f} s / load + raw read CPU {ref_cpu:.3f} s "
          f"= {plan_cpu / ref_cpu:.2f}")
    if RSS_N:
        rss = peak_rss_of_plan(RSS_N)
        print(f"plan over {RSS_N} schedules: peak RSS {rss / 2**20:.0f} MiB (target < 1024)")


if __name__ == "__main__":
    main()

"""Plan and apply on an APScheduler SQLite store (issue 3's figures).

    .venv/bin/python bench/plan.py            # 10k schedules, 5 runs, plus 100k RSS
    BENCH_N=2000 BENCH_RSS_N=0 .venv/bin/python bench/plan.py   # quick

Prints medians and three figures, each against a reference measured in the same run:
- plan with no changes / (load the repository + raw SELECT and unpickle of the store)
  (target <= 1.5)
- apply of N creates / raw batched INSERT of the same rows (target <= 3). Apply writes
  two kinds of rows: the job rows into the job store and the state file's rows (schedule
  records, bindings with their base specs). Two references, both printed with wall and
  CPU ratios: a raw insert of ALL the rows apply writes (both databases, each into the
  same tables and indexes with its own connection settings: the headline for the
  target) and a raw insert of the job rows alone (secondary: it leaves the state file's
  writes out of the reference).
  The medians include later applies of the same process, which find the triggers of
  the earlier ones cached (a long-lived server's case); the first apply's figures are
  printed too (a CLI apply's case), and the median ratio of BENCH_COLD (3) fresh
  processes' first applies.
- peak RSS of a plan over 100k schedules (target < 1 GiB)

Then the no-change plan's ratio in CPU time, which a busy machine disturbs less than wall
time.
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
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _repo import write_repo

N = int(os.environ.get("BENCH_N", "10000"))
RSS_N = int(os.environ.get("BENCH_RSS_N", "100000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
# Fresh processes that each time one first apply (a CLI apply's cold caches).
COLD = int(os.environ.get("BENCH_COLD", "3"))
JOBS = ".schedsync/jobs.sqlite"
STATE = ".schedsync/state.db"


class Timer:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __add__(self, other: Timer) -> Timer:
        both = Timer()
        both.wall, both.cpu = self.wall + other.wall, self.cpu + other.cpu
        return both


def fresh_apply(template: Path) -> tuple[Timer, Timer, Timer]:
    """(apply of N creates, raw batched insert of everything apply wrote: job rows and
    state rows, raw batched insert of the job rows alone)."""
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
        jobs = copy_rows(root / JOBS, ["apscheduler_jobs"])
        state = copy_rows(root / STATE, ["schedsync_schedules", "schedsync_bindings"])
        job_rows = raw_insert(root / "raw-jobs.sqlite", jobs)
        everything = job_rows + raw_insert(root / "raw-state.sqlite", state, wal=True)
        return applied, everything, job_rows
    finally:
        shutil.rmtree(root, ignore_errors=True)


Copies = list[tuple[str, list[Any], list[str]]]  # (table, rows, CREATE TABLE and INDEX)


def copy_rows(store: Path, tables: list[str]) -> Copies:
    copies = []
    with sqlite3.connect(store) as source:
        for table in tables:
            rows = source.execute(f"SELECT * FROM {table}").fetchall()
            # The table and its own indexes (APScheduler's on next_run_time): every
            # writer of these rows keeps them up to date, so the reference does too.
            ddl = [sql for (sql,) in source.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                "ORDER BY type = 'index'", (table,))]
            copies.append((table, rows, ddl))
    return copies


def raw_insert(target: Path, copies: Copies, *, wal: bool = False) -> Timer:
    """The reference: the same rows into empty tables (with their indexes) of a new file,
    one executemany per table in one transaction (timed with its commit). Connection
    settings as apply's: the job store's defaults (APScheduler's engine), or the state
    file's when ``wal`` (WAL, synchronous NORMAL, foreign keys enforced)."""
    conn = sqlite3.connect(target)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")  # bindings -> schedules, as the state's
    for _, _, ddl in copies:
        for statement in ddl:
            conn.execute(statement)
    conn.commit()
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


def cold_apply(template: Path) -> tuple[float, float]:
    """(wall, CPU) ratio of the first apply of a fresh process to its all-rows reference."""
    out = subprocess.run([sys.executable, __file__, "--cold", str(template)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    if sys.argv[1:2] == ["--cold"]:
        applied, everything, _ = fresh_apply(Path(sys.argv[2]))
        print(applied.wall / everything.wall, applied.cpu / everything.cpu)
        return
    template = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    try:
        write_repo(template, N)
        applies = [fresh_apply(template) for _ in range(RUNS)]
        colds = [cold_apply(template) for _ in range(COLD)]
        # One applied copy for the no-change plans.
        from schedsync.engine.sync import apply_plan, make_plan
        from schedsync.engine.workspace import Workspace

        ws = Workspace.open(template)
        apply_plan(ws, make_plan(ws))
        ws.close()
        plans = [plan_no_changes(template) for _ in range(RUNS)]
    finally:
        shutil.rmtree(template, ignore_errors=True)
    med = statistics.median
    apply_s, apply_cpu = med(a.wall for a, _, _ in applies), med(a.cpu for a, _, _ in applies)
    print(f"schedules: {N}, runs: {RUNS} (medians)")
    print(f"apply {N} creates: {apply_s:.3f} s (CPU {apply_cpu:.3f} s)")
    references = (
        ("raw batched insert of all rows apply writes (job rows + state rows)", 1,
         "target <= 3"),
        ("raw batched insert of the job rows alone", 2, "secondary: no state rows"),
    )
    for label, at, note in references:
        wall, cpu = med(r[at].wall for r in applies), med(r[at].cpu for r in applies)
        print(f"  vs {label}: {wall:.3f} s (CPU {cpu:.3f} s); ratio {apply_s / wall:.2f} "
              f"(CPU {apply_cpu / cpu:.2f}) ({note})")
    # The first apply of a process builds and pickles every trigger and works out its
    # next fire time (later ones find most of that cached), as a CLI apply does: this
    # run's first, and the median over COLD fresh processes (one first apply each).
    first, everything = applies[0][0], applies[0][1]
    print(f"  first apply of the process (cold caches, as a CLI apply): {first.wall:.3f} s "
          f"(CPU {first.cpu:.3f} s); vs all rows: ratio {first.wall / everything.wall:.2f} "
          f"(CPU {first.cpu / everything.cpu:.2f})")
    if colds:
        print(f"  first apply in {COLD} fresh processes, median ratio vs all rows: "
              f"{med(w for w, _ in colds):.2f} (CPU {med(c for _, c in colds):.2f}) "
              "(target <= 3)")
    plan_s, ref_s = med(p.wall for p, _ in plans), med(r.wall for _, r in plans)
    plan_cpu, ref_cpu = med(p.cpu for p, _ in plans), med(r.cpu for _, r in plans)
    print(f"plan, no changes: {plan_s:.3f} s; load + raw read: {ref_s:.3f} s; "
          f"ratio {plan_s / ref_s:.2f} (target <= 1.5)")
    print(f"  plan CPU {plan_cpu:.3f} s / load + raw read CPU {ref_cpu:.3f} s "
          f"= {plan_cpu / ref_cpu:.2f}")
    if RSS_N:
        rss = peak_rss_of_plan(RSS_N)
        print(f"plan over {RSS_N} schedules: peak RSS {rss / 2**20:.0f} MiB (target < 1024)")


if __name__ == "__main__":
    main()

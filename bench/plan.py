"""Plan and apply on an APScheduler SQLite store (issue 3's figures).

    .venv/bin/python bench/plan.py            # 10k schedules, 5 runs, plus 100k RSS
    BENCH_N=2000 BENCH_RSS_N=0 .venv/bin/python bench/plan.py   # quick

Prints medians and three figures, each against a reference measured in the same run:
- plan with no changes / (load the repository + raw SELECT and unpickle of the store)
  (target <= 1.5)
- apply of N creates / raw batched INSERT of the same rows (target <= 3)
- peak RSS of a plan over 100k schedules (target < 1 GiB)
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


def fresh_apply(template: Path) -> tuple[float, float]:
    """(seconds to apply N creates, seconds for a raw batched insert of the same rows)."""
    from schedsync.engine.sync import apply_plan, make_plan
    from schedsync.engine.workspace import Workspace

    root = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    try:
        shutil.copytree(template, root, dirs_exist_ok=True)
        shutil.rmtree(root / ".schedsync", ignore_errors=True)
        ws = Workspace.open(root)
        plan = make_plan(ws)
        started = time.perf_counter()
        result = apply_plan(ws, plan)
        applied = time.perf_counter() - started
        ws.close()
        assert not result.failed, result.failed[:3]
        assert len(result.applied) == N
        return applied, raw_insert(root / JOBS)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def raw_insert(store: Path) -> float:
    """The reference: the same rows, one executemany in one transaction."""
    with sqlite3.connect(store) as source:
        rows = source.execute(
            "SELECT id, next_run_time, job_state FROM apscheduler_jobs").fetchall()
        ddl = source.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'apscheduler_jobs'").fetchone()[0]
    target = store.with_name("raw.sqlite")
    conn = sqlite3.connect(target)
    conn.execute(ddl)
    started = time.perf_counter()
    with conn:
        conn.executemany("INSERT INTO apscheduler_jobs VALUES (?, ?, ?)", rows)
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def plan_no_changes(root: Path) -> tuple[float, float]:
    """(plan with no changes, load + raw read of the store)."""
    from schedsync.engine.repository import load_repository
    from schedsync.engine.sync import make_plan
    from schedsync.engine.workspace import Workspace

    gc.collect()
    started = time.perf_counter()
    ws = Workspace.open(root)
    plan = make_plan(ws)
    planned = time.perf_counter() - started
    ws.close()
    assert not plan.has_changes, plan.summary()
    gc.collect()
    started = time.perf_counter()
    load_repository(root)
    with sqlite3.connect(root / JOBS) as conn:
        states = [pickle.loads(blob)
                  for _, _, blob in conn.execute("SELECT * FROM apscheduler_jobs")]
    reference = time.perf_counter() - started
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
    apply_s = statistics.median(a for a, _ in applies)
    raw_s = statistics.median(r for _, r in applies)
    plan_s = statistics.median(p for p, _ in plans)
    ref_s = statistics.median(r for _, r in plans)
    print(f"schedules: {N}, runs: {RUNS} (medians)")
    print(f"apply {N} creates: {apply_s:.3f} s; raw batched insert: {raw_s:.3f} s; "
          f"ratio {apply_s / raw_s:.2f} (target <= 3)")
    print(f"plan, no changes: {plan_s:.3f} s; load + raw read: {ref_s:.3f} s; "
          f"ratio {plan_s / ref_s:.2f} (target <= 1.5)")
    if RSS_N:
        rss = peak_rss_of_plan(RSS_N)
        print(f"plan over {RSS_N} schedules: peak RSS {rss / 2**20:.0f} MiB (target < 1024)")


if __name__ == "__main__":
    main()

"""Benchmark: `schedsync diff --base` on 10k schedules with 1,000 of them re-timed.

    .venv/bin/python bench/review_diff.py [--schedules 10000] [--runs 3]

Builds a git repository in a temporary folder (10k schedules in files of 100, committed),
edits 10 files of the working tree (each schedule's trigger moves), then measures in
fresh processes the median CPU time of:
- reference: validating the working tree once (``load_repository`` without cache), the
  least a review of it must do;
- diff: the whole review (both sides read from git and validated, matching, fire times
  before/after, 7-day runs, findings, pile-ups) rendered as markdown.
Prints diff / reference: the cost of a review in units of one validation.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _repo import PER_FILE, write_repo

REFERENCE = """\
import sys, time
from pathlib import Path
from schedsync.engine.repository import load_repository
start = time.process_time()
repo = load_repository(Path(sys.argv[1]), use_cache=False)
print(time.process_time() - start)
assert not repo.diagnostics.has_errors
"""
DIFF = """\
import sys, time
from datetime import UTC, datetime
from pathlib import Path
from schedsync.engine.review import review_change
from schedsync.engine.review.render import render
start = time.process_time()
review = review_change(Path(sys.argv[1]), "main", now=datetime(2026, 12, 1, 6, tzinfo=UTC))
out, _ = render(review, "markdown")
print(time.process_time() - start)
assert not review.failed and len(review.changes) == int(sys.argv[2]), len(review.changes)
assert len(out) < 65_536
"""


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def build(root: Path, count: int, changed_files: int) -> int:
    write_repo(root, count)
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-qm",
         "base")
    files = sorted((root / "schedules" / "bench").glob("*.yaml"))[:changed_files]
    for path in files:
        # Every minute moves by one: each schedule of the file is re-timed.
        text = re.sub(r'minute: "(\d+)"', lambda m: f'minute: "{(int(m[1]) + 1) % 60}"',
                      path.read_text())
        text = re.sub(r"every: (\d+)", lambda m: f"every: {int(m[1]) + 1}", text)
        path.write_text(text)
    return changed_files * PER_FILE


def measure(script: str, *args: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", script, *args], check=True,
                             capture_output=True, text=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--changed-files", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        changed = build(root, options.schedules, options.changed_files)
        reference = measure(REFERENCE, str(root), runs=options.runs)
        diff = measure(DIFF, str(root), str(changed), runs=options.runs)
    print(f"{options.schedules} schedules, {changed} re-timed; median CPU of {options.runs} runs")
    print(f"reference (validate the working tree once): {reference:.2f} s")
    print(f"diff --base main (markdown):                {diff:.2f} s")
    print(f"diff / reference: {diff / reference:.2f}x")


if __name__ == "__main__":
    main()

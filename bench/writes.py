"""Sequential repository writes: RepoWriter (YAML edit + commit) vs bare ``git commit``.

Both run in the same run on same-size repositories (1,000 schedule files of 10 schedules,
10k schedules in all). The reference is the cheapest possible write: change one line of
a file with plain Python and ``git commit -q -- <path>``. Ours is what an API PATCH
does to the repository: take the write lock, read the file, ``update_schedule`` one
field, write it atomically, stage and commit exactly that path with the caller as author.
Medians of per-write times; prints writes/s and the ratio.

    .venv/bin/python bench/writes.py [--writes 60] [--files 1000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from schedsync.engine.repo_writer import RepoWriter
from schedsync.engine.yamledit import add_schedule, update_schedule

PER_FILE = 10


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def schedule(name: str) -> dict[str, object]:
    return {
        "name": name,
        "scheduler": "apscheduler",
        "trigger_type": "cron",
        "trigger": {"minute": "0", "hour": "9", "day_of_week": "*"},
        "task": "jobs.tasks:run",
        "args": [1, "two"],
        "kwargs": {"locale": "en-US", "retries": 3},
        "enabled": True,
        "description": "a benchmark schedule",
    }


def build(root: Path, files: int) -> list[str]:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "bench")
    git(root, "config", "user.email", "bench@example.com")
    (root / "schedsync.yaml").write_text("version: 1\n")
    template = "# generated for the benchmark\n"
    for s in range(PER_FILE):
        template = add_schedule(template, schedule(f"f0.s{s}"))
    paths = []
    for f in range(files):
        rel = f"schedules/p{f % 10}/f{f}.yaml"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(template.replace("name: f0.", f"name: f{f}."))
        paths.append(rel)
    git(root, "add", ".")
    git(root, "commit", "-qm", "seed")
    return paths


def bare_git(root: Path, paths: list[str], writes: range) -> list[float]:
    times = []
    for i in writes:
        rel = paths[(i * 37) % len(paths)]
        start = time.perf_counter()
        target = root / rel
        text = target.read_text()
        target.write_text(text.replace('hour: "9"', f'hour: "{i + 10}"', 1))
        subprocess.run(["git", "commit", "-q", "-m", f"edit {i}", "--", rel], cwd=root, check=True)
        times.append(time.perf_counter() - start)
    return times


def repo_writer(root: Path, paths: list[str], writes: range) -> list[float]:
    writer = RepoWriter(root)
    times = []
    for i in writes:
        rel = paths[(i * 37) % len(paths)]
        name = f"{Path(rel).stem}.s{i % PER_FILE}"
        trigger = {"minute": "0", "hour": str(i + 10), "day_of_week": "*"}
        start = time.perf_counter()
        result = writer.update(
            rel,
            lambda text, n=name, t=trigger: update_schedule(text or "", n, {"trigger": t}),
            f"schedules: update {name} (trigger)",
            author_name="Bench User",
            author_email="bench.user@example.com",
        )
        times.append(time.perf_counter() - start)
        if result.commit is None:
            sys.exit(f"write {i} made no commit")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=60)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env_home = Path(tmp) / "home"
        env_home.mkdir()
        os.environ["GIT_CONFIG_GLOBAL"] = str(env_home / "gitconfig")  # hermetic git
        t0 = time.perf_counter()
        ref_paths = build(Path(tmp) / "ref", args.files)
        our_paths = build(Path(tmp) / "ours", args.files)
        print(
            f"built 2 repos of {args.files} files x {PER_FILE} schedules "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        # Interleave rounds so machine noise hits both sides alike.
        ref: list[float] = []
        ours: list[float] = []
        rounds = 3
        per_round = args.writes // rounds
        for r in range(rounds):
            indices = range(r * per_round, (r + 1) * per_round)
            ref += bare_git(Path(tmp) / "ref", ref_paths, indices)
            ours += repo_writer(Path(tmp) / "ours", our_paths, indices)
    ref_median, our_median = statistics.median(ref), statistics.median(ours)
    print(
        f"bare git commit of a one-line change: median {ref_median * 1000:.1f} ms "
        f"-> {1 / ref_median:.1f} writes/s"
    )
    print(
        f"RepoWriter update (YAML edit + commit): median {our_median * 1000:.1f} ms "
        f"-> {1 / our_median:.1f} writes/s"
    )
    print(f"ratio (ours / bare git, writes per second): {ref_median / our_median:.2f}x")


if __name__ == "__main__":
    main()

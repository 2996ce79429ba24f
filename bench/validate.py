"""Benchmark: `schedsync validate` on 10k schedules in 100 files, against PyYAML's C loader.

    .venv/bin/python bench/validate.py [--schedules 10000] [--files 100] [--runs 5]

Generates a repository in a temporary folder, then measures, each in a fresh process
(so no in-process memo helps either side), the median of several runs of:
- reference: PyYAML ``CSafeLoader`` merely loading every schedule file;
- cold: ``schedsync validate`` with an empty cache;
- warm: ``schedsync validate`` after one file changed (cache of the other 99 files valid).
Prints both ratios the issue sets: cold / reference (target <= 1.5) and warm / cold
(target <= 0.15).
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = """\
version: 1
projects:
  shop:
    timezone: Europe/Berlin
    min_interval: 1m
    schedulers:
      apscheduler:
        type: apscheduler
        jobstore: sqlalchemy
        url: sqlite:///.schedsync/shop-jobs.sqlite
      celery-beat:
        type: celery-beat
        store: django-celery-beat
        url: sqlite:///.schedsync/shop-beat.sqlite
"""

# Each child prints the CPU seconds of the measured work only (imports excluded), so
# both sides are timed the same way: reading the files and everything after.
REFERENCE = """\
import sys, time, yaml
from pathlib import Path
start = time.process_time()
for path in sorted(Path(sys.argv[1]).glob("schedules/*/*.yaml")):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
print(time.process_time() - start)
"""
VALIDATE = """\
import sys, time
from pathlib import Path
from schedsync.engine.report import Summary, render
from schedsync.engine.repository import load_repository
start = time.process_time()
repo = load_repository(Path(sys.argv[1]))
items = repo.diagnostics.sorted()
render(items, "text", Summary(len(repo.file_hashes), sum(map(len, repo.schedules.values()))))
print(time.process_time() - start)
assert not repo.diagnostics.has_errors, items[:3]
"""


def schedule_yaml(rng: random.Random, file_no: int, i: int) -> str:
    """One schedule of ~400 bytes, mixing trigger types as real repositories do."""
    name = f"job.f{file_no:03d}-{i:04d}"
    scheduler = "apscheduler" if i % 2 else "celery-beat"
    kind = rng.random()
    if kind < 0.8:
        trigger = (
            f'trigger_type: cron\n    trigger: {{minute: "{rng.randint(0, 59)}", '
            f'hour: "{rng.choice(["*", str(rng.randint(0, 23)), "9-17", "*/2"])}", '
            f'day_of_week: "{rng.choice(["*", "mon-fri", "1", "sat,sun"])}"}}'
        )
    else:
        trigger = (
            f"trigger_type: interval\n    trigger: {{every: {rng.randint(1, 120)}, "
            f"period: {rng.choice(['minutes', 'hours'])}}}"
        )
    return (
        f"  # {name}: generated for the benchmark\n"
        f"  - name: {name}\n"
        f"    scheduler: {scheduler}\n"
        f"    {trigger}\n"
        f"    task: shop.tasks.job_{i % 17}\n"
        f'    args: [{rng.randint(1, 1000)}, "batch"]\n'
        f"    kwargs: {{customer_id: {rng.randint(1, 10**6)}, locale: en-US, dry_run: false}}\n"
        f"    enabled: {str(rng.random() > 0.1).lower()}\n"
        f"    queue: {rng.choice(['default', 'reports', 'email'])}\n"
        f"    description: A generated schedule that runs job {i % 17} for file {file_no}\n"
    )


def generate(root: Path, schedules: int, files: int) -> None:
    rng = random.Random(42)
    (root / "schedsync.yaml").write_text(CONFIG)
    folder = root / "schedules" / "shop"
    folder.mkdir(parents=True)
    per_file = schedules // files
    for file_no in range(files):
        body = "".join(schedule_yaml(rng, file_no, i) for i in range(per_file))
        (folder / f"part-{file_no:03d}.yaml").write_text("schedules:\n" + body)


def timed(command: list[str]) -> tuple[float, float, float]:
    """One run of ``command`` in a fresh process: (work CPU s as the child reports it,
    whole-process CPU s, whole-process wall s).

    CPU time is what the ratios use: on a shared machine wall time mostly measures
    the neighbours.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{command} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    try:
        work = float(done.stdout.split()[-1])
    except (IndexError, ValueError):  # the CLI prints its report, not a figure
        work = cpu
    return work, cpu, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="schedsync-bench-") as folder:
        root = Path(folder)
        generate(root, args.schedules, args.files)
        validate = [python, "-c", VALIDATE, str(root)]
        command = [python, "-m", "schedsync", "--repo", str(root), "validate"]
        changed = root / "schedules" / "shop" / "part-000.yaml"
        original = changed.read_text()
        reference, cold, warm, cli_cold, cli_warm = [], [], [], [], []
        for run in range(args.runs):
            reference.append(timed([python, "-c", REFERENCE, str(root)]))
            for program, cold_runs, warm_runs in (
                (validate, cold, warm),
                (command, cli_cold, cli_warm),
            ):
                shutil.rmtree(root / ".schedsync", ignore_errors=True)
                cold_runs.append(timed(program))
                # One edited schedule in one file: a new content hash for that file only.
                edit = f"Edit {run}-{len(warm_runs)} of a generated"
                changed.write_text(original.replace("A generated", edit, 1))
                warm_runs.append(timed(program))
    print(
        f"{args.schedules} schedules in {args.files} files, median of {args.runs} runs, "
        "each in a fresh process"
    )
    print(f"{'':46}{'work CPU s':>11}{'process CPU s':>15}{'wall s':>8}")
    rows = (
        ("reference: PyYAML CSafeLoader, load only", reference),
        ("validate, cold (empty cache)", cold),
        ("validate, warm (one file changed)", warm),
        ("`schedsync validate` command, cold", cli_cold),
        ("`schedsync validate` command, warm", cli_warm),
    )
    medians = []
    for label, samples in rows:
        work, cpu, wall = (statistics.median(s[i] for s in samples) for i in range(3))
        medians.append(work)
        shown = f"{work:11.3f}" if samples not in (cli_cold, cli_warm) else f"{'':11}"
        print(f"  {label:44}{shown}{cpu:15.3f}{wall:8.3f}")
    ref, c, w = medians[:3]
    print("Ratios of the work CPU time (reading the files and everything after; the")
    print("interpreter and import start-up, ~0.4 s CPU for validate, is excluded on both sides):")
    print(f"cold / reference = {c / ref:.2f}  (target <= 1.5)")
    print(f"warm / cold      = {w / c:.3f}  (target <= 0.15)")


if __name__ == "__main__":
    main()

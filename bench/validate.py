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

REFERENCE = """\
import sys, yaml
from pathlib import Path
for path in sorted(Path(sys.argv[1]).glob("schedules/*/*.yaml")):
    yaml.load(path.read_bytes(), Loader=yaml.CSafeLoader)
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
        f"    args: [{rng.randint(1, 1000)}, \"batch\"]\n"
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


def timed(command: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command`` in a fresh process.

    CPU time (user + system of the child) is the figure the ratios use: on a shared
    machine wall time mostly measures the neighbours.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{command} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


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
        validate = [python, "-m", "schedsync", "--repo", str(root), "validate"]
        changed = root / "schedules" / "shop" / "part-000.yaml"
        original = changed.read_text()
        reference, cold, warm = [], [], []
        for run in range(args.runs):
            reference.append(timed([python, "-c", REFERENCE, str(root)]))
            shutil.rmtree(root / ".schedsync", ignore_errors=True)
            cold.append(timed(validate))
            # One edited schedule in one file: a new content hash for that file only.
            changed.write_text(original.replace("A generated", f"Edit {run} of a generated", 1))
            warm.append(timed(validate))
    print(f"{args.schedules} schedules in {args.files} files, median of {args.runs} runs "
          "(each in a fresh process)")
    print(f"{'':44}{'CPU s':>8}{'wall s':>8}")
    rows = (("reference: PyYAML CSafeLoader, load only", reference),
            ("cold validate (empty cache)", cold), ("warm validate (one file changed)", warm))
    medians = {}
    for label, samples in rows:
        cpu = statistics.median(s[1] for s in samples)
        wall = statistics.median(s[0] for s in samples)
        medians[label] = cpu
        print(f"  {label:42}{cpu:8.3f}{wall:8.3f}")
    ref, c, w = medians.values()
    print(f"cold / reference = {c / ref:.2f}  (target <= 1.5, CPU time)")
    print(f"warm / cold      = {w / c:.3f}  (target <= 0.15, CPU time)")


if __name__ == "__main__":
    main()

"""Synthetic schedule repositories for the benchmarks (not a benchmark itself)."""

from __future__ import annotations

import random
from pathlib import Path

PER_FILE = 100


def write_repo(root: Path, count: int, *, store_url: str = "sqlite:///.schedsync/jobs.sqlite",
               seed: int = 7) -> Path:
    """``count`` APScheduler schedules in files of 100 under project ``bench``."""
    rng = random.Random(seed)
    (root / "schedules" / "bench").mkdir(parents=True, exist_ok=True)
    (root / "schedsync.yaml").write_text(
        "version: 1\n"
        "state: .schedsync/state.db\n"
        "projects:\n"
        "  bench:\n"
        "    timezone: Europe/Berlin\n"
        "    schedulers:\n"
        "      aps:\n"
        "        type: apscheduler\n"
        "        jobstore: sqlalchemy\n"
        f"        url: {store_url}\n"
    )
    for start in range(0, count, PER_FILE):
        lines = ["# generated for the benchmarks\nschedules:\n"]
        for i in range(start, min(start + PER_FILE, count)):
            lines.append(_entry(i, rng))
        (root / "schedules" / "bench" / f"file{start // PER_FILE:05d}.yaml").write_text(
            "".join(lines))
    return root


def _entry(i: int, rng: random.Random) -> str:
    if i % 3:
        trigger = (f"    trigger_type: cron\n    trigger: {{minute: \"{rng.randrange(60)}\", "
                   f"hour: \"{rng.randrange(24)}\", day_of_week: \"mon-fri\"}}\n")
    else:
        trigger = (f"    trigger_type: interval\n    trigger: {{every: {rng.randrange(1, 90)}, "
                   "period: minutes}\n")
    return (
        f"  - name: job.{i:06d}\n"
        "    scheduler: aps\n"
        f"{trigger}"
        "    task: schedsync.demo_tasks:heartbeat\n"
        f"    args: [{i}]\n"
        f"    kwargs: {{batch: \"b{i % 17}\", retries: {i % 4}}}\n"
        "    description: generated\n"
    )

"""A schedule repository for tests and ``stress/``: ``schedsync.yaml``, schedule files,
a ``.gitignore`` of the state folder, all in one git commit.

Importable as ``repo_builder`` wherever ``tests/`` is on ``sys.path`` (pytest puts it
there for ``tests/conftest.py``; ``stress/`` adds it itself).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import git

EMAIL = textwrap.dedent("""\
    # Email jobs: reviewed by the growth team.
    schedules:
      - name: email.digest
        scheduler: aps
        trigger_type: cron
        trigger: {minute: "0", hour: "9", day_of_week: "1"}   # Mondays
        task: schedsync.demo_tasks:send_digest
        kwargs: {locale: en-US}
      - name: email.ping
        scheduler: aps
        trigger_type: interval
        trigger: {every: 5, period: minutes}
        task: schedsync.demo_tasks:heartbeat
    """)


# The scheduler most tests use: APScheduler's job store in the repository's state folder.
APS_SQLITE = {"type": "apscheduler", "jobstore": "sqlalchemy",
              "url": "sqlite:///.schedsync/jobs.sqlite"}


def acme_config(timezone: str = "Europe/Berlin", *, scheduler: str = "aps",
                settings: Mapping[str, str] = APS_SQLITE, min_interval: str | None = None
                ) -> str:
    """``schedsync.yaml`` of one project ``acme`` with one scheduler: ``settings`` are
    its keys, each value written as it is (quote what YAML must not read otherwise)."""
    lines = ["version: 1", "projects:", "  acme:", f"    timezone: {timezone}"]
    if min_interval:
        lines.append(f"    min_interval: {min_interval}")
    lines += ["    schedulers:", f"      {scheduler}:"]
    lines += [f"        {key}: {value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def build_repo(root: Path, config: str, files: Mapping[str, str | bytes] | None = None, *,
               commit: bool = True) -> Path:
    """Write ``config`` as ``schedsync.yaml`` and ``files`` (repository-relative paths;
    one named ``schedsync.yaml`` replaces ``config``) under ``root``, then commit them
    all as one git commit unless ``commit`` is false. Returns ``root``."""
    everything = {"schedsync.yaml": config, ".gitignore": ".schedsync/\n", **(files or {})}
    for rel, content in everything.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    if commit:
        with git.Repo.init(root) as repo:  # closed: no `git cat-file` outlives the caller
            repo.index.add(list(everything))
            actor = git.Actor("t", "t@example.com")
            repo.index.commit("schedules", author=actor, committer=actor)
    return root

"""A real git repository holding a schedule repository, built with GitPython."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

from schedsync.cli.main import main

NOW = "2026-12-01T06:00:00Z"  # a Tuesday; Berlin is on CET (UTC+1)

CONFIG = """\
version: 1
projects:
  acme:
    timezone: Europe/Berlin
    schedulers:
      celery-beat:
        type: celery-beat
        store: redbeat
        timezone: Europe/Berlin
        url: redis://127.0.0.1:6379/5
      apscheduler:
        type: apscheduler
        url: sqlite:///.schedsync/acme-jobs.sqlite
"""


@dataclass
class Result:
    code: int
    out: str
    err: str


class ScheduleRepo:
    """A schedule repository (optionally a subfolder) inside a real git repository."""

    def __init__(self, top: Path, sub: str = "") -> None:
        self.top = top
        self.root = top / sub if sub else top
        self.root.mkdir(parents=True, exist_ok=True)
        self.git = git.Repo.init(top, initial_branch="main")
        with self.git.config_writer() as config:
            config.set_value("user", "name", "Test")
            config.set_value("user", "email", "test@example.com")

    def write(self, path: str, text: str) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text))

    def _git_path(self, path: str) -> str:
        return (self.root / path).relative_to(self.top).as_posix()

    def remove(self, path: str) -> None:
        self.git.index.remove([self._git_path(path)], working_tree=True)

    def move(self, old: str, new: str) -> None:
        self.git.git.mv(self._git_path(old), self._git_path(new))

    def commit(self, message: str) -> str:
        self.git.git.add("--all")
        return str(self.git.index.commit(message).hexsha)

    def branch(self, name: str) -> None:
        self.git.create_head(name).checkout()

    def checkout(self, name: str) -> None:
        self.git.heads[name].checkout()

    def diff(self, capsys: pytest.CaptureFixture[str], *args: str) -> Result:
        """Run ``schedsync --repo ROOT diff ARGS --now NOW`` in-process."""
        argv = ["--repo", str(self.root), "diff", *args]
        if "--now" not in args:
            argv += ["--now", NOW]
        code = 0
        try:
            main(argv)
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

"""Fixtures: real git repositories for review tests, built in tmp_path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from review_repo import CONFIG, ScheduleRepo


@pytest.fixture
def schedule_repo(tmp_path: Path) -> Iterator[ScheduleRepo]:
    repo = ScheduleRepo(tmp_path / "repo")
    repo.write("schedsync.yaml", CONFIG)
    yield repo
    repo.git.close()


@pytest.fixture
def nested_repo(tmp_path: Path) -> Iterator[ScheduleRepo]:
    repo = ScheduleRepo(tmp_path / "mono", sub="ops/schedules-repo")
    repo.write("schedsync.yaml", CONFIG)
    repo.top.joinpath("README.md").write_text("a monorepo\n")
    yield repo
    repo.git.close()

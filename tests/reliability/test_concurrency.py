"""Concurrent API writers and concurrent applies lose nothing (issue 8; the long run is
``python -m stress concurrency``). Real ``schedsync serve`` and CLI processes, real git,
the APScheduler SQLite job store."""

from __future__ import annotations

from pathlib import Path

import pytest
from concurrency_support import Write, concurrent_writes, lost_updates, two_applies

pytestmark = pytest.mark.slow


def test_eight_writers_lose_no_update_and_make_one_commit_each(tmp_path: Path) -> None:
    check = concurrent_writes(tmp_path, writers=8, writes=5)
    assert check.attempted == 40
    assert check.succeeded == 40, check.refused
    assert check.new_commits == 40
    assert check.failures() == []


def test_two_applies_of_one_plan_apply_each_entry_once(tmp_path: Path) -> None:
    double = two_applies(tmp_path, schedules=300, wait=0.0, saved=True)
    assert sorted(run.outcome for run in double.runs)[0] == "applied", double.runs
    assert double.failures() == []
    assert double.live == 300


def test_the_lost_update_check_sees_a_stale_field() -> None:
    # The check above must be able to fail: a field left at an older write's value.
    older = Write(0, "patch", "hot.alpha", {"kwargs": {"seq": 1}}, commit="a", status=200)
    newer = Write(1, "patch", "hot.alpha", {"kwargs": {"seq": 2}}, commit="b", status=200)
    created = Write(1, "create", "w01.gone", {"enabled": True}, commit="c", status=201)
    final = {"hot.alpha": {"name": "hot.alpha", "kwargs": {"seq": 1}}}
    lost = lost_updates([newer, older, created], {"a": 0, "b": 1, "c": 2}, final)
    assert lost == [
        "w01.gone: created (commit c) but not in the YAML",
        "hot.alpha.kwargs: YAML has {'seq': 1}, last acknowledged write set {'seq': 2}",
    ]

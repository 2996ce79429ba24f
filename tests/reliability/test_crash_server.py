"""kill -9 of a real `schedsync serve` (its whole process group, git included) during
API writes; after a restart the YAML, git, the state file, the API and the live store
must agree, and writes must work again.

A kill during `git commit` used to leave `.git/index.lock` behind (every later write
failed) and the uncommitted YAML edit in the worktree (served as if it were committed);
the write journal (engine/write_journal.py) makes the restart undo both.
The long run is `python -m stress crash`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from crash_support import cli_in_process, crash, kill_server_mid_commit

pytestmark = pytest.mark.slow


@dataclass
class Killed:
    root: Path
    log: Path
    token: str
    base: str
    writes: crash.Writes


@pytest.fixture
def mid_commit(tmp_path_factory: pytest.TempPathFactory) -> Killed:
    """A server killed while `git commit` of its one write runs (a hook holds it)."""
    work = tmp_path_factory.mktemp("mid-commit")
    root = work / "repo"
    token = crash.seed_server_repo(root, cli_in_process)
    base = crash.run_git(root, "rev-parse", "HEAD").strip()
    writes = kill_server_mid_commit(root, work / "server.log", token)
    return Killed(root, work / "server.log", token, base, writes)


def test_after_a_kill_mid_commit_history_state_and_live_store_agree(mid_commit: Killed) -> None:
    root = mid_commit.root
    commits, history = crash.check_history(root, mid_commit.base)
    assert (commits, history) == (0, [])  # the cut-off commit did not land half-made
    found = crash.check_live_and_state(root, cli_in_process)
    assert found == []


def test_writes_work_again_after_a_kill_mid_commit(mid_commit: Killed) -> None:
    problems = crash.check_restarted(mid_commit.root, mid_commit.log, mid_commit.token,
                                     mid_commit.writes)
    assert problems == []
    assert not (mid_commit.root / ".git" / "index.lock").exists()


def test_an_interrupted_write_leaves_no_uncommitted_yaml(mid_commit: Killed) -> None:
    left = {category for category, _ in crash.check_worktree(mid_commit.root)}
    assert left == {crash.INDEX_LOCK, crash.DIRTY}  # what the kill left for the restart
    server = crash.ServerProcess(mid_commit.root, mid_commit.log)  # the restart recovers
    server.stop()
    assert crash.check_worktree(mid_commit.root) == []


def test_random_kill_during_a_stream_of_writes(tmp_path: Path) -> None:
    trial = crash.server_trial(tmp_path, random.Random(3), cli=cli_in_process)
    assert trial.in_flight_at_kill > 0, trial
    assert trial.commits > 0, trial
    assert trial.disagreements == [], trial

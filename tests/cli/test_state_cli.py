"""`schedsync state check` and `schedsync state unlock` on a real SQLite state file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from repo_builder import acme_config, build_repo
from schedsync.cli.main import cli
from schedsync.engine.state import StateStore

CONFIG = acme_config()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_repo(tmp_path, CONFIG, {"schedules/acme/a.yaml": "schedules: []\n"},
                      commit=False)


def run(repo: Path, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--repo", str(repo), "state", *args], input=stdin,
                              catch_exceptions=False)


def state(repo: Path) -> StateStore:
    return StateStore.open(".schedsync/state.db", repo)


def stale_lock(repo: Path) -> None:
    """An apply that took the lock and was killed with SIGKILL before releasing it."""
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from schedsync.engine.state import StateStore
        store = StateStore.open(".schedsync/state.db", Path({str(repo)!r}))
        held = store.lock("apply crashed")  # kept referenced: collecting it would release
        held.__enter__()
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", code], check=False)
    assert done.returncode == -9


def lock_holder(repo: Path) -> str | None:
    with sqlite3.connect(repo / ".schedsync" / "state.db") as conn:
        row = conn.execute("SELECT holder FROM schedsync_apply_lock").fetchone()
    return None if row is None else str(row[0])


def test_a_healthy_state_passes(repo: Path) -> None:
    result = run(repo, "check")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"State {repo / '.schedsync' / 'state.db'}: OK"
    assert lines[1].startswith("  checked: database file")
    assert lines[-1] == "Apply lock: free"


def test_json_output(repo: Path) -> None:
    result = run(repo, "check", "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["ok"] is True
    assert data["problems"] == []
    assert data["apply_lock"] is None
    assert "one schedule per live entry" in data["checked"]


def test_dangling_and_shared_bindings_fail_the_check(repo: Path) -> None:
    with state(repo) as store:
        store.record_applied("acme", "aps", "a.one", "a.one", {"name": "a.one"})
        store.record_applied("acme", "aps", "a.two", "a.one", {"name": "a.two"})
    with sqlite3.connect(repo / ".schedsync" / "state.db") as conn:
        conn.execute("INSERT INTO schedsync_bindings VALUES "
                     "('no-such-id', 'aps', 'ghost', '{}', 1, '2026-01-01T00:00:00', NULL)")
    result = run(repo, "check")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines()[0].endswith(": 3 problem(s)")
    assert "  - schedsync_bindings: schedule 'no-such-id' does not exist" in result.output
    assert ("  - schedsync_bindings: live entry 'a.one' of acme/aps is bound to 2 schedules"
            in result.output)
    data = json.loads(run(repo, "check", "--format", "json").output)
    assert data["ok"] is False
    assert len(data["problems"]) == 3


def test_a_file_that_is_not_a_state_is_an_error_without_traceback(repo: Path) -> None:
    (repo / ".schedsync").mkdir()
    (repo / ".schedsync" / "state.db").write_bytes(b"this is not sqlite" * 100)
    done = subprocess.run([sys.executable, "-m", "schedsync", "--repo", str(repo), "state",
                           "check"], capture_output=True, text=True, check=False)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("Error: state ")
    assert "Traceback" not in done.stderr


def test_a_crashed_apply_lock_is_reported_but_passes(repo: Path) -> None:
    stale_lock(repo)
    result = run(repo, "check")
    assert result.exit_code == 0, result.output
    assert "Apply lock: held by 'apply crashed'" in result.output
    assert "that process has ended, so the lock is stale" in result.output


def test_unlock_when_free(repo: Path) -> None:
    result = run(repo, "unlock")
    assert result.exit_code == 0
    assert result.output == "The apply lock is free; nothing to do.\n"


def test_unlock_a_stale_lock_after_yes(repo: Path) -> None:
    stale_lock(repo)
    refused = run(repo, "unlock", stdin="n\n")
    assert refused.exit_code == 1
    assert "the apply lock was left as it is" in refused.output
    assert lock_holder(repo) == "apply crashed"
    no_answer = run(repo, "unlock", stdin="")
    assert no_answer.exit_code == 1
    assert "pass --force" in no_answer.output
    assert lock_holder(repo) == "apply crashed"
    broken = run(repo, "unlock", stdin="y\n")
    assert broken.exit_code == 0, broken.output
    assert "Broke the apply lock of 'apply crashed'" in broken.output
    assert lock_holder(repo) is None


def test_a_running_holder_is_kept_unless_forced(repo: Path) -> None:
    with state(repo) as store, store.lock("apply in this test"):
        refused = run(repo, "unlock", stdin="y\n")
        assert refused.exit_code == 1
        assert f"pid {os.getpid()} still runs on this host" in refused.output
        assert lock_holder(repo) == "apply in this test"
        forced = run(repo, "unlock", "--force")
        assert forced.exit_code == 0, forced.output
        assert lock_holder(repo) is None


def test_state_commands_work_when_the_yaml_is_broken(repo: Path) -> None:
    (repo / "schedules" / "acme" / "a.yaml").write_text("schedules: [\n")
    assert run(repo, "check").exit_code == 0


def test_state_commands_work_before_the_first_schedule_file(tmp_path: Path) -> None:
    # A fresh repository, schedsync.yaml and nothing else: the state needs no more.
    root = build_repo(tmp_path, CONFIG, commit=False)
    checked = run(root, "check")
    assert checked.exit_code == 0, checked.output
    assert checked.output.splitlines()[0] == f"State {root / '.schedsync' / 'state.db'}: OK"
    assert run(root, "unlock").output == "The apply lock is free; nothing to do.\n"
    stale_lock(root)
    broken = run(root, "unlock", stdin="y\n")
    assert broken.exit_code == 0, broken.output
    assert lock_holder(root) is None


def set_lock(repo: Path, **values: str) -> None:
    with sqlite3.connect(repo / ".schedsync" / "state.db") as conn:
        for column, value in values.items():
            conn.execute(f"UPDATE schedsync_apply_lock SET {column} = ?", (value,))


def test_a_lock_from_another_host_is_described_and_needs_a_yes(repo: Path) -> None:
    stale_lock(repo)
    set_lock(repo, host="gone-host")
    checked = run(repo, "check")
    assert "(pid " in checked.output
    assert "on gone-host) since" in checked.output
    assert "that host cannot be checked from here" in checked.output
    assert run(repo, "unlock", stdin="n\n").exit_code == 1
    assert lock_holder(repo) == "apply crashed"
    assert run(repo, "unlock", stdin="y\n").exit_code == 0
    assert lock_holder(repo) is None


def test_a_lock_older_than_its_ttl_is_stale(repo: Path) -> None:
    stale_lock(repo)
    set_lock(repo, host="gone-host", acquired_at="2026-01-01T00:00:00.000000Z")
    checked = run(repo, "check")
    assert checked.exit_code == 0
    assert "it is older than 1:00:00, so it is stale (the next apply breaks it)" in checked.output

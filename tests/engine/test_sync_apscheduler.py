"""plan / apply / import / resync end to end on a real APScheduler SQLite job store,
through the CLI, on a real git repository."""

from __future__ import annotations

import json
import os
import pickle
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import git
import pytest
from click.testing import CliRunner, Result

from repo_builder import EMAIL, acme_config, build_repo
from schedsync.cli.main import cli


def run(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--repo", str(repo), "--no-color", *args],
                              catch_exceptions=False)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return build_repo(tmp_path, acme_config(), {"schedules/acme/email.yaml": EMAIL})


def jobs(repo: Path) -> dict[str, dict[str, Any]]:
    """The job store's rows, read the way APScheduler stores them."""
    with sqlite3.connect(repo / ".schedsync" / "jobs.sqlite") as conn:
        if not conn.execute("SELECT name FROM sqlite_master WHERE name = 'apscheduler_jobs'"
                            ).fetchone():
            return {}
        rows = conn.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs")
        return {key: {**pickle.loads(state), "row_next": nrt} for key, nrt, state in rows}


def plan_json(repo: Path, *args: str) -> dict[str, Any]:
    result = run(repo, "plan", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def changes(data: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["name"], c["action"], c["origin"]) for g in data["groups"] for c in g["changes"]
            if c["action"] != "no-op"]


def test_apply_creates_jobs_and_then_there_is_nothing_to_do(repo: Path) -> None:
    first = run(repo, "plan", "--detailed-exitcode")
    assert first.exit_code == 2, first.output
    assert "+ email.digest" in first.output
    applied = run(repo, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 2 applied, 0 failed" in applied.output
    live = jobs(repo)
    assert set(live) == {"email.digest", "email.ping"}
    assert live["email.digest"]["func"] == "schedsync.demo_tasks:send_digest"
    assert live["email.digest"]["kwargs"] == {"locale": "en-US"}
    # day_of_week "1" is Monday in cron: the real trigger's next run is a Monday.
    assert live["email.digest"]["next_run_time"].weekday() == 0
    again = run(repo, "plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.output


def test_repo_edit_updates_and_disable_pauses(repo: Path) -> None:
    assert run(repo, "apply", "--auto-approve").exit_code == 0
    path = repo / "schedules" / "acme" / "email.yaml"
    path.write_text(path.read_text().replace('hour: "9"', 'hour: "10"').replace(
        "period: minutes}", "period: minutes}\n    enabled: false"))
    assert sorted(changes(plan_json(repo))) == [("email.digest", "update", "repo"),
                                                ("email.ping", "disable", "repo")]
    assert run(repo, "apply", "--auto-approve").exit_code == 0
    live = jobs(repo)
    assert str(live["email.digest"]["trigger"].fields[5]) == "10"  # hour
    assert live["email.ping"]["next_run_time"] is None
    assert live["email.ping"]["row_next"] is None


def _live_kwargs(repo: Path, key: str, kwargs: dict[str, Any]) -> None:
    """A hand edit in the live store: the job's kwargs changed behind schedsync's back."""
    with sqlite3.connect(repo / ".schedsync" / "jobs.sqlite") as conn:
        state = pickle.loads(conn.execute(
            "SELECT job_state FROM apscheduler_jobs WHERE id = ?", (key,)).fetchone()[0])
        state["kwargs"] = kwargs
        conn.execute("UPDATE apscheduler_jobs SET job_state = ? WHERE id = ?",
                     (pickle.dumps(state), key))


def test_live_edit_is_drift_with_origin_live_and_resync_repairs_it(repo: Path) -> None:
    assert run(repo, "apply", "--auto-approve").exit_code == 0
    _live_kwargs(repo, "email.digest", {"locale": "de-DE"})
    data = plan_json(repo)
    assert changes(data) == [("email.digest", "update", "live")]
    field = data["groups"][0]["changes"][0]["fields"][0]
    assert field == {"path": "kwargs.locale", "repo": "en-US", "live": "de-DE", "base": "en-US"}
    fixed = run(repo, "resync", "--project", "acme", "--direction", "repo_to_scheduler")
    assert fixed.exit_code == 0, fixed.output
    assert jobs(repo)["email.digest"]["kwargs"] == {"locale": "en-US"}
    assert changes(plan_json(repo)) == []


def test_scheduler_to_repo_writes_the_live_value_into_the_yaml(repo: Path) -> None:
    assert run(repo, "apply", "--auto-approve").exit_code == 0
    _live_kwargs(repo, "email.digest", {"locale": "de-DE"})
    before = (repo / "schedules" / "acme" / "email.yaml").read_text()
    result = run(repo, "resync", "--project", "acme", "--direction", "scheduler_to_repo")
    assert result.exit_code == 0, result.output
    after = (repo / "schedules" / "acme" / "email.yaml").read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True)
               if a != b]
    assert len(changed) == 1, changed
    assert "de-DE" in changed[0][1]
    assert changes(plan_json(repo)) == []
    head = git.Repo(repo).head.commit
    assert head.message.startswith("schedsync resync")


def test_import_adopts_live_jobs_into_yaml_with_one_commit(repo: Path) -> None:
    assert run(repo, "apply", "--auto-approve").exit_code == 0
    with sqlite3.connect(repo / ".schedsync" / "jobs.sqlite") as conn:
        blob = conn.execute(
            "SELECT job_state FROM apscheduler_jobs WHERE id = 'email.ping'").fetchone()[0]
        state = pickle.loads(blob)
        state["id"], state["name"] = "reports.weekly", "reports.weekly"
        conn.execute("INSERT INTO apscheduler_jobs VALUES ('reports.weekly', NULL, ?)",
                     (pickle.dumps(state),))
    commits = len(list(git.Repo(repo).iter_commits()))
    result = run(repo, "import", "--project", "acme")
    assert result.exit_code == 0, result.output
    assert "+ reports.weekly" in result.output
    written = (repo / "schedules" / "acme" / "reports.yaml").read_text()
    assert "name: reports.weekly" in written
    assert len(list(git.Repo(repo).iter_commits())) == commits + 1
    assert run(repo, "validate").exit_code == 0
    assert changes(plan_json(repo)) == []


def _foreign_job(repo: Path, tmp_path: Path) -> bytes:
    """A job added by the user's own app, whose module schedsync cannot import."""
    pkg = tmp_path / "userapp"
    pkg.mkdir()
    (pkg / "usertasks.py").write_text("def work():\n    return 1\n")
    code = textwrap.dedent(f"""
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler
        store = SQLAlchemyJobStore(url="sqlite:///{repo}/.schedsync/jobs.sqlite")
        s = BackgroundScheduler(jobstores={{"default": store}})
        s.add_job("usertasks:work", "interval", hours=1, id="user.own")
        s.start(paused=True)
        s.shutdown(wait=False)
    """)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=pkg,
                   env={**os.environ, "PYTHONPATH": str(pkg)})
    with sqlite3.connect(repo / ".schedsync" / "jobs.sqlite") as conn:
        row = conn.execute("SELECT job_state FROM apscheduler_jobs WHERE id = 'user.own'")
        blob: bytes = row.fetchone()[0]
    return blob


def test_a_job_schedsync_cannot_import_survives_every_command(repo: Path,
                                                              tmp_path: Path) -> None:
    assert run(repo, "apply", "--auto-approve").exit_code == 0
    blob = _foreign_job(repo, tmp_path)
    (repo / "schedules" / "acme" / "email.yaml").write_text(
        EMAIL.split("  - name: email.ping")[0])
    for args in (["plan"], ["apply", "--auto-approve", "--prune"],
                 ["resync", "--project", "acme", "--direction", "repo_to_scheduler", "--prune"],
                 ["import", "--project", "acme", "--dry-run"]):
        result = run(repo, *args)
        assert result.exit_code == 0, (args, result.output)
        assert jobs(repo)["user.own"] is not None
        with sqlite3.connect(repo / ".schedsync" / "jobs.sqlite") as conn:
            now = conn.execute(
                "SELECT job_state FROM apscheduler_jobs WHERE id = 'user.own'").fetchone()[0]
        assert now == blob, args
    assert "email.ping" not in jobs(repo)  # prune removed the managed one only


def test_a_saved_plan_goes_stale_when_the_state_moves(repo: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert run(repo, "plan", "--out", str(saved)).exit_code == 0
    assert run(repo, "apply", "--auto-approve").exit_code == 0
    stale = CliRunner().invoke(cli, ["--repo", str(repo), "apply", str(saved)])
    assert stale.exit_code == 1
    assert "stale" in stale.output
    fresh = tmp_path / "fresh.json"
    path = repo / "schedules" / "acme" / "email.yaml"
    path.write_text(path.read_text().replace('hour: "9"', 'hour: "11"'))
    assert run(repo, "plan", "--out", str(fresh)).exit_code == 0
    applied = run(repo, "apply", str(fresh))
    assert applied.exit_code == 0, applied.output
    assert str(jobs(repo)["email.digest"]["trigger"].fields[5]) == "11"


def test_a_foreign_plan_is_refused(repo: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert run(repo, "plan", "--out", str(saved)).exit_code == 0
    data = json.loads(saved.read_text())
    data["state_lineage"] = "00000000-0000-0000-0000-000000000000"
    saved.write_text(json.dumps(data))
    refused = CliRunner().invoke(cli, ["--repo", str(repo), "apply", str(saved)])
    assert refused.exit_code == 1
    assert "different state file" in refused.output
    assert jobs(repo) == {}


def _many(repo: Path, count: int) -> None:
    lines = ["schedules:\n"]
    for i in range(count):
        lines.append(f"  - name: bulk.{i:04d}\n    scheduler: aps\n    trigger_type: cron\n"
                     f"    trigger: \"{i % 60} {i % 24} * * *\"\n"
                     "    task: schedsync.demo_tasks:heartbeat\n")
    (repo / "schedules" / "acme" / "bulk.yaml").write_text("".join(lines))


def test_kill_9_during_apply_then_apply_converges(repo: Path) -> None:
    _many(repo, 500)
    rng = random.Random(3)
    for _ in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "schedsync", "--repo", str(repo), "apply", "--auto-approve"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = run(repo, "apply", "--auto-approve", "--wait", "5")
        assert result.exit_code == 0, result.output
        live = jobs(repo)
        assert len(live) == 502
        assert changes(plan_json(repo)) == []
        with sqlite3.connect(repo / ".schedsync" / "jobs.sqlite") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        from schedsync.engine.state import StateStore

        state = StateStore.open(".schedsync/state.db", repo)
        try:
            assert state.check_integrity() == []
            assert len(state.bindings("acme", "aps")) == 502
        finally:
            state.close()
        # Start over for the next trial: delete the bulk jobs through schedsync itself.
        (repo / "schedules" / "acme" / "bulk.yaml").write_text("schedules: []\n")
        assert run(repo, "apply", "--auto-approve", "--prune").exit_code == 0
        assert len(jobs(repo)) == 2
        _many(repo, 500)


def test_a_large_apply_lands_in_growing_batches_each_recorded(repo: Path) -> None:
    _many(repo, 1500)  # 1000 then 502: identity rows made up front, two store commits
    (repo / "schedules" / "acme" / "bulk.yaml").write_text(
        (repo / "schedules" / "acme" / "bulk.yaml").read_text().replace(
            "name: bulk.0007\n", "name: bulk.0007\n    enabled: false\n"))
    applied = run(repo, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "1502 applied, 0 failed" in applied.output
    live = jobs(repo)
    assert len(live) == 1502
    assert live["bulk.0007"]["next_run_time"] is None
    assert live["bulk.1499"]["next_run_time"] is not None
    assert changes(plan_json(repo)) == []
    from schedsync.engine.state import StateStore

    state = StateStore.open(".schedsync/state.db", repo)
    try:
        assert state.check_integrity() == []
        bound = state.bindings("acme", "aps")
        assert len(bound) == 1502
        assert bound["bulk.1499"].base_spec is not None
    finally:
        state.close()

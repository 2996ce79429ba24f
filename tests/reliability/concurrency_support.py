"""Concurrent API writers and concurrent applies against real processes (issue 8).

Shared by ``tests/reliability/test_concurrency.py`` (short runs) and
``stress/concurrency.py`` (the long run that prints figures): a real git repository with
the APScheduler SQLite job store, a real ``schedsync serve`` (uvicorn) process, real
``schedsync`` CLI processes. Nothing is faked; every check reads the outcome from git,
the YAML files, the state file and the live job store.
"""

from __future__ import annotations

import os
import random
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git
import httpx
import yaml

from repo_builder import acme_config, build_repo
from server_process import ServerProcess

PROJECT = "acme"
BASE = f"/api/v1/projects/{PROJECT}/schedules"
TASK = "schedsync.demo_tasks:heartbeat"
HOT = ("hot.alpha", "hot.beta")  # schedules every writer patches: same schedule, same file
CONFIG = acme_config("UTC")


def cli(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``schedsync --repo ROOT ARGS`` in a real process (no terminal: no prompts)."""
    env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "schedsync", "--repo", str(root), *args],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL,
    )


def crashed(proc: subprocess.CompletedProcess[str]) -> bool:
    """A traceback on screen, or the CLI's bug exit (3, traceback in a log file)."""
    return proc.returncode == 3 or "Traceback" in proc.stdout + proc.stderr


# -- the repository ---------------------------------------------------------------------


def schedule_yaml(name: str, minute: int, extra: str = "") -> str:
    return (f"  - name: {name}\n    scheduler: aps\n    trigger_type: cron\n"
            f"    trigger: {{minute: \"{minute}\", hour: \"6\"}}\n    task: {TASK}\n{extra}")


def writers_repo(root: Path) -> Path:
    """Two hot schedules in ``hot.yaml`` and one in ``shared.yaml``, applied live."""
    hot = "schedules:\n" + "".join(schedule_yaml(n, i) for i, n in enumerate(HOT))
    shared = "# Writers append here too.\nschedules:\n" + schedule_yaml("shared.seed", 5)
    build_repo(root, CONFIG, {f"schedules/{PROJECT}/hot.yaml": hot,
                              f"schedules/{PROJECT}/shared.yaml": shared})
    applied = cli(root, "apply", "--auto-approve")
    if applied.returncode != 0:
        raise RuntimeError(f"initial apply failed: {applied.stdout}{applied.stderr}")
    return root


def make_token(root: Path, user: str = "writer") -> str:
    from schedsync.engine.state import StateStore

    store = StateStore.open(".schedsync/state.db", root)
    try:
        store.upsert_user(user, email=f"{user}@example.com", roles={PROJECT: "admin"})
        return store.create_token(user)
    finally:
        store.close()


# -- the writers ------------------------------------------------------------------------


@dataclass
class Write:
    """One API write and what it set: ``fields`` maps a field to the value it wrote."""

    writer: int
    kind: str  # create | patch | enable | disable
    name: str
    fields: dict[str, Any]
    sent: float = 0.0
    acked: float = 0.0
    status: int = 0
    commit: str | None = None
    sync: str | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)


@dataclass
class _Own:
    """A schedule one writer created: only that writer touches it, so its order is the
    writer's own sequence."""

    name: str
    id: str
    enabled: bool = True


class Writer:
    """One thread's sequence: creates (own file or the shared file), PATCHes of its own
    and of the hot schedules, enable/disable of its own schedules."""

    def __init__(self, index: int, writes: int, server: ServerProcess, hot_ids: dict[str, str],
                 seed: int) -> None:
        self.index = index
        self.count = writes
        self.server = server
        self.hot_ids = hot_ids
        self.random = random.Random(seed * 1000 + index)
        self.own: list[_Own] = []
        self.done: list[Write] = []

    def run(self) -> None:
        with self.server.client() as client:
            for seq in range(self.count):
                self.done.append(self._one(client, seq))

    def _one(self, client: httpx.Client, seq: int) -> Write:
        kind = self._pick(seq)
        if kind == "create":
            return self._create(client, seq)
        if kind == "toggle":
            return self._toggle(client)
        if kind == "patch-hot":
            name = self.random.choice(HOT)
            return self._patch(client, name, self.hot_ids[name], seq)
        target = self.random.choice(self.own)
        return self._patch(client, target.name, target.id, seq)

    def _pick(self, seq: int) -> str:
        if not self.own or seq % 5 == 0:
            return "create"
        return self.random.choice(("patch-own", "patch-hot", "toggle", "patch-hot"))

    def _value(self, seq: int) -> dict[str, Any]:
        return {"kwargs": {"writer": self.index, "seq": seq},
                "trigger": {"minute": str((self.index * 7 + seq) % 60), "hour": "6"}}

    def _create(self, client: httpx.Client, seq: int) -> Write:
        # Alternate between the writer's own file and the file every writer appends to.
        in_shared = len(self.own) % 2 == 1
        name = f"{'shared' if in_shared else f'w{self.index:02d}'}.w{self.index:02d}c{seq:03d}"
        values = self._value(seq)
        body: dict[str, Any] = {"name": name, "scheduler": "aps", "trigger_type": "cron",
                                "task": TASK, **values}
        if in_shared:
            body["file"] = "shared.yaml"
        write = Write(self.index, "create", name, {**values, "enabled": True})
        response = self._send(client, write, "POST", BASE, body)
        if write.ok:
            self.own.append(_Own(name, response.json()["id"]))
        return write

    def _patch(self, client: httpx.Client, name: str, sid: str, seq: int) -> Write:
        values = self._value(seq)
        body = {key: values[key] for key in self.random.choice((("kwargs",), ("trigger",),
                                                                ("kwargs", "trigger")))}
        write = Write(self.index, "patch", name, body)
        self._send(client, write, "PATCH", f"{BASE}/{sid}", body)
        return write

    def _toggle(self, client: httpx.Client) -> Write:
        target = self.random.choice(self.own)
        action = "enable" if not target.enabled else "disable"
        write = Write(self.index, action, target.name, {"enabled": not target.enabled})
        self._send(client, write, "POST", f"{BASE}/{target.id}/{action}", None)
        if write.ok:
            target.enabled = not target.enabled
        return write

    def _send(self, client: httpx.Client, write: Write, method: str, path: str,
              body: dict[str, Any] | None) -> httpx.Response:
        write.sent = time.monotonic()
        try:
            response = client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            write.acked = time.monotonic()
            write.error = f"{type(exc).__name__}: {exc}"
            return httpx.Response(599)
        write.acked = time.monotonic()
        write.status = response.status_code
        write.commit = response.headers.get("x-schedsync-commit")
        if write.ok:
            write.sync = response.json().get("sync", {}).get("status")
        else:
            write.error = response.text[:300]
        return response


def hot_ids(server: ServerProcess) -> dict[str, str]:
    with server.client() as client:
        items = client.get(BASE, params={"limit": 500}).json()["items"]
    return {item["name"]: item["id"] for item in items if item["name"] in HOT}


def run_writers(servers: list[ServerProcess], writers: int, writes: int, seed: int = 8
                ) -> tuple[list[Write], float]:
    """Every writer in its own thread, all started together, spread over ``servers``;
    returns the writes and the wall time."""
    ids = hot_ids(servers[0])
    team = [Writer(i, writes, servers[i % len(servers)], ids, seed) for i in range(writers)]
    threads = [threading.Thread(target=w.run, name=f"writer-{w.index}") for w in team]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [write for w in team for write in w.done], time.monotonic() - started


# -- the checks -------------------------------------------------------------------------


@dataclass
class WriteCheck:
    attempted: int = 0
    succeeded: int = 0
    refused: dict[int, int] = field(default_factory=dict)  # status -> count
    server_errors: int = 0  # 5xx or no answer
    sync_failed: int = 0
    new_commits: int = 0
    commitless: int = 0  # successful writes that named no commit
    unknown_commits: int = 0  # named commits not in the history
    shared_commits: int = 0  # two writes naming one commit
    nonlinear: int = 0  # merge commits
    lost: list[str] = field(default_factory=list)
    order_violations: int = 0
    validation_errors: int = 0
    validate_exit: int = 0
    integrity_problems: list[str] = field(default_factory=list)
    plan_exit: int = 0
    plan_output: str = ""
    live_mismatch: list[str] = field(default_factory=list)
    server_tracebacks: int = 0
    audit_missing: int = 0  # writes the state's audit log does not record as ok
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        return self.succeeded / self.seconds if self.seconds else 0.0

    def failures(self) -> list[str]:
        """Every way the run lost or corrupted something, in words (empty when sound)."""
        problems = [f"lost: {item}" for item in self.lost[:20]]
        checks = {
            "5xx or unanswered requests": self.server_errors,
            "successful writes without a commit": self.commitless,
            "commits named but absent from history": self.unknown_commits,
            "writes sharing one commit": self.shared_commits,
            "merge commits": self.nonlinear,
            "acknowledged writes committed out of order": self.order_violations,
            "validation errors": self.validation_errors,
            "live applies that failed": self.sync_failed,
            "tracebacks in the server log": self.server_tracebacks,
            "successful writes missing from the audit log": self.audit_missing,
        }
        problems += [f"{what}: {count}" for what, count in checks.items() if count]
        if self.new_commits != self.succeeded:
            problems.append(f"{self.new_commits} commits for {self.succeeded} successful writes")
        if self.validate_exit != 0:
            problems.append(f"schedsync validate exited {self.validate_exit}")
        problems += [f"state integrity: {p}" for p in self.integrity_problems]
        if self.plan_exit != 0:
            problems.append(f"plan shows changes (exit {self.plan_exit}): "
                            f"{self.plan_output[-500:]}")
        problems += [f"live store: {m}" for m in self.live_mismatch[:20]]
        return problems


def check_writes(root: Path, base_commit: str, writes: list[Write], seconds: float,
                 server_log: str) -> WriteCheck:
    result = WriteCheck(attempted=len(writes), seconds=seconds)
    ok = [w for w in writes if w.ok]
    result.succeeded = len(ok)
    for w in writes:
        if not w.ok:
            result.refused[w.status] = result.refused.get(w.status, 0) + 1
    result.server_errors = sum(1 for w in writes if w.status >= 500)
    result.sync_failed = sum(1 for w in ok if w.sync != "applied")
    result.server_tracebacks = server_log.count("Traceback")
    order = _commit_order(root, base_commit, result)
    _check_commits(ok, order, result)
    _check_order(ok, order, result)
    final = read_yaml_schedules(root)
    result.lost = lost_updates(ok, order, final)
    _check_validate(root, result)
    _check_state(root, result)
    result.live_mismatch = live_vs_yaml(root, final)
    return result


def _commit_order(root: Path, base: str, result: WriteCheck) -> dict[str, int]:
    repo = git.Repo(root)
    commits = list(repo.iter_commits(f"{base}..HEAD", reverse=True))
    result.new_commits = len(commits)
    result.nonlinear = sum(1 for c in commits if len(c.parents) != 1)
    return {c.hexsha: i for i, c in enumerate(commits)}


def _check_commits(ok: list[Write], order: dict[str, int], result: WriteCheck) -> None:
    named = [w.commit for w in ok if w.commit]
    result.commitless = len(ok) - len(named)
    result.unknown_commits = sum(1 for sha in named if sha not in order)
    result.shared_commits = len(named) - len(set(named))


def _check_order(ok: list[Write], order: dict[str, int], result: WriteCheck) -> None:
    """A write acknowledged before another was sent must be committed before it."""
    placed = sorted((w for w in ok if w.commit in order), key=lambda w: w.acked)
    by_sent = sorted(placed, key=lambda w: w.sent)
    violations = 0
    # For each write, every write acknowledged before it was sent must precede it.
    latest_index = -1
    acked_iter = iter(placed)
    pending = next(acked_iter, None)
    for w in by_sent:
        while pending is not None and pending.acked < w.sent:
            latest_index = max(latest_index, order[pending.commit or ""])
            pending = next(acked_iter, None)
        if latest_index > order[w.commit or ""]:
            violations += 1
    result.order_violations = violations


def read_yaml_schedules(root: Path) -> dict[str, dict[str, Any]]:
    schedules: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "schedules" / PROJECT).glob("*.y*ml")):
        for item in (yaml.safe_load(path.read_text()) or {}).get("schedules") or []:
            schedules[item["name"]] = item
    return schedules


def _normal(field_name: str, value: Any) -> Any:
    if field_name == "trigger" and isinstance(value, dict):
        return {key: str(v) for key, v in value.items()}
    if field_name == "enabled" and value is None:
        return True
    return value


def lost_updates(ok: list[Write], order: dict[str, int],
                 final: dict[str, dict[str, Any]]) -> list[str]:
    """Each field's final value must be the one its last committed write set."""
    last: dict[tuple[str, str], tuple[int, Any]] = {}
    lost: list[str] = []
    for w in ok:
        if w.kind == "create" and w.name not in final:
            lost.append(f"{w.name}: created (commit {w.commit}) but not in the YAML")
        position = order.get(w.commit or "", -1)
        for key, value in w.fields.items():
            seen = last.get((w.name, key))
            if seen is None or position > seen[0]:
                last[(w.name, key)] = (position, value)
    for (name, key), (_pos, value) in sorted(last.items()):
        if name not in final:
            continue
        have = _normal(key, final[name].get(key))
        want = _normal(key, value)
        if key == "trigger" and isinstance(have, dict):
            have = {k: v for k, v in have.items() if k in want}
        if have != want:
            lost.append(f"{name}.{key}: YAML has {have!r}, last acknowledged write set {want!r}")
    return lost


def _check_validate(root: Path, result: WriteCheck) -> None:
    import json

    proc = cli(root, "validate", "--format", "json", "--no-cache")
    result.validate_exit = proc.returncode
    try:
        report = json.loads(proc.stdout)
    except ValueError:
        result.validation_errors = max(1, proc.returncode)
        return
    result.validation_errors = int(report["summary"]["errors"])


def _check_state(root: Path, result: WriteCheck) -> None:
    from schedsync.engine.state import StateStore

    store = StateStore.open(".schedsync/state.db", root)
    try:
        result.integrity_problems = [str(p) for p in store.check_integrity()]
        audited = [e for e in store.audit_entries(PROJECT, limit=1_000_000)
                   if e.actor == "writer" and e.result == "ok"]
        result.audit_missing = max(0, result.succeeded - len(audited))
    finally:
        store.close()
    plan = cli(root, "plan", "--detailed-exitcode")
    result.plan_exit = plan.returncode
    result.plan_output = plan.stdout + plan.stderr


def live_rows(root: Path) -> dict[str, float | None]:
    """The APScheduler job rows: id -> next run time (None when paused)."""
    with sqlite3.connect(root / ".schedsync" / "jobs.sqlite") as conn:
        return dict(conn.execute("SELECT id, next_run_time FROM apscheduler_jobs"))


def live_vs_yaml(root: Path, final: dict[str, dict[str, Any]]) -> list[str]:
    """Same set of jobs, and paused exactly where the YAML says disabled."""
    rows = live_rows(root)
    problems = [f"{name} has no live job" for name in sorted(set(final) - set(rows))]
    problems += [f"live job {key} is not in the YAML" for key in sorted(set(rows) - set(final))]
    for name, item in sorted(final.items()):
        if name in rows and (rows[name] is not None) != item.get("enabled", True):
            problems.append(f"{name}: enabled={item.get('enabled', True)} in the YAML but "
                            f"{'paused' if rows[name] is None else 'scheduled'} live")
    return problems


def concurrent_writes(tmp: Path, writers: int, writes: int, servers: int = 1) -> WriteCheck:
    """The whole scenario: repository, ``servers`` server processes on it (replicas
    sharing the checkout, the state file and the job store), writers, checks."""
    root = writers_repo(tmp / f"repo-{servers}")
    token = make_token(root)
    base = git.Repo(root).head.commit.hexsha
    running: list[ServerProcess] = []
    try:
        for i in range(servers):
            running.append(ServerProcess(root, tmp / f"server-{servers}-{i}.log", token))
        done, seconds = run_writers(running, writers, writes)
    finally:
        for server in running:
            server.stop()
    log = "".join(server.output() for server in running)
    return check_writes(root, base, done, seconds, log)


# -- two applies at once ----------------------------------------------------------------


@dataclass
class ApplyRun:
    exit_code: int
    stdout: str
    stderr: str
    crashed: bool

    @property
    def applied_names(self) -> list[str]:
        verbs = ("created", "updated", "deleted", "enabled", "disabled")
        return [line.split()[1] for line in self.stdout.splitlines()
                if line.startswith("  ") and line.split()[:1] and line.split()[0] in verbs]

    @property
    def outcome(self) -> str:
        text = self.stdout + self.stderr
        if self.exit_code == 0:
            return "applied" if self.applied_names else "nothing to do"
        if "apply lock is held" in text:
            return "refused: lock held"
        if "plan is stale" in text:
            return "refused: stale plan"
        return f"failed (exit {self.exit_code})"


@dataclass
class DoubleApply:
    runs: list[ApplyRun]
    schedules: int
    live: int
    applied_twice: list[str]
    plan_exit: int

    def failures(self) -> list[str]:
        problems = [f"run {i} crashed: {r.stderr[-400:]}" for i, r in enumerate(self.runs)
                    if r.crashed]
        unclear = [r for r in self.runs if r.outcome.startswith("failed")]
        problems += [f"unclear failure: {r.stderr[-400:]}" for r in unclear]
        winners = [r for r in self.runs if r.outcome == "applied"]
        if len(winners) != 1:
            problems.append(f"{len(winners)} runs applied changes, expected exactly 1: "
                            f"{[r.outcome for r in self.runs]}")
        if self.applied_twice:
            problems.append(f"applied twice: {self.applied_twice[:10]}")
        if self.live != self.schedules:
            problems.append(f"{self.live} live rows for {self.schedules} schedules")
        if self.plan_exit != 0:
            problems.append(f"plan after both runs shows changes (exit {self.plan_exit})")
        return problems


def apply_repo(root: Path, schedules: int, per_file: int = 250) -> Path:
    files = {}
    for start in range(0, schedules, per_file):
        names = range(start, min(start + per_file, schedules))
        files[f"schedules/{PROJECT}/batch{start // per_file:03d}.yaml"] = (
            "schedules:\n" + "".join(schedule_yaml(f"batch.job{i:05d}", i % 60) for i in names))
    return build_repo(root, CONFIG, files)


def two_applies(tmp: Path, schedules: int, wait: float, saved: bool) -> DoubleApply:
    """Two ``schedsync apply --auto-approve --wait WAIT`` started together on one project,
    each planning afresh or both applying one saved plan file (two CD jobs of one
    reviewed plan)."""
    root = apply_repo(tmp / f"apply-{'saved' if saved else 'fresh'}-wait{int(wait)}", schedules)
    args = ["apply", "--wait", str(wait)]
    if saved:
        made = cli(root, "plan", "--out", str(root.parent / f"{root.name}.plan.json"))
        if made.returncode != 0:
            raise RuntimeError(f"plan --out failed: {made.stdout}{made.stderr}")
        args.append(str(root.parent / f"{root.name}.plan.json"))
    else:
        args.append("--auto-approve")
    env = {**os.environ, "NO_COLOR": "1"}
    command = [sys.executable, "-m", "schedsync", "--repo", str(root), *args]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True, env=env) for _ in range(2)]
    runs = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        completed = subprocess.CompletedProcess(command, proc.returncode, out, err)
        runs.append(ApplyRun(proc.returncode, out, err, crashed(completed)))
    names = [name for run in runs for name in run.applied_names]
    twice = sorted({n for n in names if names.count(n) > 1}) if len(names) != len(set(names)) \
        else []
    plan = cli(root, "plan", "--detailed-exitcode")
    return DoubleApply(runs, schedules, len(live_rows(root)), twice, plan.returncode)

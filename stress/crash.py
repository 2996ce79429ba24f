"""Crash safety (issue 8): kill -9 during ``apply`` and during API writes.

Apply trials, on the APScheduler SQLite job store and on RedBeat (Redis db 6): a real
``schedsync apply --auto-approve`` of 500 schedules runs as a subprocess and is killed
with SIGKILL after a random delay inside the measured apply window (from taking the
apply lock to exiting). Even trials create 500 schedules in an empty store; odd trials
start from 500 applied ones and change them all (450 updated, 50 deleted with --prune,
50 new). Then ``apply`` runs again and the trial checks the raw rows/keys of the store
(not the adapter's view) against the repository, a further ``plan``, and
``schedsync state check``. A trial counts as killed mid-apply when the killed process
left its apply lock behind (it had started applying and had not finished).

Server trials: a real ``schedsync serve`` (uvicorn) on a real git repository takes a
stream of API writes and its whole process group (git children included, as a crash or
OOM kill of the service would) is killed with SIGKILL mid-stream. After a restart the
YAML, git history, the worktree, the state file, the API and the live scheduler must
agree, and the server must accept writes again.

The tests in ``tests/reliability/test_crash_*.py`` run shorter versions of these trials.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from repo_builder import acme_config, build_repo
from server_process import ServerProcess
from stress.figures import Figure

PART = "crash"
REDIS_URL = "redis://127.0.0.1:6379/6"  # db 6: crash/kill tests (team allocation)
BULK = 500
APS_STORE = ".schedsync/jobs.sqlite"
STATE = ".schedsync/state.db"


def schedsync(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a fresh interpreter, as a user (or CD) would."""
    return subprocess.run(
        [sys.executable, "-m", "schedsync", "--repo", str(root), "--no-color", *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )


# -- repositories ----------------------------------------------------------------------

@dataclass(frozen=True)
class Store:
    """A live store under test: how to configure it and how to read its raw entries."""

    kind: str  # "apscheduler" | "redbeat"
    prefix: str = ""  # RedBeat key prefix, unique per repository

    @property
    def label(self) -> str:
        return "APScheduler SQLite" if self.kind == "apscheduler" else "RedBeat"

    def settings(self) -> dict[str, str]:
        """The keys of scheduler ``live`` in ``schedsync.yaml``."""
        if self.kind == "apscheduler":
            return {"type": "apscheduler", "jobstore": "sqlalchemy",
                    "url": f"sqlite:///{APS_STORE}"}
        return {"type": "celery-beat", "store": "redbeat", "url": REDIS_URL,
                "key_prefix": f"'{self.prefix}'"}

    def task(self) -> str:
        return "schedsync.demo_tasks:heartbeat" if self.kind == "apscheduler" else "demo.heartbeat"

    def raw_entries(self, root: Path) -> RawEntries:
        if self.kind == "apscheduler":
            return aps_raw_entries(root / APS_STORE)
        return redbeat_raw_entries(self.prefix)

    def drop(self) -> None:
        if self.kind == "redbeat":
            drop_redbeat_prefix(self.prefix)


def new_store(kind: str) -> Store:
    if kind == "apscheduler":
        return Store(kind)
    return Store(kind, f"crash-{os.getpid()}-{random.randrange(16**8):08x}:")


def make_repo(root: Path, store: Store, files: dict[str, str] | None = None) -> Path:
    """A git repository whose one project ``acme`` has one scheduler ``live``, with
    ``files`` committed and the folder ``schedules/acme`` there even without them."""
    build_repo(root, acme_config("UTC", scheduler="live", settings=store.settings()), files)
    (root / "schedules" / "acme").mkdir(parents=True, exist_ok=True)
    return root


def bulk_names(round_: int, count: int = BULK) -> list[str]:
    """Round 0: bulk.0000-0499. Round 1 drops the first tenth and adds as many new."""
    start = count // 10 * round_
    return [f"bulk.{i:04d}" for i in range(start, start + count)]


def write_bulk(root: Path, store: Store, round_: int, count: int = BULK) -> set[str]:
    """The bulk schedule file of ``round_``; round 1 moves every cron by an hour and
    disables every tenth schedule. Returns the names."""
    names = bulk_names(round_, count)
    lines = ["schedules:\n"]
    for name in names:
        i = int(name.split(".")[1])
        hour = (i + round_) % 24
        lines.append(
            f"  - name: {name}\n    scheduler: live\n    trigger_type: cron\n"
            f"    trigger: \"{i % 60} {hour} * * *\"\n    task: {store.task()}\n"
            + ("    enabled: false\n" if round_ and i % 10 == 0 else "")
        )
    (root / "schedules" / "acme" / "bulk.yaml").write_text("".join(lines))
    return set(names)


# -- raw entries of the stores ------------------------------------------------------------

@dataclass
class RawEntries:
    """Schedule names found in the store's raw rows or keys, one item per entry the
    scheduler would run, plus pieces of entries it would not (``stray``)."""

    names: list[str] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)

    def lost(self, wanted: set[str]) -> set[str]:
        return wanted - set(self.names)

    def duplicated(self, wanted: set[str]) -> int:
        """Entries beyond one per repository schedule: copies, extras and strays."""
        copies = sum(n - 1 for n in Counter(self.names).values())
        extras = len(set(self.names) - wanted)
        return copies + extras + len(self.stray)


def aps_raw_entries(path: Path) -> RawEntries:
    """Every row of ``apscheduler_jobs``; the name is read from the pickled state (jobs
    store their function as text, so no user code is imported)."""
    if not path.exists():
        return RawEntries()
    with contextlib.closing(sqlite3.connect(path)) as conn:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return RawEntries(stray=["job store fails PRAGMA integrity_check"])
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'apscheduler_jobs'"
                            ).fetchone():
            return RawEntries()
        rows = conn.execute("SELECT id, job_state FROM apscheduler_jobs").fetchall()
    found = RawEntries()
    for key, blob in rows:
        state = pickle.loads(blob)
        (found.names if state.get("id") == key else found.stray).append(state["name"])
    return found


def _redis() -> Any:
    import redis

    return redis.Redis.from_url(REDIS_URL, decode_responses=True)


def redbeat_raw_entries(prefix: str) -> RawEntries:
    """Hashes ``<prefix><key>`` with a definition AND a score in ``<prefix>:schedule``
    are entries beat runs; a hash without a score, or a score without a hash, is stray."""
    client = _redis()
    try:
        scheduled = set(client.zrange(prefix + ":schedule", 0, -1))
        hashes = [k for k in client.scan_iter(match=_glob(prefix) + "*", count=1000)
                  if client.type(k) == "hash"]
        found = RawEntries()
        for key in hashes:
            definition = client.hget(key, "definition")
            if definition is None or key not in scheduled:
                found.stray.append(key)
                continue
            options = orjson.loads(definition).get("options") or {}
            found.names.append((options.get("headers") or {}).get("schedsync_name", key))
        found.stray.extend(k for k in scheduled if k not in set(hashes))
        return found
    finally:
        client.close()


def _glob(prefix: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]\\" else c for c in prefix)


def drop_redbeat_prefix(prefix: str) -> None:
    """Delete one trial's keys (db 6 is shared by the crash runs: never FLUSHDB)."""
    client = _redis()
    try:
        keys = list(client.scan_iter(match=_glob(prefix) + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start:start + 1000])
    finally:
        client.close()


# -- the state file ---------------------------------------------------------------------

def lock_row(root: Path) -> tuple[str, int] | None:
    """(holder, pid) of the apply lock, read with plain sqlite3 (no schedsync code)."""
    path = root / STATE
    if not path.exists():
        return None
    with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
        try:
            row = conn.execute("SELECT holder, pid FROM schedsync_apply_lock").fetchone()
        except sqlite3.OperationalError:  # not created yet
            return None
    return None if row is None else (str(row[0]), int(row[1]))


def bound_names(root: Path) -> dict[str, str]:
    """Schedule name -> live entry key of every binding in the state file."""
    with contextlib.closing(sqlite3.connect(root / STATE, timeout=30)) as conn:
        rows = conn.execute(
            "SELECT s.name, b.entry_key FROM schedsync_bindings b "
            "JOIN schedsync_schedules s ON s.id = b.schedule_id").fetchall()
    return {str(name): str(key) for name, key in rows}


# -- one apply trial --------------------------------------------------------------------

Cli = Any  # (root, *args) -> (exit code, output): a subprocess here, click's runner in tests


def cli_process(root: Path, *args: str) -> tuple[int, str]:
    done = schedsync(root, *args)
    return done.returncode, done.stdout + done.stderr


def spawn_apply(root: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "schedsync", "--repo", str(root), "apply", "--auto-approve",
         "--prune"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def wait_for_lock(root: Path, proc: subprocess.Popen[bytes]) -> float:
    """Poll the state until ``proc`` holds the apply lock; seconds since now."""
    started = time.monotonic()
    while proc.poll() is None and lock_row(root) is None:
        time.sleep(0.005)
    return time.monotonic() - started


def measure_span(root: Path) -> float:
    """How long one whole apply holds the lock (the repository must be prepared)."""
    proc = spawn_apply(root)
    wait_for_lock(root, proc)
    locked = time.monotonic()
    while proc.poll() is None and lock_row(root) is not None:
        time.sleep(0.005)
    span = time.monotonic() - locked
    if proc.wait() != 0:
        raise RuntimeError(f"calibration apply failed with exit code {proc.returncode}")
    return span


@dataclass
class ApplyTrial:
    store: str
    variant: str
    delay: float  # seconds after the lock was taken
    mid_apply: bool
    live_at_kill: int
    lost: int
    duplicated: int
    unbound: int  # repository schedules without a state binding, and bindings too many
    integrity_ok: bool
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def prepare(root: Path, store: Store, variant: str, cli: Cli, count: int = BULK) -> set[str]:
    """The repository (and store) a trial's killed apply starts from."""
    wanted = write_bulk(root, store, 0, count)
    if variant == "update":
        code, output = cli(root, "apply", "--auto-approve")
        if code != 0:
            raise RuntimeError(f"initial apply failed: {output}")
        wanted = write_bulk(root, store, 1, count)
    return wanted


def kill_during_apply(root: Path, delay: float) -> bool:
    """Start apply, SIGKILL it ``delay`` s after it took the lock; was it mid-apply?

    At the kill this process holds the state file's write lock (``BEGIN IMMEDIATE``)
    and reads the apply lock row in that transaction. An apply that still holds its
    lock then cannot release it (a state write) before the kill lands, however late a
    loaded machine runs this poller: "mid-apply" is decided, not raced. (With
    ``delay`` 0 the kill lands as soon as the lock is seen: always mid-apply.)"""
    proc = spawn_apply(root)
    if delay == 0:
        return kill_as_soon_as_locked(root, proc)
    wait_for_lock(root, proc)
    time.sleep(delay)
    freeze = sqlite3.connect(root / STATE, timeout=60, isolation_level=None)
    try:
        freeze.execute("BEGIN IMMEDIATE")
        try:
            row = freeze.execute("SELECT pid FROM schedsync_apply_lock").fetchone()
        except sqlite3.OperationalError:  # no lock table: the apply never got that far
            row = None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if freeze.in_transaction:
            freeze.execute("ROLLBACK")
        freeze.close()
    return row is not None and int(row[0]) == proc.pid


def kill_as_soon_as_locked(root: Path, proc: subprocess.Popen[bytes]) -> bool:
    """Poll for the apply lock inside ``BEGIN IMMEDIATE`` and SIGKILL the apply while
    still holding the state's write lock: an apply seen holding its lock cannot finish
    (releasing it is a state write) however late a loaded machine runs this poller, so
    the kill is mid-apply unless the apply ended before it ever was seen locked."""
    while not (root / STATE).exists() and proc.poll() is None:  # a first apply makes it
        time.sleep(0.002)
    if proc.poll() is not None:
        return False
    freeze = sqlite3.connect(root / STATE, timeout=60, isolation_level=None)
    try:
        while proc.poll() is None:
            freeze.execute("BEGIN IMMEDIATE")
            try:
                row = freeze.execute("SELECT pid FROM schedsync_apply_lock").fetchone()
            except sqlite3.OperationalError:  # no lock table yet
                row = None
            if row is not None and int(row[0]) == proc.pid:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            freeze.execute("ROLLBACK")
            time.sleep(0.002)
        return False
    finally:
        if freeze.in_transaction:
            freeze.execute("ROLLBACK")
        freeze.close()


def apply_trial(workdir: Path, kind: str, variant: str, span: float, rng: random.Random,
                cli: Cli = cli_process, count: int = BULK) -> ApplyTrial:
    store = new_store(kind)
    root = make_repo(workdir, store)
    try:
        wanted = prepare(root, store, variant, cli, count)
        # The first 3/4 of the measured span: a late draw on a quick apply can land
        # after it has finished, which tests nothing.
        delay = rng.uniform(0, span * 0.75) if span > 0 else 0.0
        mid_apply = kill_during_apply(root, delay)
        at_kill = len(store.raw_entries(root).names)
        problems = converge(root, cli)
        raw = store.raw_entries(root)
        lost, duplicated = raw.lost(wanted), raw.duplicated(wanted)
        if lost or duplicated:
            problems.append(f"{len(lost)} lost, {duplicated} duplicated/stray live entries "
                            f"(e.g. lost {sorted(lost)[:3]}, stray {raw.stray[:3]})")
        bound = bound_names(root)
        unbound = len(wanted ^ set(bound))
        if unbound:
            problems.append(f"{unbound} schedules where state bindings and repository differ")
        integrity = check_state(root, cli, problems)
        return ApplyTrial(store.label, variant, delay, mid_apply, at_kill, len(lost),
                          duplicated, unbound, integrity, problems)
    finally:
        store.drop()


def converge(root: Path, cli: Cli) -> list[str]:
    """Apply again, then a plan must show nothing to do."""
    problems = []
    code, output = cli(root, "apply", "--auto-approve", "--prune")
    if code != 0:
        problems.append(f"apply after the kill exited {code}: {output.strip()[-300:]}")
    code, output = cli(root, "plan", "--detailed-exitcode")
    if code != 0:
        problems.append(f"plan after convergence exited {code}: {output.strip()[-300:]}")
    return problems


def check_state(root: Path, cli: Cli, problems: list[str]) -> bool:
    code, output = cli(root, "state", "check")
    if code != 0:
        problems.append(f"state check exited {code}: {output.strip()[-300:]}")
    return code == 0


def calibrate(base: Path, kind: str, variant: str) -> float:
    """The lock span of one uninterrupted apply of ``variant``."""
    store = new_store(kind)
    root = make_repo(base / f"calibrate-{kind}-{variant}", store)
    try:
        wanted = prepare(root, store, variant, cli_process)
        span = measure_span(root)
        if len(store.raw_entries(root).names) != len(wanted):
            raise RuntimeError(f"calibration apply on {store.label} did not converge")
        return span
    finally:
        store.drop()


def variant_of(trial: int) -> str:
    return "create" if trial % 2 == 0 else "update"


def apply_trials(
    kind: str, trials: int, seed: int = 8
) -> tuple[list[ApplyTrial], dict[str, float]]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="schedsync-crash-") as tmp:
        base = Path(tmp)
        spans = {v: calibrate(base, kind, v) for v in ("create", "update")}
        results = [apply_trial(base / f"trial-{i}", kind, variant_of(i), spans[variant_of(i)],
                               rng) for i in range(trials)]
    return results, spans


def serial(root: Path) -> int:
    with contextlib.closing(sqlite3.connect(root / STATE, timeout=30)) as conn:
        return int(conn.execute("SELECT serial FROM schedsync_meta").fetchone()[0])


def kill_apply_before_it_records(root: Path, live_done: Any) -> None:
    """SIGKILL ``apply --prune`` after its live write and before it records it in the
    state: once the apply has bumped the serial (it holds the lock and has planned),
    this process takes the state's write lock, so the apply blocks right after writing
    the live store. ``live_done()`` says when the live write has landed."""
    before = serial(root)
    proc = spawn_apply(root)
    deadline = time.monotonic() + 120
    while serial(root) == before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    blocker = sqlite3.connect(root / STATE, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        while not live_done() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    if proc.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the apply ended by itself (exit {proc.returncode})")


def prune_before_record_trial(workdir: Path, kind: str, cli: Cli = cli_process,
                              count: int = BULK) -> tuple[set[str], RawEntries, dict[str, str]]:
    """Round 0 applied, then round 1 (deletes the first tenth) killed between its live
    write and its record, then applied again: (wanted names, raw entries, bindings)."""
    store = new_store(kind)
    root = make_repo(workdir, store)
    try:
        wanted = prepare(root, store, "update", cli, count)
        gone = bulk_names(0, count)[0]
        kill_apply_before_it_records(root, lambda: gone not in store.raw_entries(root).names)
        code, output = cli(root, "apply", "--auto-approve", "--prune")
        if code != 0:
            raise RuntimeError(f"apply after the kill exited {code}: {output[-300:]}")
        return wanted, store.raw_entries(root), bound_names(root)
    finally:
        store.drop()


def prune_figure(kind: str) -> Figure:
    label = "APScheduler SQLite" if kind == "apscheduler" else "RedBeat"
    with tempfile.TemporaryDirectory(prefix="schedsync-crash-") as tmp:
        wanted, raw, bound = prune_before_record_trial(Path(tmp) / "prune", kind)
    stale = len(set(bound) - wanted)
    wrong = len(raw.lost(wanted)) + raw.duplicated(wanted) + len(wanted - set(bound))
    return Figure(PART, f"{label}: stale bindings, prune killed before its record", str(stale),
                  "0", stale == 0 and wrong == 0,
                  f"live entries lost/duplicated/unbound: {wrong}")


def apply_figures(
    kind: str, results: list[ApplyTrial], spans: dict[str, float]
) -> list[Figure]:
    label = "APScheduler SQLite" if kind == "apscheduler" else "RedBeat"
    n = len(results)
    lost = sum(r.lost for r in results)
    dup = sum(r.duplicated for r in results)
    bad_integrity = sum(not r.integrity_ok for r in results)
    mid = sum(r.mid_apply for r in results)
    failed = [p for r in results for p in r.problems]
    span = ", ".join(f"{v} {s:.2f} s" for v, s in spans.items())
    at_kill = ", ".join(str(r.live_at_kill) for r in results)
    return [
        Figure(PART, f"{label}: apply trials killed with SIGKILL", str(n), f">= {n}", n > 0,
               f"killed at random within the lock span of a whole apply: {span}"),
        Figure(PART, f"{label}: lost live entries after re-apply", str(lost), "0", lost == 0),
        Figure(PART, f"{label}: duplicated live entries after re-apply", str(dup), "0",
               dup == 0),
        Figure(PART, f"{label}: state integrity check failures", str(bad_integrity), "0",
               bad_integrity == 0),
        Figure(PART, f"{label}: trials failing any check (plan, bindings, ...)",
               str(sum(not r.ok for r in results)), "0", all(r.ok for r in results),
               "; ".join(failed[:2])),
        Figure(PART, f"{label}: trials killed mid-apply (lock left behind)", f"{mid}/{n}",
               f"> {n // 2}", mid > n // 2, f"live entries at the kill: {at_kill}"),
    ]


# -- the server during writes ---------------------------------------------------------

SEED = 20
API = "/api/v1/projects/acme/schedules"


def seed_server_repo(root: Path, cli: Cli) -> str:
    """An APScheduler repository with ``SEED`` applied schedules and an admin token."""
    store = Store("apscheduler")
    lines = ["# Seed schedules: the API edits them in place.\nschedules:\n"]
    lines += [f"  - name: seed.{i:02d}\n    scheduler: live\n    trigger_type: cron\n"
              f"    trigger: \"{i} 3 * * *\"\n    task: {store.task()}\n" for i in range(SEED)]
    make_repo(root, store, {"schedules/acme/seed.yaml": "".join(lines)})
    code, output = cli(root, "apply", "--auto-approve")
    if code != 0:
        raise RuntimeError(f"seed apply failed: {output}")
    from schedsync.engine.state import StateStore

    with StateStore.open(STATE, root) as state:
        state.upsert_user("crash", email="crash@example.com", admin=True, roles={})
        return state.create_token("crash")


@dataclass
class Writes:
    """What the writers were told: acknowledged writes by kind, and requests in flight."""

    created: set[str] = field(default_factory=set)
    acknowledged: int = 0
    in_flight: int = 0
    in_flight_at_kill: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def one_write(client: Any, token: str, writer: int, i: int, rng: random.Random,
              ids: list[str]) -> tuple[str, str | None, Any]:
    """(method, name it creates or None, response) of one random API write."""
    headers = {"Authorization": f"Bearer {token}"}
    kind = rng.choice(("create", "create", "patch", "toggle"))
    if kind == "create" or not ids:
        name = f"w{writer}.n{i:04d}"
        body = {"name": name, "scheduler": "live", "trigger_type": "cron",
                "trigger": {"minute": str(i % 60), "hour": "4"},
                "task": "schedsync.demo_tasks:heartbeat"}
        return "create", name, client.post(API, json=body, headers=headers)
    sid = rng.choice(ids)
    if kind == "patch":
        body = {"trigger": {"minute": str(rng.randrange(60)), "hour": str(rng.randrange(24))}}
        return "patch", None, client.patch(f"{API}/{sid}", json=body, headers=headers)
    action = rng.choice(("enable", "disable"))
    return action, None, client.post(f"{API}/{sid}/{action}", headers=headers)


def writer_loop(url: str, token: str, writer: int, writes: Writes, ids: list[str],
                stop: threading.Event) -> None:
    import httpx

    rng = random.Random(writer)
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(10_000):
            if stop.is_set():
                return
            with writes.lock:
                writes.in_flight += 1
            try:
                kind, name, response = one_write(client, token, writer, i, rng, ids)
            except httpx.HTTPError:
                return  # the server is gone
            finally:
                with writes.lock:
                    writes.in_flight -= 1
            with writes.lock:
                if response.status_code in (200, 201):
                    writes.acknowledged += 1
                    if name is not None:
                        writes.created.add(name)
                elif response.status_code >= 500:
                    writes.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")


def write_until_killed(server: ServerProcess, token: str, delay: float, writers: int) -> Writes:
    import httpx

    listed = httpx.get(server.url + API + "?limit=500", timeout=30,
                       headers={"Authorization": f"Bearer {token}"}).json()
    ids = [item["id"] for item in listed["items"]]
    writes, stop = Writes(), threading.Event()
    threads = [threading.Thread(target=writer_loop,
                                args=(server.url, token, w, writes, ids, stop))
               for w in range(writers)]
    for thread in threads:
        thread.start()
    time.sleep(delay)
    with writes.lock:
        writes.in_flight_at_kill = writes.in_flight
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(60)
    return writes


# (what disagrees, how): categories let a test tell a known bug from a new one.
Disagreement = tuple[str, str]
# Categories of two bugs fixed by the write journal (docs/reliability.md, "Crash safety").
INDEX_LOCK = "git index.lock"
DIRTY = "uncommitted write"


@dataclass
class ServerTrial:
    acknowledged: int
    in_flight_at_kill: int
    commits: int
    disagreements: list[Disagreement]

    def categories(self) -> set[str]:
        return {category for category, _ in self.disagreements}


def run_git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          check=False).stdout


def yaml_names(text: str) -> list[str]:
    import yaml

    data = yaml.safe_load(text) or {}
    return [str(item["name"]) for item in data.get("schedules") or []]


def check_worktree(root: Path) -> list[Disagreement]:
    problems = []
    if (root / ".git" / "index.lock").exists():
        problems.append((INDEX_LOCK, ".git/index.lock left behind: every later commit fails"))
    dirty = run_git(root, "status", "--porcelain", "--untracked-files=all").strip()
    if dirty:
        problems.append((DIRTY, f"worktree differs from HEAD: {dirty.splitlines()[:4]}"))
    return problems


def check_history(root: Path, base: str) -> tuple[int, list[Disagreement]]:
    """Every commit since ``base`` is one API write whose file parses and whose message
    names a schedule that the commit's YAML holds."""
    commits = run_git(root, "rev-list", "--reverse", f"{base}..HEAD").split()
    problems = [("git history", p) for commit in commits for p in check_commit(root, commit)]
    return len(commits), problems


def check_commit(root: Path, commit: str) -> list[str]:
    message = run_git(root, "log", "-1", "--format=%s", commit).strip()
    files = run_git(root, "show", "--name-only", "--format=", commit).split()
    action, _, rest = message.partition(" schedule acme/")
    name = rest.split(" (API")[0]
    if not rest or len(files) != 1:
        return [f"commit {commit[:10]} ({message!r}) touches {files}"]
    try:
        names = yaml_names(run_git(root, "show", f"{commit}:{files[0]}"))
    except Exception as exc:  # noqa: BLE001 - any parse failure is the finding
        return [f"{files[0]} at {commit[:10]} does not parse: {exc}"]
    if name not in names or len(names) != len(set(names)):
        return [f"{files[0]} at {commit[:10]} ({action}) lacks {name!r} or repeats names"]
    return []


def head_names(root: Path) -> set[str]:
    names: list[str] = []
    for path in sorted((root / "schedules" / "acme").glob("*.yaml")):
        names += yaml_names(path.read_text())
    return set(names)


def check_restarted(root: Path, log: Path, token: str, writes: Writes) -> list[Disagreement]:
    """After the restart: acknowledged writes are there, the API lists what the YAML
    holds, and writes work again."""
    import httpx

    problems = []
    server = ServerProcess(root, log)  # it finishes or undoes a write it was killed in
    try:
        problems += check_worktree(root)
        wanted = head_names(root)
        missing = writes.created - wanted
        if missing:
            problems.append(("lost write",
                             f"acknowledged creates missing: {sorted(missing)[:5]}"))
        headers = {"Authorization": f"Bearer {token}"}
        listed = httpx.get(server.url + API + "?limit=500", headers=headers, timeout=60)
        api_names = {item["name"] for item in listed.json()["items"]}
        if api_names != wanted:
            problems.append(("api", f"lists {len(api_names)} schedules, the YAML {len(wanted)}"))
        body = {"name": "after.restart", "scheduler": "live", "trigger_type": "cron",
                "trigger": "5 5 * * *", "task": "schedsync.demo_tasks:heartbeat"}
        created = httpx.post(server.url + API, json=body, headers=headers, timeout=120)
        if created.status_code != 201 or created.json().get("sync") != {"status": "applied"}:
            problems.append(("write after restart", f"got {created.status_code}: "
                                                    f"{created.text[:300]}"))
    finally:
        server.stop()
    return problems


def check_live_and_state(root: Path, cli: Cli) -> list[Disagreement]:
    """The state passes its check; apply converges the live store onto the YAML."""
    problems: list[str] = []
    check_state(root, cli, problems)
    found = [("state", p) for p in problems]
    code, output = cli(root, "apply", "--auto-approve", "--prune")
    if code != 0:
        found.append(("live", f"apply after the restart exited {code}: {output[-300:]}"))
    wanted = head_names(root)
    raw = aps_raw_entries(root / APS_STORE)
    lost, dup = raw.lost(wanted), raw.duplicated(wanted)
    if lost or dup:
        found.append(("live", f"{len(lost)} lost, {dup} duplicated entries after apply"))
    unbound = wanted ^ set(bound_names(root))
    if unbound:
        found.append(("state", f"bindings differ from the YAML for {sorted(unbound)[:5]}"))
    return found


def check_after_kill(root: Path, base: str, log: Path, token: str, writes: Writes,
                     cli: Cli) -> tuple[int, list[Disagreement]]:
    commits, problems = check_history(root, base)
    problems += [("http 5xx", e) for e in writes.errors[:3]]
    problems += check_restarted(root, log, token, writes)
    problems += check_live_and_state(root, cli)
    if "Traceback" in log.read_text(errors="replace"):
        problems.append(("traceback", f"in the server log {log}"))
    return commits, problems


def server_trial(workdir: Path, rng: random.Random, writers: int = 3,
                 cli: Cli = cli_process) -> ServerTrial:
    root = workdir / "repo"
    token = seed_server_repo(root, cli)
    base = run_git(root, "rev-parse", "HEAD").strip()
    log = workdir / "server.log"
    writes = write_until_killed(ServerProcess(root, log), token, rng.uniform(1.0, 4.0), writers)
    commits, problems = check_after_kill(root, base, log, token, writes, cli)
    return ServerTrial(writes.acknowledged, writes.in_flight_at_kill, commits, problems)


def server_trials(trials: int, seed: int = 8) -> list[ServerTrial]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="schedsync-crash-serve-") as tmp:
        return [server_trial(Path(tmp) / f"trial-{i}", rng) for i in range(trials)]


def server_figures(results: list[ServerTrial]) -> list[Figure]:
    n = len(results)
    bad = sum(len(r.disagreements) for r in results)
    mid = sum(r.in_flight_at_kill > 0 for r in results)
    acked = sum(r.acknowledged for r in results)
    kinds = Counter(category for r in results for category, _ in r.disagreements)
    first = "; ".join(f"{k} x{v}" for k, v in sorted(kinds.items()))
    return [
        Figure(PART, "server: kill -9 trials during API writes", str(n), f">= {n}", n > 0,
               f"{acked} writes acknowledged before the kills"),
        Figure(PART, "server: trials killed with a write in flight", f"{mid}/{n}",
               f"> {n // 2}", mid > n // 2),
        Figure(PART, "server: YAML / git / state / live disagreements", str(bad), "0",
               bad == 0, first[:200]),
    ]


def run(quick: bool) -> list[Figure]:
    trials = 3 if quick else 20
    figures: list[Figure] = []
    for kind in ("apscheduler", "redbeat"):
        results, spans = apply_trials(kind, trials)
        figures += apply_figures(kind, results, spans)
        figures.append(prune_figure(kind))
    figures += server_figures(server_trials(3 if quick else 6))
    return figures

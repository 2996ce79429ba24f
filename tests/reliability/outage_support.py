"""Store outages in the middle of an apply, against PRIVATE Redis and PostgreSQL
instances started here (issue 8). The machine's shared services are never touched.

Shared by ``tests/reliability/test_outage.py`` (short runs) and ``stress/outage.py``
(figures). A scenario: a repository of N schedules on one store, a real ``schedsync
serve`` process, a real ``schedsync apply`` process; the store is killed once the first
batch has landed; the CLI's report is compared with the live store after a restart; an
API request needing the store during the outage must get 503 ``scheduler_unavailable``;
after the restart ``apply`` must converge.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import concurrency_support as cs
import httpx
from concurrency_support import PROJECT, make_token

from repo_builder import acme_config, build_repo
from server_process import ServerProcess, free_port

PG_USER = "postgres"  # the system user that runs a private cluster when we are root
_Service = TypeVar("_Service", "PrivateRedis", "PrivatePostgres")

# -- private services -------------------------------------------------------------------


class Unavailable(Exception):
    """A private service cannot be started here; the message says why."""


class PrivateRedis:
    """``redis-server`` on a free port with its data in a temporary folder; every write it
    acknowledges is on disk (AOF, fsync always), so a kill loses nothing acknowledged."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise Unavailable("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="schedsync-redis-"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.dir), "--appendonly", "yes", "--appendfsync", "always", "--save", "",
             "--daemonize", "no", "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        _wait_until(lambda: self._ping(), 20, f"private redis on port {self.port}")

    def _ping(self) -> bool:
        import redis

        if self.proc is not None and self.proc.poll() is not None:
            raise Unavailable(f"redis-server exited: {(self.dir / 'redis.log').read_text()}")
        try:
            return bool(redis.Redis.from_url(self.url, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """The outage: the server dies at once, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (initdb) on a free port, trust auth. As root the
    cluster runs as the ``postgres`` system user (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        found = shutil.which("initdb")
        if not bins and found is None:
            raise Unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bindir = bins[-1].parent if bins else Path(found or "").parent
        self.runas: list[str] = []
        if os.geteuid() == 0:
            self.runas = self._runas_prefix()
        self.dir = Path(tempfile.mkdtemp(prefix="schedsync-pg-"))
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        if self.runas:
            user = pwd.getpwnam(PG_USER)
            os.chown(self.dir, user.pw_uid, user.pw_gid)
        self._pg("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres",
                 "--no-sync", "-E", "UTF8", timeout=120)

    @staticmethod
    def _runas_prefix() -> list[str]:
        runuser = shutil.which("runuser")
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            raise Unavailable(
                f"running as root and there is no {PG_USER!r} system user to run a private "
                "PostgreSQL (it refuses to run as root)"
            ) from None
        if runuser is None:
            raise Unavailable("running as root and runuser is missing: cannot drop to the "
                              f"{PG_USER!r} user to run a private PostgreSQL")
        return [runuser, "-u", PG_USER, "--"]

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> None:
        proc = subprocess.run([*self.runas, str(self.bindir / tool), *args], cwd=self.dir,
                              capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise Unavailable(f"{tool} failed: {proc.stdout}{proc.stderr}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=on -c max_connections=50")
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l",
                 str(self.dir / "pg.log"), "-w", "-t", "60", "start", timeout=90)

    def kill(self) -> None:
        """The outage: immediate shutdown (no checkpoint; committed work survives)."""
        self._pg("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")

    def close(self) -> None:
        subprocess.run([*self.runas, str(self.bindir / "pg_ctl"), "-D",
                        str(self.dir / "data"), "-m", "immediate", "stop"],
                       cwd=self.dir, capture_output=True, timeout=60, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)


def _wait_until(ready: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.05)
    raise Unavailable(f"{what} did not come up within {seconds:g} s")


# -- stores: the repository config and how to read the live entries -------------------


@dataclass
class Store:
    """One kind of store on a private service: its schedsync.yaml, how to read its live
    keys, kill and restart it, and hold it half-way through an apply."""

    label: str
    scheduler: str
    config: str
    live_keys: Callable[[], set[str]]
    kill: Callable[[], None]
    restart: Callable[[], None]
    gate: Callable[[], Gate]


class Gate(Protocol):
    """Holds the store's writes once the apply's first batch has landed, so that the
    outage comes half-way through the apply however busy the machine is."""

    def hold_after_first(self, proc: subprocess.Popen[str]) -> int:
        """Block further writes after the first batch; returns the entries landed."""
        ...

    def close(self) -> None: ...


class RedisGate:
    """A keyspace notification announces the first batch's ZADD (RedBeat writes the
    schedule's sorted set last in each pipeline); ``CLIENT PAUSE WRITE`` then holds
    every later write inside Redis until the kill."""

    def __init__(self, url: str, schedule_key: str) -> None:
        import redis

        self.key = schedule_key
        self.control = redis.Redis.from_url(url, decode_responses=True)
        self.control.config_set("notify-keyspace-events", "Kz")
        self.pubsub = self.control.pubsub()
        self.pubsub.subscribe(f"__keyspace@0__:{schedule_key}")
        self.pubsub.get_message(timeout=2)  # the subscription's confirmation

    def hold_after_first(self, proc: subprocess.Popen[str]) -> int:
        while proc.poll() is None:
            message = self.pubsub.get_message(timeout=0.2)
            if message and message["type"] == "message" and message["data"] == "zadd":
                self.control.execute_command("CLIENT", "PAUSE", "60000", "WRITE")
                break
        return int(self.control.zcard(self.key))

    def close(self) -> None:
        for closing in (self.pubsub.close, self.control.close):
            with suppress(Exception):
                closing()


class PostgresGate:
    """The APScheduler store locks the rows it changes (SELECT ... FOR UPDATE): a table
    lock in EXCLUSIVE mode, taken before the apply, stops its first chunk; handing the
    lock over and asking for it again at once lets exactly that chunk commit."""

    def __init__(self, url: str) -> None:
        import psycopg
        import sqlalchemy as sa

        from schedsync.engine.adapters.apscheduler_store import job_table

        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            # What the user's scheduler does when it starts on an empty database.
            job_table("apscheduler_jobs", sa.MetaData()).create(engine, checkfirst=True)
        finally:
            engine.dispose()
        plain = url.replace("+psycopg", "")
        self.holder = psycopg.connect(plain)
        self.probe = psycopg.connect(plain, autocommit=True)
        self.holder.execute("LOCK TABLE apscheduler_jobs IN EXCLUSIVE MODE")

    def hold_after_first(self, proc: subprocess.Popen[str]) -> int:
        waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = " \
                  "'apscheduler_jobs'::regclass"
        while proc.poll() is None and not self._one(waiting):
            time.sleep(0.01)
        self.holder.commit()
        # Queued behind the first chunk (granted first), ahead of the second.
        self.holder.execute("LOCK TABLE apscheduler_jobs IN EXCLUSIVE MODE")
        return int(self._one("SELECT count(*) FROM apscheduler_jobs"))

    def _one(self, sql: str) -> Any:
        row = self.probe.execute(sql).fetchone()  # type: ignore[arg-type]
        return row[0] if row else None

    def close(self) -> None:
        for closing in (self.holder.close, self.probe.close):
            with suppress(Exception):
                closing()


def redbeat_store(redis_: PrivateRedis) -> Store:
    import redis

    config = acme_config("UTC", scheduler="beat", settings={
        "type": "celery-beat", "store": "redbeat", "url": redis_.url})

    def client() -> redis.Redis:
        return redis.Redis.from_url(redis_.url, decode_responses=True, socket_timeout=2)

    def live_keys() -> set[str]:
        # An entry RedBeat schedules is a hash named in the schedule sorted set.
        with client() as conn:
            members = conn.zrange("redbeat::schedule", 0, -1)
            return {m.removeprefix("redbeat:") for m in members if conn.exists(m)}

    return Store("RedBeat on a private Redis", "beat", config, live_keys,
                 redis_.kill, redis_.start, lambda: RedisGate(redis_.url, "redbeat::schedule"))


def apscheduler_pg_store(pg: PrivatePostgres) -> Store:
    import sqlalchemy as sa

    config = acme_config("UTC", settings={
        "type": "apscheduler", "jobstore": "sqlalchemy", "url": pg.url})

    def rows(sql: str) -> list[Any]:
        engine = sa.create_engine(pg.url, poolclass=sa.pool.NullPool,
                                  connect_args={"connect_timeout": 2})
        try:
            with engine.connect() as conn:
                exists = conn.execute(sa.text("SELECT to_regclass('apscheduler_jobs')")).scalar()
                return list(conn.execute(sa.text(sql))) if exists else []
        finally:
            engine.dispose()

    def live_keys() -> set[str]:
        return {row[0] for row in rows("SELECT id FROM apscheduler_jobs")}

    return Store("APScheduler SQLAlchemy store on a private PostgreSQL", "aps", config,
                 live_keys, pg.kill, pg.start, lambda: PostgresGate(pg.url))


# -- the scenario -----------------------------------------------------------------------


def outage_repo(root: Path, store: Store, schedules: int, per_file: int = 500) -> Path:
    files = {}
    for start in range(0, schedules, per_file):
        body = "".join(
            f"  - name: out.job{i:05d}\n    scheduler: {store.scheduler}\n"
            f"    trigger_type: cron\n    trigger: {{minute: \"{i % 60}\", hour: \"5\"}}\n"
            f"    task: schedsync.demo_tasks:heartbeat\n"
            for i in range(start, min(start + per_file, schedules)))
        files[f"schedules/{PROJECT}/out{start // per_file:03d}.yaml"] = "schedules:\n" + body
    return build_repo(root, store.config, files)


_APPLIED = re.compile(r"^\s+(created|updated|deleted|enabled|disabled) (\S+)/(\S+) on \S+$")
_FAILED = re.compile(r"^\s+FAILED \S+ (\S+)/(\S+) on \S+: (.*)$")


@dataclass
class ApplyReport:
    exit_code: int
    stdout: str
    stderr: str
    applied: set[str]
    failed: dict[str, str]

    @classmethod
    def parse(cls, proc: subprocess.CompletedProcess[str]) -> ApplyReport:
        applied = {m.group(3) for line in proc.stdout.splitlines()
                   if (m := _APPLIED.match(line))}
        failed = {m.group(2): m.group(3) for line in proc.stderr.splitlines()
                  if (m := _FAILED.match(line))}
        return cls(proc.returncode, proc.stdout, proc.stderr, applied, failed)

    @property
    def traceback(self) -> bool:
        return self.exit_code == 3 or "Traceback" in self.stdout + self.stderr


@dataclass
class OutageResult:
    label: str
    schedules: int
    landed_at_kill: int = 0
    report: ApplyReport | None = None
    live_after_restart: set[str] = field(default_factory=set)
    wrong_reports: list[str] = field(default_factory=list)
    api_during_outage: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    non_503: list[str] = field(default_factory=list)
    reads_during_outage: int = 0
    write_during_outage: str = ""
    wrong_write: list[str] = field(default_factory=list)
    converge_exit: int = -1
    converge_output: str = ""
    plan_exit: int = -1
    live_final: int = 0
    tracebacks: list[str] = field(default_factory=list)

    @property
    def converged(self) -> bool:
        return (self.converge_exit == 0 and self.plan_exit == 0
                and self.live_final == self.schedules)

    def failures(self) -> list[str]:
        problems = list(self.tracebacks)
        report = self.report
        if report is None:
            return [*problems, "no apply report"]
        if report.exit_code != 1:
            problems.append(f"apply during the outage exited {report.exit_code}, expected 1")
        if not report.failed:
            problems.append("the outage did not hit the apply: nothing was reported failed "
                            f"({self.landed_at_kill} of {self.schedules} had landed)")
        if not report.applied and self.landed_at_kill:
            problems.append("nothing reported applied although entries had landed")
        problems += self.wrong_reports[:10]
        problems += self.non_503
        problems += self.wrong_write
        if not self.reads_during_outage:
            problems.append("GET of the schedule list did not answer 200 during the outage")
        if not self.converged:
            problems.append(f"no convergence after restart: apply exit {self.converge_exit}, "
                            f"plan exit {self.plan_exit}, {self.live_final} live of "
                            f"{self.schedules}: {self.converge_output[-400:]}")
        return problems


def check_report(report: ApplyReport, live: set[str], planned: set[str]) -> list[str]:
    """The report is exact when every planned change is named once, as applied (and
    live) or as failed (and not live)."""
    wrong = [f"{n}: reported applied, absent from the live store"
             for n in sorted(report.applied - live)]
    wrong += [f"{n}: reported failed, yet present in the live store"
              for n in sorted(set(report.failed) & live)]
    wrong += [f"{n}: reported both applied and failed"
              for n in sorted(report.applied & set(report.failed))]
    wrong += [f"{n}: planned but named in neither list"
              for n in sorted(planned - report.applied - set(report.failed))]
    return wrong


def api_during_outage(server: ServerProcess, scheduler: str, result: OutageResult) -> None:
    """Requests that need the store must get 503 scheduler_unavailable with the error
    body of the spec; reads served from the repository keep working."""
    base = f"/api/v1/projects/{PROJECT}/schedules"
    with server.client(timeout=60) as client:
        listed = client.get(base, params={"limit": 5})
        result.reads_during_outage = int(listed.status_code == 200)
        first = listed.json()["items"][0]["id"] if listed.status_code == 200 else "x"
        calls = [
            ("POST :diff", "POST", f"{base}:diff", {"scheduler": scheduler}),
            ("POST :resync (dry run)", "POST", f"{base}:resync",
             {"direction": "repo_to_scheduler", "dry_run": True}),
        ]
        if scheduler == "aps":
            # An APScheduler run-now is a row in the job store; a Celery one goes through
            # the broker, not the store, so it is no probe of the store's outage.
            calls.append(("POST trigger", "POST", f"{base}/{first}/trigger", None))
        for label, method, path, body in calls:
            response = client.request(method, path, json=body)
            try:
                payload = response.json()
            except ValueError:
                payload = {"raw": response.text[:200]}
            result.api_during_outage.append((label, response.status_code, payload))
            problem = _error_body_problem(response, payload)
            if problem:
                result.non_503.append(f"{label}: {problem}")
        _write_during_outage(client, f"{base}/{first}", result)


def _write_during_outage(client: httpx.Client, path: str, result: OutageResult) -> None:
    """SPEC 6: the commit stays and the answer says the live apply failed; the next
    apply after the restart carries the change over (checked by convergence)."""
    response = client.patch(path, json={"kwargs": {"written": "during the outage"}})
    sync = response.json().get("sync", {}) if response.status_code == 200 else {}
    result.write_during_outage = f"{response.status_code} sync={sync.get('status')}"
    if response.status_code != 200 or sync.get("status") != "failed" or not sync.get("error"):
        result.wrong_write.append(
            f"PATCH during the outage: {response.status_code} {response.text[:300]}, expected "
            "200 with sync.status 'failed' and an error")
    elif not response.headers.get("x-schedsync-commit"):
        result.wrong_write.append("PATCH during the outage made no commit")


def _error_body_problem(response: httpx.Response, payload: dict[str, Any]) -> str:
    if response.status_code != 503:
        return f"status {response.status_code}, expected 503: {str(payload)[:200]}"
    if payload.get("error") != "scheduler_unavailable":
        return f"error code {payload.get('error')!r}, expected 'scheduler_unavailable'"
    if set(payload) != {"error", "message", "details", "request_id"}:
        return f"error body keys {sorted(payload)}, expected error/message/details/request_id"
    if not isinstance(payload["details"], dict) or not payload["message"]:
        return "error body without a message or with non-object details"
    if response.headers.get("x-request-id") != payload["request_id"]:
        return "X-Request-ID differs from request_id"
    return ""


def _kill_when_half_way(store: Store, gate: Gate, proc: subprocess.Popen[str],
                        result: OutageResult) -> None:
    try:
        result.landed_at_kill = gate.hold_after_first(proc)
    finally:
        store.kill()
        gate.close()


def run_outage(tmp: Path, store: Store, schedules: int) -> OutageResult:
    """Apply ``schedules`` entries, kill the store half-way, probe the API, restart,
    compare the report with the live store, apply again."""
    result = OutageResult(store.label, schedules)
    root = outage_repo(tmp / f"repo-{uuid.uuid4().hex[:6]}", store, schedules)
    token = make_token(root)
    planned = {f"out.job{i:05d}" for i in range(schedules)}
    with ServerProcess(root, root.parent / f"{root.name}-server.log", token) as server:
        gate = store.gate()
        proc = subprocess.Popen(
            [sys.executable, "-m", "schedsync", "--repo", str(root), "apply",
             "--auto-approve"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            text=True, env={**os.environ, "NO_COLOR": "1"},
        )
        killer = threading.Thread(target=_kill_when_half_way,
                                  args=(store, gate, proc, result))
        killer.start()
        out, err = proc.communicate(timeout=600)
        killer.join()
        report = ApplyReport.parse(subprocess.CompletedProcess([], proc.returncode, out, err))
        result.report = report
        if report.traceback:
            result.tracebacks.append(f"apply during the outage: {err[-600:]}")
        api_during_outage(server, store.scheduler, result)
        store.restart()
        result.live_after_restart = store.live_keys()
        result.wrong_reports = check_report(report, result.live_after_restart, planned)
        _converge(root, store, result)
        if "Traceback" in server.output():
            result.tracebacks.append(f"server log: {server.output()[-3000:]}")
    return result


def _converge(root: Path, store: Store, result: OutageResult) -> None:
    again = cs.cli(root, "apply", "--auto-approve")
    result.converge_exit = again.returncode
    result.converge_output = again.stdout[-300:] + again.stderr[-300:]
    if cs.crashed(again):
        result.tracebacks.append(f"apply after restart: {again.stderr[-600:]}")
    plan = cs.cli(root, "plan", "--detailed-exitcode")
    result.plan_exit = plan.returncode
    result.live_final = len(store.live_keys())


@contextmanager
def _running(server: _Service) -> Iterator[_Service]:
    try:
        server.start()
        yield server
    finally:
        server.close()


def private_redis() -> AbstractContextManager[PrivateRedis]:
    return _running(PrivateRedis())


def private_postgres() -> AbstractContextManager[PrivatePostgres]:
    return _running(PrivatePostgres())


# -- a kill inside one write batch (RedBeat updates) ------------------------------------


@dataclass
class MidBatchResult:
    """A Redis kill while the apply's update pipeline is half executed."""

    schedules: int
    executed_at_kill: int = 0  # HSETs Redis had run for this apply when it died
    report: ApplyReport | None = None
    updated_live: set[str] = field(default_factory=set)
    wrong_reports: list[str] = field(default_factory=list)
    converged: bool = False


def _hset_calls(conn: Any) -> int:
    return int(conn.info("commandstats").get("cmdstat_hset", {}).get("calls", 0))


def redbeat_kill_inside_update_batch(tmp: Path, redis_: PrivateRedis, schedules: int
                                     ) -> MidBatchResult:
    """Apply N RedBeat entries, change every entry's kwargs, apply again and kill Redis
    once 5/12 of the update's HSETs have run: inside a pipeline, not between two.
    Each entry reported applied must carry the new kwargs live, each one reported
    failed the old ones."""
    import redis

    store = redbeat_store(redis_)
    result = MidBatchResult(schedules)
    root = outage_repo(tmp / f"repo-{uuid.uuid4().hex[:6]}", store, schedules)
    first = cs.cli(root, "apply", "--auto-approve")
    if first.returncode != 0:
        raise RuntimeError(f"initial apply failed: {first.stderr[-400:]}")
    _change_every_kwargs(root)
    conn = redis.Redis.from_url(redis_.url, decode_responses=True)
    started = _hset_calls(conn)
    kill_at = started + schedules * 5 // 12
    proc = subprocess.Popen(
        [sys.executable, "-m", "schedsync", "--repo", str(root), "apply", "--auto-approve"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )

    def kill_inside() -> None:
        seen = 0
        while proc.poll() is None and seen < kill_at:
            seen = _hset_calls(conn)
        redis_.kill()
        result.executed_at_kill = seen - started

    killer = threading.Thread(target=kill_inside)
    killer.start()
    out, err = proc.communicate(timeout=600)
    killer.join()
    result.report = ApplyReport.parse(subprocess.CompletedProcess([], proc.returncode, out, err))
    redis_.start()
    result.updated_live = _entries_with_new_kwargs(redis_.url)
    planned = {f"out.job{i:05d}" for i in range(schedules)}
    result.wrong_reports = check_report(result.report, result.updated_live, planned)
    again = cs.cli(root, "apply", "--auto-approve")
    plan = cs.cli(root, "plan", "--detailed-exitcode")
    result.converged = again.returncode == 0 and plan.returncode == 0
    return result


def _change_every_kwargs(root: Path) -> None:
    import git

    task = "task: schedsync.demo_tasks:heartbeat\n"
    for path in sorted((root / "schedules" / PROJECT).glob("*.yaml")):
        path.write_text(path.read_text().replace(task, task + "    kwargs: {version: 2}\n"))
    repo = git.Repo(root)
    repo.git.add("--all", "schedules")
    repo.git.commit("-m", "every schedule gets kwargs version 2")


def _entries_with_new_kwargs(url: str) -> set[str]:
    import redis

    with redis.Redis.from_url(url, decode_responses=True) as conn:
        members = conn.zrange("redbeat::schedule", 0, -1)
        pipe = conn.pipeline(transaction=False)
        for member in members:
            pipe.hget(member, "definition")
        definitions = pipe.execute()
    return {m.removeprefix("redbeat:") for m, d in zip(members, definitions, strict=True)
            if d and '"version": 2' in d}

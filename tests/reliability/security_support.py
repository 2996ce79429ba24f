"""The role matrix of SPEC section 6 as data, and the runner that checks a real server.

Shared by ``tests/reliability/test_role_matrix.py`` and ``stress/security.py`` (one
copy of the data). The expected outcomes below are written out by hand from the SPEC's
role table, never computed from the server's own code, so a change in the server that
breaks the contract shows up as a wrong cell.

Every cell runs through Starlette's TestClient against a real git repository, a real
SQLite state store and a real APScheduler SQLite job store.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))

from api_support import CONFIG, EMAIL, OTHER, make_repo, make_tokens

from repo_builder import build_repo
from schedsync.engine.state import StateStore

STATE = ".schedsync/state.db"
S = "/api/v1/projects/{slug}/schedules"
I = S + "/{id}"  # noqa: E741 (an item path, read next to S in the table)

# Columns: who calls. Members have a role in project ``acme``; ``global`` is a global
# admin; ``outsider`` is admin of ``other`` only; the three session callers are the
# ``acme`` admin carried by a browser session cookie; ``unknown`` is the global admin
# asking for project ``nope``, which does not exist.
CALLERS = ("viewer", "operator", "admin", "global", "outsider", "anon", "revoked",
           "expired", "badcsrf", "session", "unknown")

# One row per endpoint: method, path, the role the SPEC table asks for, whether the
# SPEC asks for CSRF, then the expected status per caller in CALLERS order. ``403c`` is
# 403 ``csrf_failed``; a plain 403 is ``forbidden``. Login is anyone with a valid token
# (a cookie is not a credential for logging in); logout is anyone authenticated.
TABLE = f"""
GET    /healthz             public   -    200 200 200 200 200 200 200 200 200  200 200
GET    /api/v1/openapi.json public   -    200 200 200 200 200 200 200 200 200  200 200
POST   /api/v1/auth/session login    -    200 200 200 200 200 401 401 401 401  401 200
DELETE /api/v1/auth/session any      csrf 204 204 204 204 204 401 401 401 403c 204 204
GET    {S}                  viewer   -    200 200 200 200 404 401 401 401 200  200 404
GET    {I}                  viewer   -    200 200 200 200 404 401 401 401 200  200 404
GET    {I}/fires            viewer   -    200 200 200 200 404 401 401 401 200  200 404
POST   {S}:diff             viewer   -    200 200 200 200 404 401 401 401 200  200 404
POST   {S}                  operator csrf 403 201 201 201 404 401 401 401 403c 201 404
PATCH  {I}                  operator csrf 403 200 200 200 404 401 401 401 403c 200 404
POST   {I}/disable          operator csrf 403 200 200 200 404 401 401 401 403c 200 404
POST   {I}/enable           operator csrf 403 200 200 200 404 401 401 401 403c 200 404
POST   {I}/trigger          operator csrf 403 202 202 202 404 401 401 401 403c 202 404
POST   {S}:import           admin    csrf 403 403 200 200 404 401 401 401 403c 200 404
POST   {S}:resync           admin    csrf 403 403 200 200 404 401 401 401 403c 200 404
DELETE {I}                  admin    csrf 403 403 204 204 404 401 401 401 403c 204 404
"""

ERROR_OF_STATUS = {"401": "unauthenticated", "404": "not_found", "403": "forbidden",
                   "403c": "csrf_failed"}
MEMBER_ROLE = {"viewer": "viewer", "operator": "operator", "admin": "admin"}
BEARER_USER = {"viewer": "viewer", "operator": "operator", "admin": "admin",
               "global": "global", "outsider": "outsider", "revoked": "revoked",
               "unknown": "global"}
SESSION_USER = "admin"
WRONG_CSRF = "not-the-csrf-value-of-this-session-0123456789abcdef"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # the route path, with {slug} and {id} placeholders
    role: str
    csrf: bool
    expected: dict[str, str]  # caller -> "200", "403c", ...

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path.replace("{id}", "{schedule_id}")

    @property
    def mutating(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")


def parse_table(text: str = TABLE) -> list[Endpoint]:
    rows = []
    for line in text.strip().splitlines():
        method, path, role, csrf, *cells = line.split()
        if len(cells) != len(CALLERS):
            raise ValueError(f"{len(cells)} cells for {len(CALLERS)} callers: {line}")
        expected = dict(zip(CALLERS, cells, strict=True))
        rows.append(Endpoint(method, path, role, csrf == "csrf", expected))
    return rows


ENDPOINTS = parse_table()


def app_endpoints(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (HEAD is GET's twin)."""
    return {(m, route.path) for route in app.routes for m in route.methods if m != "HEAD"}


def openapi_endpoints(document: dict[str, Any]) -> set[tuple[str, str]]:
    verbs = {"get", "post", "put", "patch", "delete"}
    return {(m.upper(), path) for path, ops in document["paths"].items() for m in ops
            if m in verbs}


# -- the repository the matrix runs on --------------------------------------------------

def _targets_yaml() -> str:
    """One schedule per caller, so each caller's writes (delete last) touch only its own."""
    lines = ["schedules:"]
    for caller in CALLERS:
        lines += [f"  - name: m.{caller}", "    scheduler: aps", "    trigger_type: interval",
                  "    trigger: {every: 7, period: minutes}",
                  "    task: schedsync.demo_tasks:heartbeat"]
    return "\n".join(lines) + "\n"


def make_matrix_repo(root: Path, state: str = STATE) -> tuple[Path, dict[str, str]]:
    """The repository (state at ``state``: a SQLite path or PostgreSQL URL) and a token
    per role of ``api_support.ROLES`` plus a revoked one."""
    files = {"schedules/acme/email.yaml": EMAIL, "schedules/other/report.yaml": OTHER,
             "schedules/acme/m.yaml": _targets_yaml(), "schedsync.yaml": config_with_state(state)}
    make_repo(root, files)
    return root, make_tokens(root, state)


# -- running the cells -------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    endpoint: Endpoint
    caller: str
    expected: str
    status: int
    error: str | None
    ok: bool
    why: str = ""

    def line(self) -> str:
        e = self.endpoint
        got = f"{self.status} {self.error or ''}".strip()
        return (f"{e.method} {e.path} as {self.caller}: expected {self.expected}, "
                f"got {got} {self.why}")


class MatrixRunner:
    """Sends one request per (endpoint, caller) and judges it against the table."""

    def __init__(self, app: Any, client: Any, root: Path, tokens: dict[str, str],
                 state: str = STATE) -> None:
        self.app = app
        self.state = state
        self.client = client
        self.root = root
        self.tokens = tokens
        self.ids = self._ids()

    def _ids(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.tokens['global']}"}
        body = self.client.get(S.format(slug="acme") + "?limit=500", headers=headers).json()
        return {item["name"]: item["id"] for item in body["items"]}

    def new_session(self, ttl: timedelta) -> tuple[str, str]:
        return self.new_session_for(SESSION_USER, ttl)

    def new_session_for(self, user: str, ttl: timedelta = timedelta(minutes=5)
                        ) -> tuple[str, str]:
        """(session id, CSRF value) of a new session, made in the state store directly."""
        with StateStore.open(self.state, self.root) as store:
            return store.create_session(user, ttl)

    def head(self) -> str:
        return _head_commit(self.root)

    def request(self, endpoint: Endpoint, caller: str) -> Any:
        slug = "nope" if caller == "unknown" else "acme"
        sid = self.ids[f"m.{'global' if caller == 'unknown' else caller}"]
        path = endpoint.path.format(slug=slug, id=sid)
        headers: dict[str, str] = {}
        token = self.tokens.get(BEARER_USER.get(caller, ""))
        if caller in ("expired", "badcsrf", "session"):
            ttl = timedelta(seconds=-1) if caller == "expired" else timedelta(minutes=5)
            session_id, csrf = self.new_session(ttl)
            headers["Cookie"] = f"schedsync_session={session_id}; schedsync_csrf={csrf}"
            headers["X-CSRF-Token"] = WRONG_CSRF if caller == "badcsrf" else csrf
        elif token is not None and endpoint.key != ("POST", "/api/v1/auth/session"):
            headers["Authorization"] = f"Bearer {token}"
        body = _body(endpoint, caller, token)
        self.client.cookies.clear()  # nothing carries over from an earlier cell
        try:
            if body is None:
                return self.client.request(endpoint.method, path, headers=headers)
            return self.client.request(endpoint.method, path, headers=headers, json=body)
        finally:
            self.client.cookies.clear()

    def judge(self, endpoint: Endpoint, caller: str) -> Cell:
        expected = endpoint.expected[caller]
        before = self.head()
        response = self.request(endpoint, caller)
        error = _error_code(response)
        status_ok = str(response.status_code) == expected.rstrip("c")
        why = ""
        if status_ok and expected in ERROR_OF_STATUS and error != ERROR_OF_STATUS[expected]:
            status_ok, why = False, f"(error code should be {ERROR_OF_STATUS[expected]})"
        if status_ok and expected == "403":
            details = response.json().get("details")
            want = {"have": MEMBER_ROLE[caller], "need": endpoint.role}
            if details != want:
                status_ok, why = False, f"(details {details} should be {want})"
        if status_ok and response.status_code >= 400 and self.head() != before:
            status_ok, why = False, "(refused, yet a commit was made)"
        return Cell(endpoint, caller, expected, response.status_code, error, status_ok, why)

    def run(self) -> list[Cell]:
        # Row order matters: each caller's delete of its own schedule comes last.
        return [self.judge(e, c) for e in ENDPOINTS for c in CALLERS]


def _head_commit(root: Path) -> str:
    """HEAD's commit id, read from the files (a refused request must not move it)."""
    head = (root / ".git" / "HEAD").read_text().strip()
    if head.startswith("ref: "):
        ref = root / ".git" / head[5:]
        return ref.read_text() if ref.exists() else ""
    return head


def _body(endpoint: Endpoint, caller: str, token: str | None) -> dict[str, Any] | None:
    method, path = endpoint.method, endpoint.path
    if path == "/api/v1/auth/session":
        if method == "DELETE":
            return None
        return {"token": token} if token is not None else {}
    if (method, path) == ("POST", S):
        return {"name": f"new.{caller}", "scheduler": "aps", "trigger_type": "interval",
                "trigger": {"every": 9, "period": "minutes"},
                "task": "schedsync.demo_tasks:heartbeat"}
    if method == "PATCH":
        return {"description": f"edited by {caller}"}
    if path.endswith(":import"):
        return {"dry_run": True}
    if path.endswith(":resync"):
        return {"direction": "repo_to_scheduler", "dry_run": True}
    if path.endswith(":diff"):
        return {}
    return None


def _error_code(response: Any) -> str | None:
    if response.status_code < 400:
        return None
    try:
        code = response.json().get("error")
    except ValueError:
        return "(not JSON)"
    return str(code) if code is not None else None


@contextmanager
def matrix_server(root: Path, state: str = STATE) -> Iterator[MatrixRunner]:
    """A fresh matrix repository under ``root`` and a runner against its server."""
    from starlette.testclient import TestClient

    from schedsync.server import create_app

    repo, tokens = make_matrix_repo(root / "repo", state)
    app = create_app(repo)
    with TestClient(app) as client:
        yield MatrixRunner(app, client, repo, tokens, state)


def coverage_gaps(runner: MatrixRunner) -> list[str]:
    """Endpoints served (app routes or OpenAPI) without a row, and rows for no endpoint."""
    routes = app_endpoints(runner.app)
    documented = openapi_endpoints(runner.client.get("/api/v1/openapi.json").json())
    rows = {e.key for e in ENDPOINTS}
    gaps = [f"route without a matrix row: {m} {p}" for m, p in sorted(routes - rows)]
    gaps += [f"OpenAPI operation without a matrix row: {m} {p}"
             for m, p in sorted(documented - rows)]
    gaps += [f"matrix row for no route: {m} {p}" for m, p in sorted(rows - routes)]
    return gaps


def run_matrix(root: Path) -> tuple[list[Cell], list[str]]:
    """Every cell judged, and the coverage gaps between the table and the server."""
    with matrix_server(root) as runner:
        return runner.run(), coverage_gaps(runner)


# -- CSRF ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str = ""


def _csrf_variants(runner: MatrixRunner, csrf: str) -> dict[str, dict[str, str]]:
    """Ways a forged or careless request can get the CSRF header wrong."""
    _, other_csrf = runner.new_session(timedelta(minutes=5))  # a real value, of another session
    flipped = csrf[:-1] + ("A" if csrf[-1] != "A" else "B")
    return {
        "no header": {},
        "empty header": {"X-CSRF-Token": ""},
        "one character changed": {"X-CSRF-Token": flipped},
        "prefix of the value": {"X-CSRF-Token": csrf[:-1]},
        "value plus a character": {"X-CSRF-Token": csrf + "x"},
        "another session's value": {"X-CSRF-Token": other_csrf},
        "value in a query string only": {},
    }


def csrf_checks(runner: MatrixRunner) -> list[Check]:
    """Every CSRF-protected endpoint x every wrong header: 403 csrf_failed, nothing
    written; then the right header works (so the refusals are about CSRF alone)."""
    checks = []
    for endpoint in [e for e in ENDPOINTS if e.csrf]:
        session_id, csrf = runner.new_session(timedelta(minutes=5))
        cookie = f"schedsync_session={session_id}; schedsync_csrf={csrf}"
        for name, extra in _csrf_variants(runner, csrf).items():
            before = runner.head()
            path = _path(runner, endpoint, "session")
            if name == "value in a query string only":
                path += f"?csrf_token={csrf}"
            response = runner.client.request(
                endpoint.method, path, headers={"Cookie": cookie, **extra},
                json=_body(endpoint, "session", None))
            ok = (response.status_code == 403 and _error_code(response) == "csrf_failed"
                  and runner.head() == before)
            checks.append(Check(f"{endpoint.method} {endpoint.path}: {name}", ok,
                                f"got {response.status_code} {_error_code(response)}"))
    return checks


def _path(runner: MatrixRunner, endpoint: Endpoint, caller: str) -> str:
    return endpoint.path.format(slug="acme", id=runner.ids[f"m.{caller}"])


# -- secrets at rest: tokens, sessions ------------------------------------------------

def config_with_state(state: str) -> str:
    """The API tests' schedsync.yaml with its state at ``state`` (a path or URL)."""
    return CONFIG.replace("version: 1\n", f"version: 1\nstate: {state}\n", 1)


def make_auth_secrets(root: Path) -> tuple[list[str], list[str]]:
    """Creates tokens (CLI), sessions (API login), a logout and a revoke on the repo at
    ``root``; returns (every raw secret handed out, the digest of each token)."""
    import hashlib

    from click.testing import CliRunner
    from starlette.testclient import TestClient

    from schedsync.cli.main import cli
    from schedsync.server import create_app

    secrets: list[str] = []
    for user, role in (("ana", "acme=viewer"), ("bo", "acme=admin"), ("cy", "other=operator")):
        result = CliRunner().invoke(cli, ["--repo", str(root), "token", "create",
                                          "--user", user, "--role", role])
        if result.exit_code != 0:
            raise RuntimeError(f"token create failed: {result.output}")
        secrets.append(result.output.strip().splitlines()[-1])
    with TestClient(create_app(root)) as client:
        for token in secrets[:3]:
            response = client.post("/api/v1/auth/session", json={"token": token})
            secrets += [response.cookies["schedsync_session"], response.json()["csrf_token"]]
            client.cookies.clear()
        # The last session logs out; user cy is revoked (tokens and sessions end).
        client.delete("/api/v1/auth/session", headers={
            "Cookie": f"schedsync_session={secrets[-2]}", "X-CSRF-Token": secrets[-1]})
    CliRunner().invoke(cli, ["--repo", str(root), "token", "revoke", "--user", "cy"])
    digests = [hashlib.sha256(token.encode()).hexdigest() for token in secrets[:2]]
    return secrets, digests


def scan_database(url: str, needles: list[str]) -> dict[str, list[str]]:
    """needle -> every ``table.column`` of the database whose value contains it."""
    import sqlalchemy as sa

    found: dict[str, list[str]] = {needle: [] for needle in needles}
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            for table in inspector.get_table_names():
                columns = [c["name"] for c in inspector.get_columns(table)]
                quoted = ", ".join(f'"{c}"' for c in columns)
                for row in conn.execute(sa.text(f'SELECT {quoted} FROM "{table}"')):
                    for column, value in zip(columns, row, strict=True):
                        text = _as_text(value)
                        for needle in needles:
                            if needle in text:
                                found[needle].append(f"{table}.{column}")
    finally:
        engine.dispose()
    return found


def scan_files(paths: list[Path], needles: list[str]) -> dict[str, list[str]]:
    """needle -> every file (SQLite database, WAL, shared memory) holding its bytes."""
    found: dict[str, list[str]] = {needle: [] for needle in needles}
    for path in paths:
        if path.exists():
            data = path.read_bytes()
            for needle in needles:
                if needle.encode() in data:
                    found[needle].append(path.name)
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("latin-1")
    return "" if value is None else str(value)


def sqlite_state_files(root: Path) -> list[Path]:
    db = root / STATE
    return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]


# -- secrets in output: ${VAR} values never printed, logged, returned or recorded -------

SECRET_CONFIG = """\
version: 1
state: ${STATE_URL:-.schedsync/state.db}
projects:
  acme:
    timezone: Europe/Berlin
    schedulers:
      beat:
        type: celery-beat
        store: ${BEAT_STORE:-redbeat}
        url: ${REDIS_URL}
        key_prefix: ${REDIS_PREFIX:-redbeat:}
      aps:
        type: apscheduler
        jobstore: sqlalchemy
        url: ${APS_URL}
"""
SECRET_SCHEDULES = """\
schedules:
  - name: a.one
    scheduler: aps
    trigger_type: interval
    trigger: {every: 5, period: minutes}
    task: schedsync.demo_tasks:heartbeat
  - name: a.two
    scheduler: beat
    trigger_type: interval
    trigger: {every: 5, period: minutes}
    task: demo.ping
"""
CLI_RUNS = (
    ("validate",), ("validate", "--format", "json"), ("plan",), ("plan", "--format", "json"),
    ("plan", "--out", "{root}/saved-plan.json"),
    ("apply", "{root}/saved-plan.json", "--auto-approve"),
    ("apply", "--auto-approve"), ("import", "--project", "acme", "--dry-run"),
    ("resync", "--project", "acme", "--direction", "repo_to_scheduler", "--dry-run"),
    ("trigger", "acme", "a.one"), ("fires", "acme", "a.one"),
    ("diff", "--base", "HEAD"), ("token", "create", "--user", "root", "--admin"), ("serve",),
)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def secret_environments(secret: str, pg_database: str | None) -> dict[str, dict[str, str]]:
    """Scenario name -> the environment it runs in; every URL carries ``secret``."""
    port = closed_port()
    envs = {
        "stores unreachable": {
            "REDIS_URL": f"redis://:{secret}@127.0.0.1:{port}/0",
            "APS_URL": f"postgresql://postgres:{secret}@127.0.0.1:{port}/jobs"},
        "store URLs malformed": {
            "REDIS_URL": f"redis://:{secret}@[bad/0",
            "APS_URL": f"postgres:{secret}@127.0.0.1:notaport/jobs"},
        "secret in a field that fails validation": {
            "BEAT_STORE": f"redis://:{secret}@127.0.0.1:{port}/0",
            "REDIS_URL": "redis://127.0.0.1:6379/5", "APS_URL": "sqlite:///jobs.sqlite"},
        "state unreachable": {
            "STATE_URL": f"postgresql://postgres:{secret}@127.0.0.1:{port}/state",
            "REDIS_URL": "redis://127.0.0.1:6379/5", "APS_URL": "sqlite:///jobs.sqlite"},
        "state URL malformed": {
            "STATE_URL": f"postgresql://postgres:{secret}@127.0.0.1:notaport/state",
            "REDIS_URL": "redis://127.0.0.1:6379/5", "APS_URL": "sqlite:///jobs.sqlite"},
    }
    if pg_database is not None:  # the servers trust local users: passwords are ignored
        url = f"postgresql://postgres:{secret}@127.0.0.1:5432/{pg_database}"
        envs["stores reachable"] = {
            "STATE_URL": url, "APS_URL": url, "REDIS_URL": f"redis://:{secret}@127.0.0.1:6379/5",
            "REDIS_PREFIX": REDIS_PREFIX}
    return envs


# Redis db 5 (spare) under a prefix of its own, deleted after the run.
REDIS_PREFIX = f"schedsync-security-{uuid.uuid4().hex[:8]}:"


def _drop_redis_keys() -> None:
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/5")
    try:
        keys = list(client.scan_iter(match=REDIS_PREFIX + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class Capture:
    """Everything a scenario printed, logged, wrote or answered, by where it came from."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def leaks(self, secret: str) -> list[str]:
        from urllib.parse import quote

        forms = {secret, quote(secret, safe="")}
        return [where for where, text in self.texts if any(f in text for f in forms)]


class _LogRecords:
    def __init__(self) -> None:
        import logging

        self.lines: list[str] = []
        outer = self

        class Handler(logging.Handler):
            def emit(self, record: logging.LogRecord) -> None:
                outer.lines.append(self.format(record))

        self.handler = Handler(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    @contextmanager
    def attached(self) -> Iterator[None]:
        import logging

        root = logging.getLogger()
        level = root.level
        root.addHandler(self.handler)
        root.setLevel(logging.DEBUG)
        try:
            yield
        finally:
            root.removeHandler(self.handler)
            root.setLevel(level)


def _secret_repo(root: Path) -> Path:
    return build_repo(root, SECRET_CONFIG, {"schedules/acme/a.yaml": SECRET_SCHEDULES})


def _run_cli(root: Path, env: dict[str, str], capture: Capture, name: str) -> str | None:
    """Every CLI command of CLI_RUNS; returns the admin token if ``token create`` worked."""
    from unittest import mock

    from click.testing import CliRunner

    from schedsync.cli.main import cli

    crash_log = Path(tempfile.gettempdir()) / "schedsync-crash.log"
    token = None
    for args in CLI_RUNS:
        before = crash_log.stat().st_mtime_ns if crash_log.exists() else None
        args = tuple(arg.format(root=root) for arg in args)  # files inside the scenario
        with mock.patch("uvicorn.run") as serve:  # the CLI's own work, not a server
            result = CliRunner().invoke(cli, ["--repo", str(root), *args], env=env)
        where = f"{name}: schedsync {' '.join(args)}"
        capture.add(where + " (output)", result.output + (result.stderr or ""))
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            capture.add(where + " (exception)", repr(result.exception))
        if serve.called:
            capture.add(where + " (uvicorn.run arguments)", repr(serve.call_args))
        if crash_log.exists() and crash_log.stat().st_mtime_ns != before:
            capture.add(where + " (crash log)", crash_log.read_text())
        if args[:2] == ("token", "create") and result.exit_code == 0:
            token = result.output.strip().splitlines()[-1]
        saved = root / "saved-plan.json"
        if saved.exists():
            capture.add(where + " (saved plan file)", saved.read_text())
    return token


def _run_api(root: Path, env: dict[str, str], token: str | None, capture: Capture,
             name: str) -> None:
    from unittest import mock

    from starlette.testclient import TestClient

    from schedsync.server import create_app

    where = f"{name}: API"
    with mock.patch.dict("os.environ", env):
        try:
            app = create_app(root)
        except Exception as exc:  # noqa: BLE001 - what `serve` would print is the point
            capture.add(where + " (create_app error)", str(exc))
            return
        headers = {"Authorization": f"Bearer {token or 'ssk_none'}"}
        base = "/api/v1/projects/acme/schedules"
        with TestClient(app) as client:
            ids = {i["name"]: i["id"] for i in client.get(base, headers=headers).json()
                   .get("items", [])} if token else {}
            sid = ids.get("a.one", "00000000-0000-0000-0000-000000000000")
            calls = [("GET", base, None), ("POST", base + ":diff", {}),
                     ("PATCH", f"{base}/{sid}", {"description": "edited"}),
                     ("POST", f"{base}/{sid}/disable", None),
                     ("POST", f"{base}/{sid}/trigger", None),
                     ("POST", base + ":import", {"dry_run": True}),
                     ("POST", base + ":resync", {"direction": "repo_to_scheduler"}),
                     ("POST", base, {"name": "a.three", "scheduler": "beat",
                                     "trigger_type": "interval", "task": "demo.ping",
                                     "trigger": {"every": 9, "period": "minutes"}})]
            for method, path, body in calls:
                response = client.request(method, path, headers=headers, json=body)
                capture.add(f"{where} {method} {path} ({response.status_code})",
                            response.text + repr(dict(response.headers)))
        _audit_records(root, capture, where)


def _audit_records(root: Path, capture: Capture, where: str) -> None:
    from schedsync.engine.workspace import Workspace

    ws = Workspace.open(root, allow_invalid=True)
    try:
        for entry in ws.state.audit_entries(limit=1000):
            capture.add(where + " (audit record)", repr(entry))
    except Exception as exc:  # noqa: BLE001 - the state may be the broken part
        capture.add(where + " (state unreachable for the audit)", str(exc))
    finally:
        ws.close()


def _state_files(root: Path, capture: Capture, name: str) -> None:
    for path in sqlite_state_files(root):
        if path.exists():
            capture.add(f"{name}: state file {path.name}", path.read_bytes().decode("latin-1"))


def run_output_checks(tmp: Path, secret: str, pg_database: str | None) -> Capture:
    """Every scenario of ``secret_environments``: CLI, API, logs, plan files, audit."""
    capture = Capture()
    logs = _LogRecords()
    with logs.attached():
        try:
            for index, (name, env) in enumerate(secret_environments(secret, pg_database).items()):
                root = _secret_repo(tmp / f"scenario-{index}")
                token = _run_cli(root, env, capture, name)
                _run_api(root, env, token, capture, name)
                _state_files(root, capture, name)
        finally:
            if pg_database is not None:
                _drop_redis_keys()
    capture.add("log records (all scenarios)", "\n".join(logs.lines))
    if pg_database is not None:
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}"
        for table_column in scan_database(url, [secret])[secret]:
            capture.add(f"PostgreSQL state and job store: {table_column}", secret)
    return capture


def compare_digest_checks(runner: MatrixRunner) -> list[Check]:
    """Force ``hmac.compare_digest``'s answer for the CSRF value: the outcome follows it
    both ways, so it is what decides (no other comparison guards the header)."""
    import hmac
    from unittest import mock

    real = hmac.compare_digest
    forced: dict[bytes, bool] = {}
    seen: list[tuple[Any, Any]] = []

    def spy(a: Any, b: Any) -> bool:
        if a in forced:  # the CSRF comparison; every other caller keeps the real one
            seen.append((a, b))
            return forced[a]
        return real(a, b)

    sid = runner.ids["m.operator"]
    session_id, csrf = runner.new_session_for("operator")
    headers = {"Cookie": f"schedsync_session={session_id}"}

    def post(action: str, value: str) -> Any:
        return runner.client.post(S.format(slug="acme") + f"/{sid}/{action}",
                                  headers={**headers, "X-CSRF-Token": value})

    with mock.patch.object(hmac, "compare_digest", spy):
        forced[b"wrong-value"] = True
        accepted = post("disable", "wrong-value")
        forced[csrf.encode()] = False
        refused = post("enable", csrf)
    restored = post("enable", csrf)
    return [
        Check("compare_digest forced equal: a wrong CSRF value is accepted",
              accepted.status_code == 200 and (b"wrong-value", csrf.encode()) in seen,
              f"got {accepted.status_code}"),
        Check("compare_digest forced different: the right CSRF value is refused",
              refused.status_code == 403 and _error_code(refused) == "csrf_failed"
              and seen[-1] == (csrf.encode(), csrf.encode()),
              f"got {refused.status_code} {_error_code(refused)}"),
        Check("compare_digest unpatched: the right CSRF value works",
              restored.status_code == 200, f"got {restored.status_code}"),
    ]


def cookie_checks(runner: MatrixRunner) -> list[Check]:
    """The session cookie HttpOnly + SameSite, the CSRF cookie readable, both Secure
    over https or with SCHEDSYNC_SECURE_COOKIES=1, neither over plain http."""
    import os
    from unittest import mock

    checks = []
    for label, base, env in (("http", "http://testserver", "0"),
                             ("https", "https://testserver", "0"),
                             ("http + SCHEDSYNC_SECURE_COOKIES=1", "http://testserver", "1")):
        with mock.patch.dict(os.environ, {"SCHEDSYNC_SECURE_COOKIES": env}):
            response = runner.client.post(base + "/api/v1/auth/session",
                                          json={"token": runner.tokens["viewer"]})
        runner.client.cookies.clear()
        cookies = {c.split("=", 1)[0]: [p.strip().lower() for p in c.split(";")[1:]]
                   for c in response.headers.get_list("set-cookie")}
        session = cookies.get("schedsync_session", [])
        csrf = cookies.get("schedsync_csrf", [])
        secure = label != "http"
        checks += [
            Check(f"{label}: session cookie HttpOnly", "httponly" in session, str(session)),
            Check(f"{label}: session cookie SameSite=Lax", "samesite=lax" in session,
                  str(session)),
            Check(f"{label}: CSRF cookie readable (not HttpOnly)",
                  bool(csrf) and "httponly" not in csrf, str(csrf)),
            Check(f"{label}: CSRF cookie SameSite=Lax", "samesite=lax" in csrf, str(csrf)),
            Check(f"{label}: cookies Secure is {secure}",
                  ("secure" in session) == secure and ("secure" in csrf) == secure,
                  f"{session} {csrf}"),
        ]
    return checks

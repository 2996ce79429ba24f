"""Security (issue 8): the role matrix, CSRF, secrets at rest and secrets in output.

Uses the same data and runners as ``tests/reliability/test_role_matrix.py``,
``test_csrf.py``, ``test_secrets_at_rest.py`` and ``test_secrets_in_output.py``
(``tests/reliability/security_support.py``), so the figures and the tests cannot drift.
The full run repeats the matrix and CSRF checks ``ROUNDS`` times on fresh repositories,
then runs the matrix once more with the state on PostgreSQL, and adds PostgreSQL to the
secret scans; ``--quick`` does one round on SQLite only.
"""

from __future__ import annotations

import socket
import tempfile
import uuid
from pathlib import Path

import security_support as sec

from stress.figures import Figure

PART = "security"
ROUNDS = 3


def run(quick: bool) -> list[Figure]:
    postgres = not quick and _postgres_up()
    with tempfile.TemporaryDirectory(prefix="schedsync-security-") as tmp:
        root = Path(tmp)
        rounds = [_matrix_and_csrf(root / f"round-{i}") for i in range(1 if quick else ROUNDS)]
        if postgres:
            rounds.append(_postgres_round(root / "round-postgres"))
        at_rest = _secrets_at_rest(root / "at-rest", postgres)
        output = _secrets_in_output(root / "output", postgres)
    cells = [cell for cells, _, _ in rounds for cell in cells]
    gaps = rounds[0][1]
    checks = [check for _, _, checks in rounds for check in checks]
    return [_matrix_figure(cells, gaps), _csrf_figure(checks), at_rest, output]


Round = tuple[list[sec.Cell], list[str], list[sec.Check]]


def _matrix_and_csrf(root: Path, state: str = sec.STATE) -> Round:
    root.mkdir(parents=True)
    with sec.matrix_server(root, state) as runner:
        cells = runner.run()
        gaps = sec.coverage_gaps(runner)
    if state != sec.STATE:
        return cells, gaps, []
    with sec.matrix_server(root / "csrf") as runner:
        checks = (sec.csrf_checks(runner) + sec.compare_digest_checks(runner)
                  + sec.cookie_checks(runner))
    return cells, gaps, checks


def _postgres_round(root: Path) -> Round:
    """The matrix once more with the state on PostgreSQL (auth look-ups, NOTIFY)."""
    from celery_fixtures.services import scratch_postgres_database

    with scratch_postgres_database() as database:
        return _matrix_and_csrf(root, f"postgresql://postgres@127.0.0.1:5432/{database}")


def _matrix_figure(cells: list[sec.Cell], gaps: list[str]) -> Figure:
    right = sum(cell.ok for cell in cells)
    wrong = [cell.line() for cell in cells if not cell.ok][:3] + gaps[:3]
    endpoints, callers = len(sec.ENDPOINTS), len(sec.CALLERS)
    rounds = len(cells) // (endpoints * callers)
    detail = "; ".join(wrong) or f"{endpoints} endpoints x {callers} callers x {rounds} rounds"
    return Figure(PART, "role matrix cells right / total", f"{right}/{len(cells)}",
                  "100% and every endpoint in the matrix",
                  right == len(cells) and not gaps, detail)


def _csrf_figure(checks: list[sec.Check]) -> Figure:
    right = sum(check.ok for check in checks)
    wrong = [f"{c.name}: {c.detail}" for c in checks if not c.ok][:3]
    detail = "; ".join(wrong) or ("wrong/missing header on every write, compare_digest "
                                  "decides, cookie flags")
    return Figure(PART, "CSRF and cookie checks right / total", f"{right}/{len(checks)}",
                  "100%", right == len(checks), detail)


def _secrets_at_rest(root: Path, postgres: bool) -> Figure:
    found, stores, handed_out = 0, [], 0
    sqlite_repo = _auth_repo(root / "sqlite", sec.STATE)
    secrets, _ = sec.make_auth_secrets(sqlite_repo)
    raw = secrets[:3] + secrets[3::2]  # tokens and session ids (CSRF values are readable)
    handed_out += len(raw)
    in_tables = sec.scan_database(f"sqlite:///{sqlite_repo / sec.STATE}", raw)
    in_files = sec.scan_files(sec.sqlite_state_files(sqlite_repo), raw)
    found += sum(bool(in_tables[s] or in_files[s]) for s in raw)
    stores.append("SQLite tables + files")
    if postgres:
        from celery_fixtures.services import scratch_postgres_database

        with scratch_postgres_database() as database:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{database}"
            secrets, _ = sec.make_auth_secrets(_auth_repo(root / "postgres", url))
            raw = secrets[:3] + secrets[3::2]
            handed_out += len(raw)
            in_pg = sec.scan_database(url, raw)
            found += sum(bool(in_pg[s]) for s in raw)
        stores.append("PostgreSQL tables")
    return Figure(PART, "raw tokens/session ids found in the state", str(found), "0",
                  found == 0, f"{handed_out} secrets handed out; scanned {', '.join(stores)}")


def _auth_repo(root: Path, state: str) -> Path:
    sec.make_repo(root)
    (root / "schedsync.yaml").write_text(sec.config_with_state(state))
    return root


def _secrets_in_output(root: Path, postgres: bool) -> Figure:
    secret = f"pw-{uuid.uuid4().hex[:12]}-Sx"
    root.mkdir(parents=True)
    if postgres:
        from celery_fixtures.services import scratch_postgres_database

        with scratch_postgres_database() as database:
            capture = sec.run_output_checks(root, secret, database)
    else:
        capture = sec.run_output_checks(root, secret, None)
    leaks = capture.leaks(secret)
    scenarios = len(sec.secret_environments(secret, "x" if postgres else None))
    detail = "; ".join(leaks[:3]) or (
        f"{len(capture.texts)} outputs of {scenarios} scenarios: CLI, API, logs, plan "
        "files, audit, state")
    return Figure(PART, "${VAR} secrets found in output", str(len(leaks)), "0",
                  not leaks, detail)


def _postgres_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return False
    return True

"""CSRF and session cookies (SPEC section 6), beyond the role matrix.

Every CSRF-protected endpoint refuses every wrong header; ``hmac.compare_digest`` is
what decides (patched, it flips the outcome); the cookies carry the right flags; a
token or session revoked from the CLI is refused on its very next request.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from security_support import (
    ENDPOINTS,
    MatrixRunner,
    compare_digest_checks,
    cookie_checks,
    csrf_checks,
    matrix_server,
)

from schedsync.cli.main import cli

BASE = "/api/v1/projects/acme/schedules"


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MatrixRunner]:
    with matrix_server(tmp_path_factory.mktemp("csrf")) as runner:
        yield runner


def test_every_protected_endpoint_refuses_every_wrong_header(runner: MatrixRunner) -> None:
    checks = csrf_checks(runner)
    assert len(checks) == 7 * sum(1 for e in ENDPOINTS if e.csrf) == 7 * 9
    wrong = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    assert not wrong, "\n".join(wrong)


def test_compare_digest_decides(runner: MatrixRunner) -> None:
    checks = compare_digest_checks(runner)
    assert len(checks) == 3
    wrong = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    assert not wrong, "\n".join(wrong)


def test_cookie_flags(runner: MatrixRunner) -> None:
    checks = cookie_checks(runner)
    assert len(checks) == 15
    wrong = [f"{c.name}: {c.detail}" for c in checks if not c.ok]
    assert not wrong, "\n".join(wrong)


def test_cli_revoke_is_refused_on_the_next_request(runner: MatrixRunner) -> None:
    token = CliRunner().invoke(cli, ["--repo", str(runner.root), "token", "create",
                                     "--user", "temp", "--role", "acme=admin"])
    assert token.exit_code == 0, token.output
    bearer = {"Authorization": f"Bearer {token.output.strip().splitlines()[-1]}"}
    session_id, _ = runner.new_session_for("temp")
    cookie = {"Cookie": f"schedsync_session={session_id}"}
    for headers in (bearer, cookie):  # both looked up, so both are in the server's cache
        assert runner.client.get(BASE, headers=headers).status_code == 200
    revoked = CliRunner().invoke(cli, ["--repo", str(runner.root), "token", "revoke",
                                       "--user", "temp"])
    assert revoked.exit_code == 0, revoked.output
    for headers in (bearer, cookie):  # no wait: the very next request
        response = runner.client.get(BASE, headers=headers)
        assert response.status_code == 401, response.text


def test_revoke_of_an_unknown_user_fails_cleanly(runner: MatrixRunner, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--repo", str(runner.root), "token", "revoke",
                                      "--user", "ghost"])
    assert result.exit_code == 1
    assert "no user 'ghost'" in result.output
    assert "Traceback" not in result.output

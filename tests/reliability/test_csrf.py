"""CSRF and session cookies (SPEC section 6), beyond the role matrix.

Every CSRF-protected endpoint refuses every wrong header; ``hmac.compare_digest`` is
what decides (patched, it flips the outcome); the cookies carry the right flags; a
token or session revoked from the CLI is refused on its very next request.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from security_support import ENDPOINTS, MatrixRunner, csrf_checks, matrix_server

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


def test_compare_digest_decides(runner: MatrixRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    """Force the CSRF comparison's answer; the outcome follows it, both ways."""
    real = hmac.compare_digest
    forced: dict[bytes, bool] = {}
    seen: list[tuple[bytes, bytes]] = []

    def spy(a: Any, b: Any) -> bool:
        if a in forced:  # the CSRF comparison (other callers keep the real one)
            seen.append((a, b))
            return forced[a]
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    sid = runner.ids["m.operator"]
    session_id, csrf = runner.new_session_for("operator")
    cookie = f"schedsync_session={session_id}"
    forced[b"wrong-value"] = True  # "equal": a wrong value passes
    accepted = runner.client.post(f"{BASE}/{sid}/disable",
                                  headers={"Cookie": cookie, "X-CSRF-Token": "wrong-value"})
    assert accepted.status_code == 200, accepted.text
    assert seen == [(b"wrong-value", csrf.encode())]
    forced[csrf.encode()] = False  # "different": the right value fails
    refused = runner.client.post(f"{BASE}/{sid}/enable",
                                 headers={"Cookie": cookie, "X-CSRF-Token": csrf})
    assert refused.status_code == 403
    assert refused.json()["error"] == "csrf_failed"
    assert seen[-1] == (csrf.encode(), csrf.encode())
    del forced[csrf.encode()]  # unpatched answer: the right value works again
    assert runner.client.post(f"{BASE}/{sid}/enable", headers={
        "Cookie": cookie, "X-CSRF-Token": csrf}).status_code == 200


def _cookies(response: Any) -> dict[str, str]:
    cookies = response.headers.get_list("set-cookie")
    return {c.split("=", 1)[0]: c.lower() for c in cookies}


def _login(runner: MatrixRunner, base_url: str) -> Any:
    response = runner.client.post(base_url + "/api/v1/auth/session",
                                  json={"token": runner.tokens["viewer"]})
    runner.client.cookies.clear()
    assert response.status_code == 200
    return response


def test_cookie_flags_over_http(runner: MatrixRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCHEDSYNC_SECURE_COOKIES", raising=False)
    cookies = _cookies(_login(runner, "http://testserver"))
    session, csrf = cookies["schedsync_session"], cookies["schedsync_csrf"]
    assert "httponly" in session
    assert "samesite=lax" in session
    assert "httponly" not in csrf
    assert "samesite=lax" in csrf
    assert "secure" not in session
    assert "secure" not in csrf


@pytest.mark.parametrize("how", ["https", "configured"])
def test_cookies_are_secure_over_https_or_when_configured(
    runner: MatrixRunner, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "configured":
        monkeypatch.setenv("SCHEDSYNC_SECURE_COOKIES", "1")
    base = "https://testserver" if how == "https" else "http://testserver"
    cookies = _cookies(_login(runner, base))
    for name in ("schedsync_session", "schedsync_csrf"):
        assert "; secure" in cookies[name], cookies[name]
    assert "httponly" in cookies["schedsync_session"]
    assert "httponly" not in cookies["schedsync_csrf"]


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

"""``schedsync token create|revoke``: the token is alone on the last line and works."""

from __future__ import annotations

from pathlib import Path

import pytest
from api_support import make_repo
from click.testing import CliRunner
from starlette.testclient import TestClient

from schedsync.cli.main import cli
from schedsync.server import create_app


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--repo", str(root), "token", *args])
    return result.exit_code, result.output


def test_create_use_extend_revoke(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    code, out = run(root, "create", "--user", "ana", "--email", "ana@example.com",
                    "--role", "acme=viewer")
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    assert token.startswith("ssk_")
    assert " " not in token
    with TestClient(create_app(root)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/projects/acme/schedules", headers=auth).status_code == 200
        assert client.get("/api/v1/projects/other/schedules", headers=auth).status_code == 404
        # Extending adds a role and leaves earlier tokens working.
        code, out = run(root, "create", "--user", "ana", "--role", "other=operator")
        second = out.strip().splitlines()[-1]
        assert code == 0
        assert second != token
        # Role changes reach the server at once (a commit drops its cached look-ups).
        assert client.get("/api/v1/projects/other/schedules", headers=auth).status_code == 200
        code, out = run(root, "revoke", "--user", "ana")
        assert code == 0
        assert "2 token(s)" in out
        assert client.get("/api/v1/projects/acme/schedules", headers=auth).status_code == 401


def test_global_admin(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    code, out = run(root, "create", "--user", "root", "--admin")
    assert code == 0
    token = out.strip().splitlines()[-1]
    with TestClient(create_app(root)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        for slug in ("acme", "other"):
            url = f"/api/v1/projects/{slug}/schedules"
            assert client.get(url, headers=auth).status_code == 200


def test_bad_roles_are_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo")
    for role in ("acme", "acme=owner", "nope=viewer", "=viewer"):
        code, out = run(root, "create", "--user", "x", "--role", role)
        assert code == 2, (role, out)
        assert "--role" in out
    code, out = run(root, "revoke", "--user", "ghost")
    assert code != 0


@pytest.mark.parametrize(("option", "value"), [
    ("--user", "ana\x01"), ("--user", "ana\nAuthor: x"), ("--user", "ana <a@b>"),
    ("--user", "  "), ("--user", "x" * 201), ("--email", "a@b>\n"),
])
def test_names_that_would_corrupt_the_git_author_are_refused(
    tmp_path: Path, option: str, value: str
) -> None:
    root = make_repo(tmp_path / "repo")
    args = ["create", "--user", "ana", "--email", "ana@example.com"]
    args[args.index(option) + 1] = value
    code, out = run(root, *args)
    assert code == 2, out
    assert option in out
    assert "git author" in out
    assert "Traceback" not in out
    code, out = run(root, "revoke", "--user", "ana")
    assert code != 0  # nothing was created


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_revoke_and_role_changes_reach_a_running_server_at_once(
    tmp_path: Path, store: str, request: pytest.FixtureRequest
) -> None:
    root = make_repo(tmp_path / "repo")
    if store == "postgres":  # the server learns of changes by LISTEN/NOTIFY there
        url = request.getfixturevalue("postgres_url")
        config = (root / "schedsync.yaml").read_text()
        (root / "schedsync.yaml").write_text(config.replace("version: 1\n",
                                                            f"version: 1\nstate: {url}\n"))
    code, out = run(root, "create", "--user", "ana", "--role", "acme=viewer")
    assert code == 0, out
    auth = {"Authorization": f"Bearer {out.strip().splitlines()[-1]}"}
    url_acme, url_other = "/api/v1/projects/acme/schedules", "/api/v1/projects/other/schedules"
    with TestClient(create_app(root)) as client:
        for _ in range(3):  # looked up, then served from the server's cache
            assert client.get(url_acme, headers=auth).status_code == 200
        assert client.get(url_other, headers=auth).status_code == 404
        assert run(root, "create", "--user", "ana", "--role", "other=viewer")[0] == 0
        assert client.get(url_other, headers=auth).status_code == 200  # no wait
        assert run(root, "revoke", "--user", "ana")[0] == 0
        assert client.get(url_acme, headers=auth).status_code == 401  # no wait


def test_the_sqlite_watcher_ignores_schedule_writes_but_not_access_changes(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from schedsync.engine.state import StateStore
    from schedsync.server.auth import SqliteChanges

    root = make_repo(tmp_path / "repo")
    store = StateStore.open(".schedsync/state.db", root)
    try:
        store.upsert_user("ana", roles={"acme": "viewer"})
        watcher = SqliteChanges(root / ".schedsync" / "state.db")
        assert watcher.changed()  # the first look knows nothing yet
        assert not watcher.changed()
        store.ensure_schedule("acme", "email.digest")  # what an API write records
        store.touch("acme", "email.digest", datetime.now(UTC))
        assert not watcher.changed()
        store.create_token("ana")  # a new token narrows nothing: cached misses are not kept
        assert not watcher.changed()
        store.revoke_tokens("ana")
        assert watcher.changed()
        assert not watcher.changed()
        store.upsert_user("ana", roles={"acme": "operator"})
        assert watcher.changed()
    finally:
        store.close()

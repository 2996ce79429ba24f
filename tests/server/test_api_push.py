"""Writes push when the branch has a remote; a rejected push is a 409 with a clean
checkout."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api, make_repo, make_tokens
from starlette.testclient import TestClient

from schedsync.server import create_app

BASE = "/api/v1/projects/acme/schedules"
EMAIL = "schedules/acme/email.yaml"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                           *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout.strip()


def push_elsewhere(origin: Path, other: Path, old: str, new: str, message: str) -> None:
    """Another clone of ``origin`` replaces ``old`` by ``new`` in EMAIL and pushes it."""
    subprocess.run(["git", "clone", "-q", str(origin), str(other)], check=True)
    path = other / EMAIL
    path.write_text(path.read_text().replace(old, new))
    git(other, "commit", "-qam", message)
    git(other, "push", "-q")


@pytest.fixture
def pushing(tmp_path: Path) -> Iterator[tuple[Api, Path]]:
    origin = tmp_path / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(origin)], check=True)
    root = make_repo(tmp_path / "repo")
    git(root, "remote", "add", "origin", str(origin))
    git(root, "push", "-q", "-u", "origin", "HEAD")
    tokens = make_tokens(root)
    with TestClient(create_app(root)) as client:
        yield Api(client, root, tokens), origin


def test_a_write_is_pushed(pushing: tuple[Api, Path]) -> None:
    api, origin = pushing
    response = api.call("POST", BASE, json={"name": "pushed.job", "scheduler": "aps",
                                            "trigger_type": "interval",
                                            "trigger": {"every": 3}, "task": "jobs.run"})
    assert response.status_code == 201, response.text
    branch = git(api.root, "rev-parse", "--abbrev-ref", "HEAD")
    assert git(origin, "rev-parse", branch) == git(api.root, "rev-parse", "HEAD")


def test_a_rejected_push_is_409_and_leaves_the_checkout_clean(
    pushing: tuple[Api, Path], tmp_path: Path
) -> None:
    api, origin = pushing
    push_elsewhere(origin, tmp_path / "other", 'hour: "9"', 'hour: "7"',
                   "someone else moved the digest")
    head, text = git(api.root, "rev-parse", "HEAD"), (api.root / EMAIL).read_text()
    sid = api.ids()["email.digest"]
    response = api.call("PATCH", f"{BASE}/{sid}", json={
        "trigger": {"minute": "0", "hour": "10", "day_of_week": "1"}})
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "conflict"
    assert git(api.root, "rev-parse", "HEAD") == head
    assert (api.root / EMAIL).read_text() == text
    assert git(api.root, "status", "--porcelain") == ""
    assert api.call("GET", f"{BASE}/{sid}").json()["trigger"]["hour"] == "9"


def test_a_push_rebased_onto_other_changes_shows_them(
    pushing: tuple[Api, Path], tmp_path: Path
) -> None:
    api, origin = pushing
    push_elsewhere(origin, tmp_path / "other", "every: 5", "every: 7",  # email.ping
                   "someone else slowed the ping")
    sid = api.ids()["email.digest"]
    response = api.call("PATCH", f"{BASE}/{sid}", json={"description": "ours"})
    assert response.status_code == 200, response.text
    assert git(origin, "rev-parse", "HEAD") == git(api.root, "rev-parse", "HEAD")
    text = (api.root / EMAIL).read_text()
    assert "every: 7" in text
    assert "description: ours" in text
    # The server shows the repository as it now is, the rebased-in change included.
    ping = api.call("GET", f"{BASE}/{api.ids()['email.ping']}").json()
    assert ping["trigger"]["every"] == 7

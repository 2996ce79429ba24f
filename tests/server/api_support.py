"""Helpers of the API tests: a real git repository with an APScheduler SQLite store,
users of every role, and a small client wrapper."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
from starlette.testclient import TestClient

from repo_builder import EMAIL, acme_config, build_repo
from schedsync.engine.state import StateStore

# acme as in every APScheduler test, and a second project with a store of its own.
CONFIG = acme_config() + (
    "  other:\n    schedulers:\n      aps:\n        type: apscheduler\n"
    "        jobstore: sqlalchemy\n        url: sqlite:///.schedsync/other-jobs.sqlite\n")
OTHER = textwrap.dedent("""\
    schedules:
      - name: report.weekly
        scheduler: aps
        trigger_type: cron
        trigger: "0 6 * * 1"
        task: reports.weekly
    """)

ROLES: dict[str, dict[str, Any]] = {
    "viewer": {"roles": {"acme": "viewer"}},
    "operator": {"roles": {"acme": "operator"}},
    "admin": {"roles": {"acme": "admin"}},
    "global": {"admin": True},
    "outsider": {"roles": {"other": "admin"}},
}


def make_repo(root: Path, files: dict[str, str] | None = None) -> Path:
    """``CONFIG`` with ``files`` (by default ``EMAIL`` in acme and ``OTHER`` in other)."""
    files = files or {"schedules/acme/email.yaml": EMAIL, "schedules/other/report.yaml": OTHER}
    return build_repo(root, CONFIG, files)


def make_tokens(root: Path, state: str = ".schedsync/state.db") -> dict[str, str]:
    """One token per role of ``ROLES``, plus a revoked one, in the state at ``state``."""
    with StateStore.open(state, root) as store:
        tokens = {}
        for name, spec in {**ROLES, "revoked": {"roles": {"acme": "admin"}}}.items():
            store.upsert_user(name, email=f"{name}@example.com", admin=spec.get("admin"),
                              roles=spec.get("roles"))
            tokens[name] = store.create_token(name)
        store.revoke_tokens("revoked")
        return tokens


@dataclass
class Api:
    client: TestClient
    root: Path
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def call(self, method: str, path: str, who: str | None = "global", **kw: Any) -> Any:
        headers = {**(self.h(who) if who else {}), **kw.pop("headers", {})}
        response = self.client.request(method, path, headers=headers, **kw)
        assert response.status_code != 500, response.text
        return response

    def ids(self, project: str = "acme") -> dict[str, str]:
        body = self.call("GET", f"/api/v1/projects/{project}/schedules?limit=500").json()
        return {item["name"]: item["id"] for item in body["items"]}

    @property
    def git(self) -> git.Repo:
        return git.Repo(self.root)



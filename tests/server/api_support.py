"""Helpers of the API tests: a real git repository with an APScheduler SQLite store,
users of every role, and a small client wrapper."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import git
from starlette.testclient import TestClient

from schedsync.engine.state import StateStore

CONFIG = textwrap.dedent("""\
    version: 1
    projects:
      acme:
        timezone: Europe/Berlin
        schedulers:
          aps:
            type: apscheduler
            jobstore: sqlalchemy
            url: sqlite:///.schedsync/jobs.sqlite
      other:
        schedulers:
          aps:
            type: apscheduler
            jobstore: sqlalchemy
            url: sqlite:///.schedsync/other-jobs.sqlite
    """)
EMAIL = textwrap.dedent("""\
    # Email jobs: reviewed by the growth team.
    schedules:
      - name: email.digest
        scheduler: aps
        trigger_type: cron
        trigger: {minute: "0", hour: "9", day_of_week: "1"}   # Mondays
        task: schedsync.demo_tasks:send_digest
        kwargs: {locale: en-US}
      - name: email.ping
        scheduler: aps
        trigger_type: interval
        trigger: {every: 5, period: minutes}
        task: schedsync.demo_tasks:heartbeat
    """)
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
    files = files or {"schedules/acme/email.yaml": EMAIL, "schedules/other/report.yaml": OTHER}
    root.mkdir(parents=True, exist_ok=True)
    (root / "schedsync.yaml").write_text(CONFIG)
    (root / ".gitignore").write_text(".schedsync/\n")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    g = git.Repo.init(root)
    g.index.add(["schedsync.yaml", ".gitignore", *files])
    actor = git.Actor("t", "t@example.com")
    g.index.commit("schedules", author=actor, committer=actor)
    return root


def make_tokens(root: Path) -> dict[str, str]:
    """One token per role of ``ROLES``, plus a revoked one."""
    store = StateStore.open(".schedsync/state.db", root)
    try:
        tokens = {}
        for name, spec in {**ROLES, "revoked": {"roles": {"acme": "admin"}}}.items():
            store.upsert_user(name, email=f"{name}@example.com", admin=spec.get("admin"),
                              roles=spec.get("roles"))
            tokens[name] = store.create_token(name)
        store.revoke_tokens("revoked")
        return tokens
    finally:
        store.close()


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



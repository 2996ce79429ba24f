"""Writes: YAML + one commit by the caller + live apply; every refusal path; inputs that
must never produce a 500 or a file outside ``schedules/<slug>/``."""

from __future__ import annotations

import pickle
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from api_support import Api

from schedsync.engine.state import StateStore

BASE = "/api/v1/projects/acme/schedules"
EMAIL = "schedules/acme/email.yaml"


def new(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "scheduler": "aps", "trigger_type": "cron",
            "trigger": {"minute": "15", "hour": "7"}, "task": "jobs.run", **extra}


def jobs(root: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(root / ".schedsync" / "jobs.sqlite") as conn:
        rows = conn.execute("SELECT id, next_run_time, job_state FROM apscheduler_jobs")
        return {key: {**pickle.loads(state), "row_next": nrt} for key, nrt, state in rows}


def diff_stat(root: Path) -> str:
    return subprocess.run(["git", "diff", "--stat", "HEAD~1"], cwd=root, capture_output=True,
                          text=True, check=True).stdout


def commits(api: Api) -> int:
    return len(list(api.git.iter_commits()))


def files_outside(root: Path) -> list[str]:
    """Files git does not know about, apart from the state folder."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def test_create_writes_yaml_commits_as_the_caller_and_applies(api: Api) -> None:
    response = api.call("POST", BASE, who="operator", json=new("billing.invoice",
                                                               kwargs={"x": "ü"}))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sync"] == {"status": "applied"}
    assert body["name"] == "billing.invoice"
    text = (api.root / "schedules/acme/billing.yaml").read_text()
    assert "name: billing.invoice" in text
    commit = api.git.head.commit
    assert commit.author.name == "operator"
    assert commit.author.email == "operator@example.com"
    assert "create" in commit.message
    assert "acme/billing.invoice" in commit.message
    assert response.headers["x-schedsync-commit"] == commit.hexsha
    assert "billing.invoice" in jobs(api.root)
    assert api.call("GET", f"{BASE}/{body['id']}").json()["kwargs"] == {"x": "ü"}
    assert files_outside(api.root) == []


def test_create_into_a_named_file_keeps_the_rest_byte_for_byte(api: Api) -> None:
    before = (api.root / EMAIL).read_text()
    response = api.call("POST", BASE, json={**new("digest.extra"), "file": "email.yaml"})
    assert response.status_code == 201, response.text
    after = (api.root / EMAIL).read_text()
    assert after.startswith(before)
    assert "# Mondays" in after


@pytest.mark.parametrize("file", ["../other/x.yaml", "../../x.yaml", "/etc/passwd.yaml",
                                  ".hidden.yaml", "sub/../../../x.yaml", "x.txt",
                                  "schedules/other/x.yaml", "a\\b.yaml", "x\u0000.yaml", "",
                                  "..", "sub/.git/config.yaml"])
def test_path_tricks_in_file_are_refused(api: Api, file: str) -> None:
    head = api.git.head.commit.hexsha
    response = api.call("POST", BASE, json={**new("trick.one"), "file": file})
    assert response.status_code == 422, (file, response.text)
    assert response.json()["details"]["errors"][0]["field"] == "file"
    assert api.git.head.commit.hexsha == head
    assert files_outside(api.root) == []


@pytest.mark.parametrize("name", ["../../evil", "a/b", "..", ".hidden", "x" * 201, "",
                                  "name with space", "ünïcode", "a\u202eb", "\u0000"])
def test_bad_names_are_422_and_write_nothing(api: Api, name: str) -> None:
    response = api.call("POST", BASE, json=new(name))
    assert response.status_code == 422
    assert files_outside(api.root) == []


def test_path_tricks_in_slug_are_404(api: Api) -> None:
    for slug in ["..", "%2e%2e", "acme%2f..", "ACME", "acme ", "a" * 300]:
        response = api.call("POST", f"/api/v1/projects/{slug}/schedules", json=new("a.b"))
        assert response.status_code == 404, slug
    assert files_outside(api.root) == []


def test_name_taken_is_409(api: Api) -> None:
    response = api.call("POST", BASE, json=new("email.digest"))
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"


def test_unknown_scheduler_is_422(api: Api) -> None:
    response = api.call("POST", BASE, json={**new("a.b"), "scheduler": "celery"})
    assert response.status_code == 422
    assert response.json()["details"]["errors"][0]["field"] == "scheduler"


def test_422_lists_every_field_error(api: Api) -> None:
    body = {"name": "bad name", "scheduler": "aps", "trigger_type": "interval",
            "trigger": {"every": 0, "period": "fortnights"}, "task": "not a task",
            "enabled": "yes", "priority": 999, "timezone": "Mars/Base", "color": "red"}
    response = api.call("POST", BASE, json=body)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["details"]["errors"]}
    assert {"name", "trigger.every", "trigger.period", "task", "enabled", "priority",
            "timezone", "color"} <= fields, fields


def test_repository_rules_are_checked_before_writing(api: Api) -> None:
    head = api.git.head.commit.hexsha
    body = {**new("impossible.date"), "trigger": {"day_of_month": "31", "month_of_year": "2"}}
    response = api.call("POST", BASE, json=body)
    assert response.status_code == 422, response.text
    error = response.json()["details"]["errors"][0]
    assert error["file"] == "schedules/acme/impossible.yaml"
    assert api.git.head.commit.hexsha == head
    assert not (api.root / "schedules/acme/impossible.yaml").exists()


def test_args_over_64k_is_413_naming_the_field(api: Api) -> None:
    for field, value in (("args", ["x" * 70_000]), ("kwargs", {"k": "é" * 40_000})):
        response = api.call("POST", BASE, json={**new("big.one"), field: value})
        assert response.status_code == 413
        assert response.json()["details"]["field"] == field
    sid = api.ids()["email.ping"]
    response = api.call("PATCH", f"{BASE}/{sid}", json={"args": ["y" * 70_000]})
    assert response.status_code == 413
    assert response.json()["details"]["field"] == "args"


def test_bodies_over_1mib_are_refused_without_reading_them(api: Api) -> None:
    declared = api.call("POST", BASE, content=b"{" + b" " * (2 << 20) + b"}",
                        headers={"Content-Type": "application/json"})
    assert declared.status_code == 413
    assert declared.json()["error"] == "payload_too_large"
    sent: list[int] = []

    def chunks() -> Any:
        for _ in range(64):  # 4 MiB if it were all read
            sent.append(1)
            yield b" " * 65536

    # Without Content-Length (chunked); the real-socket test proves it stops reading.
    streamed = api.call("POST", BASE, content=chunks(),
                        headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413


@pytest.mark.parametrize("raw", [b"{bad json", b"[1, 2]", b'"text"', b"null", b"",
                                 b'{"a": 1e999999}', b'{"name": 123456789012345678901234567890}',
                                 b"\xff\xfe", b'{"name": "\\ud800"}', b"{" * 10000])
def test_malformed_bodies_are_400(api: Api, raw: bytes) -> None:
    response = api.call("POST", BASE, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert response.json()["error"] in ("invalid_request", "validation_error")


@pytest.mark.parametrize("value", [None, 1, 1.5, True, [], {}, "x" * 3000, "\u0000",
                                   "\ud7ff\ue000", "line\nbreak", "\u2028", 10**18, -1])
def test_odd_values_never_500(api: Api, value: Any) -> None:
    for field in ("description", "queue", "priority", "expires", "task", "trigger",
                  "timezone", "args", "kwargs"):
        response = api.call("POST", BASE, json={**new(f"odd.{field}"), field: value})
        assert response.status_code in (201, 413, 422), (field, value, response.text)
        if response.status_code == 201:
            assert api.call("DELETE", f"{BASE}/{response.json()['id']}").status_code == 204


def test_patch_of_one_field_is_a_one_line_diff(api: Api) -> None:
    sid = api.ids()["email.digest"]
    response = api.call("PATCH", f"{BASE}/{sid}", who="operator",
                        json={"trigger": {"minute": "0", "hour": "10", "day_of_week": "1"}})
    assert response.status_code == 200, response.text
    assert response.json()["trigger"]["hour"] == "10"
    assert "1 insertion(+), 1 deletion(-)" in diff_stat(api.root)
    assert "# Mondays" in (api.root / EMAIL).read_text()
    assert jobs(api.root)["email.digest"]["trigger"].fields[5].expressions[0].first == 10


def test_a_crlf_file_keeps_its_line_endings(tmp_path: Path) -> None:
    from api_support import make_repo, make_tokens
    from starlette.testclient import TestClient

    from repo_builder import EMAIL as SEED
    from schedsync.engine.spec import make_spec
    from schedsync.engine.workspace import Workspace
    from schedsync.server import create_app

    root = make_repo(tmp_path / "repo", {EMAIL: SEED.replace("\n", "\r\n"),
                                         "schedules/other/report.yaml": "schedules: []\n"})
    with TestClient(create_app(root)) as client:
        crlf = Api(client, root, make_tokens(root))
        ids = crlf.ids()
        sid = next(iter(ids.values()))
        response = crlf.call("PATCH", f"{BASE}/{sid}", json={"description": "in CRLF"})
        assert response.status_code == 200, response.text
        assert diff_stat(root).endswith("1 file changed, 1 insertion(+)\n")
        assert crlf.call("POST", f"{BASE}/{sid}/disable").status_code == 200
        assert diff_stat(root).endswith("1 file changed, 1 insertion(+)\n")  # enabled: false
        # An import from the live store writes through engine/livewrite.py.
        ws = Workspace.open(root)
        try:
            ws.adapter("acme", "aps").create("email.extra", make_spec(
                name="email.extra", trigger_type="interval", trigger={"every": 1, "period":
                "hours"}, task="schedsync.demo_tasks:heartbeat", timezone="Europe/Berlin"))
        finally:
            ws.close()
        imported = crlf.call("POST", f"{BASE}:import", json={"scheduler": "aps"})
        assert imported.status_code == 200, imported.text
        assert imported.json()["created"] == ["email.extra"]
        stat = diff_stat(root)
        assert " 1 file changed" in stat
        assert "deletion" not in stat
    data = (root / EMAIL).read_bytes()
    assert b"description: in CRLF\r\n" in data
    assert b"name: email.extra\r\n" in data
    assert data.count(b"\n") == data.count(b"\r\n")  # every line still ends in CRLF


def test_patch_rename_keeps_the_id(api: Api) -> None:
    api.call("POST", f"{BASE}:resync", json={"direction": "repo_to_scheduler"})
    sid = api.ids()["email.ping"]
    response = api.call("PATCH", f"{BASE}/{sid}", json={"name": "email.heartbeat"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == sid
    assert response.json()["renamed_from"] == "email.ping"
    assert api.ids()["email.heartbeat"] == sid
    text = (api.root / EMAIL).read_text()
    assert "name: email.heartbeat" in text
    assert "renamed_from: email.ping" in text
    # The live entry is kept (same key), not recreated.
    assert "email.ping" in jobs(api.root)


def test_patch_refusals(api: Api) -> None:
    sid = api.ids()["email.ping"]
    for body, status in [
        ({}, 422), ({"name": "email.digest"}, 409), ({"scheduler": "nope"}, 422),
        ({"trigger_type": "cron"}, 422), ({"enabled": "no"}, 422), ({"file": "x.yaml"}, 422),
        ({"task": None}, 422), ({"unknown": 1}, 422),
    ]:
        response = api.call("PATCH", f"{BASE}/{sid}", json=body)
        assert response.status_code == status, (body, response.text)
    assert api.git.head.commit.message.startswith("schedules")
    assert api.call("PATCH", f"{BASE}/nope", json={"enabled": False}).status_code == 404


def test_patch_that_changes_nothing_makes_no_commit(api: Api) -> None:
    sid = api.ids()["email.ping"]
    before = commits(api)
    response = api.call("PATCH", f"{BASE}/{sid}", json={"task": "schedsync.demo_tasks:heartbeat"})
    assert response.status_code == 200
    assert commits(api) == before


def test_disable_enable_pause_the_live_job(api: Api) -> None:
    sid = api.ids()["email.ping"]
    api.call("POST", f"{BASE}:resync", json={"direction": "repo_to_scheduler"})
    assert jobs(api.root)["email.ping"]["row_next"] is not None
    off = api.call("POST", f"{BASE}/{sid}/disable", who="operator")
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    assert off.json()["next_run_at"] is None
    assert jobs(api.root)["email.ping"]["row_next"] is None
    assert "enabled: false" in (api.root / EMAIL).read_text()
    again = commits(api)
    api.call("POST", f"{BASE}/{sid}/disable")
    assert commits(api) == again  # already disabled: no empty commit
    on = api.call("POST", f"{BASE}/{sid}/enable")
    assert on.json()["enabled"] is True
    assert jobs(api.root)["email.ping"]["row_next"] is not None


def test_delete_removes_yaml_and_live_entry(api: Api) -> None:
    created = api.call("POST", BASE, json=new("temp.job")).json()
    assert "temp.job" in jobs(api.root)
    response = api.call("DELETE", f"{BASE}/{created['id']}", who="admin")
    assert response.status_code == 204
    assert response.content == b""
    assert "temp.job" not in jobs(api.root)
    assert "temp.job" not in (api.root / "schedules/acme/temp.yaml").read_text()
    assert "delete" in api.git.head.commit.message
    assert api.call("GET", f"{BASE}/{created['id']}").status_code == 404
    assert api.call("DELETE", f"{BASE}/{created['id']}").status_code == 404


def test_trigger_returns_task_id_and_records_the_fire(api: Api) -> None:
    api.call("POST", f"{BASE}:resync", json={"direction": "repo_to_scheduler"})
    sid = api.ids()["email.ping"]
    response = api.call("POST", f"{BASE}/{sid}/trigger", who="operator")
    assert response.status_code == 202, response.text
    body = response.json()
    assert set(body) == {"task_id", "schedule_id", "fired_at"}
    assert body["schedule_id"] == sid
    assert body["task_id"]
    fires = api.call("GET", f"{BASE}/{sid}/fires").json()["items"]
    assert fires[0]["task_id"] == body["task_id"]
    assert fires[0]["source"] == "manual"


def test_every_write_is_audited(api: Api) -> None:
    created = api.call("POST", BASE, who="operator", json=new("audit.me")).json()
    api.call("POST", BASE, who="operator", json=new("email.digest"))  # refused: 409
    api.call("DELETE", f"{BASE}/{created['id']}", who="admin")
    store = StateStore.open(".schedsync/state.db", api.root)
    entries = store.audit_entries("acme")
    store.close()
    seen = [(e.actor, e.action, e.target, e.result) for e in entries]
    assert ("operator", "create", "audit.me", "ok") in seen
    assert any(a == "operator" and r.startswith("refused") for a, _, _, r in seen)
    assert ("admin", "delete", "audit.me", "ok") in seen


@pytest.mark.parametrize("live", ["up", "down"])
def test_a_patch_moves_updated_at_with_its_audit_entry(api: Api, live: str) -> None:
    if live == "down":  # the commit stays, and so do updated_at and the audit entry
        ctx = api.client.app.state.api  # type: ignore[attr-defined]
        ctx.writer._adapters[("acme", "aps")] = BrokenAdapter(ctx.writer.adapter("acme", "aps"))
    sid = api.ids()["email.ping"]
    with StateStore.open(".schedsync/state.db", api.root) as store:
        store.touch("acme", "email.ping", datetime(2020, 1, 1, tzinfo=UTC))
    started = datetime.now(UTC).replace(microsecond=0)
    response = api.call("PATCH", f"{BASE}/{sid}", who="operator", json={"description": "x"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["sync"]["status"] == ("applied" if live == "up" else "failed")
    assert api.call("GET", f"{BASE}/{sid}").json()["updated_at"] == body["updated_at"]
    listed = api.call("GET", f"{BASE}?limit=500").json()["items"]  # the cached records
    assert next(i for i in listed if i["id"] == sid)["updated_at"] == body["updated_at"]
    with StateStore.open(".schedsync/state.db", api.root) as store:
        record = store.schedule_by_id("acme", sid)
        entry = store.audit_entries("acme", limit=1)[0]
    assert record is not None
    assert record.updated_at >= started
    assert body["updated_at"] == record.updated_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (entry.actor, entry.action, entry.target) == ("operator", "update", "email.ping")
    assert entry.result == ("ok" if live == "up" else "committed; live apply failed")
    assert entry.details is not None
    assert entry.details["commit"] == response.headers["x-schedsync-commit"]


class BrokenAdapter:
    """A store that is down: every call fails, but ``normalize``, which never reaches
    the store (a plan normalises the desired specs before it lists the live ones)."""

    def __init__(self, real: Any) -> None:
        self.capabilities = real.capabilities
        self.normalize = real.normalize

    def close(self) -> None:
        return None

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise ConnectionError("store is down")

        return fail


def test_failed_live_apply_keeps_the_commit(api: Api) -> None:
    ctx = api.client.app.state.api  # type: ignore[attr-defined]
    ctx.writer._adapters[("acme", "aps")] = BrokenAdapter(ctx.writer.adapter("acme", "aps"))
    response = api.call("POST", BASE, json=new("offline.job"))
    assert response.status_code == 201
    assert response.json()["sync"]["status"] == "failed"
    assert "store is down" in response.json()["sync"]["error"]
    assert "offline" in api.git.head.commit.message
    diff = api.call("POST", f"{BASE}:diff", json={})
    assert diff.status_code == 503
    assert diff.json()["error"] == "scheduler_unavailable"
    sid = api.ids()["email.ping"]
    assert api.call("POST", f"{BASE}/{sid}/trigger").status_code == 503


def test_rules_across_files_are_kept(api: Api) -> None:
    # email.ping lives in email.yaml; these edits are in other files.
    response = api.call("POST", BASE, json={**new("other.job"), "renamed_from": "email.ping"})
    assert response.status_code == 422, response.text
    assert response.json()["details"]["errors"][0]["type"] == "renamed-from-exists"
    response = api.call("POST", BASE, json={**new("email.ping"), "file": "other.yaml"})
    assert response.status_code == 409
    assert files_outside(api.root) == []


SEVERAL = """\
# Email jobs
schedules:
  - name: email.digest
    scheduler: aps
    trigger_type: cron
    trigger: {minute: "0", hour: "9", day_of_week: "1"}   # Mondays
    task: schedsync.demo_tasks:send_digest

  # the ping
  - name: email.ping
    scheduler: aps
    trigger_type: interval
    trigger:
      every: 5
      period: minutes
    task: schedsync.demo_tasks:heartbeat
  - name: email.late
    scheduler: aps
    trigger_type: cron
    trigger: {minute: "30", hour: "23", day_of_month: "1", day_of_week: "1"}
    task: schedsync.demo_tasks:heartbeat
"""


def snapshot(repo: Any) -> tuple[list[Any], list[Any]]:
    """What readers and later writes use: schedules with their places, diagnostics."""
    schedules = sorted(
        (rs.project, rs.schedule.name, rs.file, rs.index, rs.line, rs.spec,
         rs.schedule.model_dump())
        for items in repo.schedules.values() for rs in items
    )
    diagnostics = sorted((d.file, d.line, d.column, d.code, d.path, d.message)
                         for d in repo.diagnostics.items)
    return schedules, diagnostics


def test_single_schedule_writes_leave_what_a_fresh_load_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api_support import make_repo, make_tokens
    from starlette.testclient import TestClient

    from schedsync.engine.repository import load_repository
    from schedsync.server import create_app, writes

    quick: list[Any] = []
    for name in ("revalidate_item", "revalidate_added"):
        real = getattr(writes, name)
        monkeypatch.setattr(writes, name,
                            lambda *a, real=real: quick.append(real(*a)) or quick[-1])
    no_newline = "schedules:\n  - name: tail.one\n    scheduler: aps\n    trigger_type: cron\n" \
                 '    trigger: "0 1 * * *"\n    task: jobs.run'
    root = make_repo(tmp_path / "repo", {EMAIL: SEVERAL, "schedules/acme/tail.yaml": no_newline})
    tokens = make_tokens(root)
    with TestClient(create_app(root)) as client:
        api = Api(client, root, tokens)
        ctx = client.app.state.api  # type: ignore[attr-defined]
        ids = api.ids()
        steps = [  # lines added and removed above later schedules, fields in and out
            ("PATCH", "email.digest", {"description": "first\nsecond"}),
            ("PATCH", "email.ping", {"trigger": {"every": 10, "period": "minutes"}}),
            ("PATCH", "email.digest", {"description": None}),
            ("POST", "email.late", "disable"),
            ("PATCH", "email.ping", {"kwargs": {"a": 1}, "queue": "slow"}),
            ("PATCH", "email.digest", {"trigger": {"minute": "5", "hour": "9"}}),
            ("POST", "email.late", "enable"),
            ("CREATE", "email.added", {"description": "appended"}),
            ("PATCH", "email.digest", {"description": "pushes the new one down"}),
            ("CREATE", "tail.two", {"file": "tail.yaml"}),
            ("CREATE", "tail.three", {}),
        ]
        for method, name, body in steps:
            if method == "CREATE":
                response = api.call("POST", BASE, who="operator", json={**new(name), **body})
                assert response.status_code == 201, response.text
                ids[name] = response.json()["id"]
            elif method == "POST":
                response = api.call("POST", f"{BASE}/{ids[name]}/{body}", who="operator")
            else:
                response = api.call("PATCH", f"{BASE}/{ids[name]}", who="operator", json=body)
            assert response.status_code in (200, 201), response.text
            assert ctx.reader.repo is ctx.writer.repo
            fresh = load_repository(root, use_cache=False)
            assert snapshot(ctx.writer.repo) == snapshot(fresh), (name, body)
            assert "1 file changed" in diff_stat(root)
    assert len(quick) == len(steps)
    assert all(r is not None for r in quick)  # every step took the single-schedule path
    assert any(d.code == "dom-and-dow" for d in fresh.diagnostics.items)


def test_a_schedule_made_invalid_gets_the_repository_rule_422(api: Api) -> None:
    head = api.git.head.commit.hexsha
    before = (api.root / EMAIL).read_text()
    sid = api.ids()["email.digest"]
    body = {"trigger": {"minute": "0", "hour": "9", "day_of_month": "31", "month_of_year": "2"}}
    response = api.call("PATCH", f"{BASE}/{sid}", json=body)
    assert response.status_code == 422, response.text
    error = response.json()["details"]["errors"][0]
    assert (error["file"], error["line"]) == (EMAIL, 6)  # the trigger line
    assert api.git.head.commit.hexsha == head
    assert (api.root / EMAIL).read_text() == before


def test_a_file_changed_behind_the_servers_back_is_edited_and_validated_whole(
    api: Api,
) -> None:
    from schedsync.engine.repository import load_repository

    path = api.root / EMAIL
    path.write_text("# a line added by hand, not committed\n" + path.read_text())
    sid = api.ids()["email.ping"]
    response = api.call("PATCH", f"{BASE}/{sid}", json={"description": "after a hand edit"})
    assert response.status_code == 200, response.text
    text = path.read_text()
    assert text.startswith("# a line added by hand")
    assert "description: after a hand edit" in text
    ctx = api.client.app.state.api  # type: ignore[attr-defined]
    assert snapshot(ctx.writer.repo) == snapshot(load_repository(api.root, use_cache=False))

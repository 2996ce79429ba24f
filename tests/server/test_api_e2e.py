"""End to end: a real ``schedsync serve`` process on a real git repository with the
APScheduler SQLite job store, driven over HTTP."""

from __future__ import annotations

import socket
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import git
import httpx
import pytest
from api_support import make_repo, make_tokens
from test_api_writes import diff_stat, jobs

from schedsync.engine.workspace import Workspace
from server_process import ServerProcess

pytestmark = pytest.mark.slow
BASE = "/api/v1/projects/acme/schedules"


class Server(ServerProcess):
    """The shared server process with a client of the global admin that fails on a 500."""

    def __init__(self, root: Path, token: str) -> None:
        super().__init__(root, root.parent / "server.log", token)
        self.http = self.client(timeout=60)

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        response = self.http.request(method, path, **kw)
        assert response.status_code != 500, response.text
        return response

    def stop(self) -> None:
        self.http.close()
        super().stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = make_repo(tmp_path / "repo")
    tokens = make_tokens(root)
    with Server(root, tokens["global"]) as srv:
        yield srv
    assert "Traceback" not in srv.output(), srv.output()


def new(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "scheduler": "aps", "trigger_type": "cron",
            "trigger": {"minute": "30", "hour": "6", "day_of_week": "1"},
            "task": "schedsync.demo_tasks:heartbeat", **extra}


def test_the_whole_workflow(server: Server) -> None:
    root = server.root
    # create -> YAML + commit + live job
    created = server.call("POST", BASE, json=new("reports.daily"))
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    assert created.json()["sync"] == {"status": "applied"}, created.text
    assert "name: reports.daily" in (root / "schedules/acme/reports.yaml").read_text()
    assert git.Repo(root).head.commit.author.name == "global"
    assert "reports.daily" in jobs(root)
    # patch -> one-line diff
    patched = server.call("PATCH", f"{BASE}/{sid}",
                          json={"trigger": {"minute": "45", "hour": "6", "day_of_week": "1"}})
    assert patched.status_code == 200, patched.text
    assert "1 insertion(+), 1 deletion(-)" in diff_stat(root)
    # disable -> live job paused
    assert server.call("POST", f"{BASE}/{sid}/disable").status_code == 200
    assert jobs(root)["reports.daily"]["row_next"] is None
    assert server.call("POST", f"{BASE}/{sid}/enable").status_code == 200
    assert jobs(root)["reports.daily"]["row_next"] is not None
    # trigger -> task id + fire
    fired = server.call("POST", f"{BASE}/{sid}/trigger")
    assert fired.status_code == 202
    task_id = fired.json()["task_id"]
    assert task_id in jobs(root)  # the one-off run waiting for the live scheduler
    fires = server.call("GET", f"{BASE}/{sid}/fires").json()["items"]
    assert fires[0]["task_id"] == task_id
    _live_scheduler_runs(root, task_id)
    # live edit -> :diff says origin live -> :resync -> in sync
    _live_edit(root, "reports.daily", hour="11")
    diff = server.call("POST", f"{BASE}:diff", json={}).json()
    assert diff["in_sync"] is False
    change = next(c for c in diff["changes"] if c["name"] == "reports.daily")
    assert change["origin"] == "live"
    assert change["action"] == "update"
    assert {"path": "trigger.hour", "repo": "6", "live": "11", "base": "6"} in change["fields"]
    resync = server.call("POST", f"{BASE}:resync", json={"direction": "repo_to_scheduler"})
    assert resync.status_code == 200, resync.text
    assert "reports.daily" in resync.json()["applied"]
    assert server.call("POST", f"{BASE}:diff", json={}).json()["in_sync"] is True
    # :import of a live entry into YAML
    _live_create(root, "ops.cleanup")
    imported = server.call("POST", f"{BASE}:import", json={"scheduler": "aps"})
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == ["ops.cleanup"]
    assert imported.json()["commit"] == git.Repo(root).head.commit.hexsha
    assert "name: ops.cleanup" in (root / "schedules/acme/ops.yaml").read_text()
    names = {i["name"] for i in server.call("GET", BASE).json()["items"]}
    assert "ops.cleanup" in names
    # delete
    assert server.call("DELETE", f"{BASE}/{sid}").status_code == 204
    assert "reports.daily" not in jobs(root)
    assert git.Repo(root).is_dirty() is False


def _live_scheduler_runs(root: Path, run_id: str) -> None:
    """What the live scheduler does with a one-off run: runs it and drops the row."""
    with sqlite3.connect(root / ".schedsync" / "jobs.sqlite") as conn:
        conn.execute("DELETE FROM apscheduler_jobs WHERE id = ?", (run_id,))


def _live_edit(root: Path, key: str, hour: str) -> None:
    ws = Workspace.open(root)
    try:
        adapter = ws.adapter("acme", "aps")
        entry = next(e for e in adapter.list_entries() if e.key == key)
        spec = {**entry.spec, "trigger": {**entry.spec["trigger"], "hour": hour}}
        adapter.update(key, spec)
    finally:
        ws.close()


def _live_create(root: Path, name: str) -> None:
    from schedsync.engine.spec import make_spec

    ws = Workspace.open(root)
    try:
        spec = make_spec(name=name, trigger_type="interval",
                         trigger={"every": 1, "period": "hours"},
                         task="schedsync.demo_tasks:heartbeat", timezone="Europe/Berlin")
        ws.adapter("acme", "aps").create(name, spec)
    finally:
        ws.close()


def test_sixteen_concurrent_writers_lose_nothing(server: Server) -> None:
    results: dict[str, int] = {}

    def write(i: int) -> None:
        # Half share one file, half get their own: both kinds of contention.
        name = f"shared.job{i:02d}" if i % 2 else f"own{i:02d}.job"
        with server.client(timeout=120) as client:
            results[name] = client.post(BASE, json=new(name)).status_code

    threads = [threading.Thread(target=write, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [name for name, status in results.items() if status == 201]
    assert len(results) == 16
    assert all(status in (201, 409) for status in results.values()), results
    assert len(ok) == 16
    log = "\n".join(c.message for c in git.Repo(server.root).iter_commits())
    yaml_text = "".join(p.read_text() for p in (server.root / "schedules/acme").glob("*.yaml"))
    live = jobs(server.root)
    for name in ok:
        assert f"acme/{name} " in log, name
        assert f"name: {name}\n" in yaml_text, name
        assert name in live, name
    assert git.Repo(server.root).is_dirty() is False
    _sixteen_concurrent_patches(server, sorted(ok))


def _sixteen_concurrent_patches(server: Server, names: list[str]) -> None:
    """Single-schedule edits (the item path), eight of them into one shared file."""
    ids = {item["name"]: item["id"] for item in
           server.http.get(BASE, params={"limit": 500}).json()["items"]}
    statuses: dict[str, int] = {}

    def patch(name: str) -> None:
        with server.client(timeout=120) as client:
            body = {"description": f"patched {name}"}
            statuses[name] = client.patch(f"{BASE}/{ids[name]}", json=body).status_code

    threads = [threading.Thread(target=patch, args=(name,)) for name in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == dict.fromkeys(names, 200)
    repo = git.Repo(server.root)
    log = [c.message for c in repo.iter_commits(max_count=len(names))]
    yaml_text = "".join(p.read_text() for p in (server.root / "schedules/acme").glob("*.yaml"))
    for name in names:
        assert f"description: patched {name}\n" in yaml_text, name
        assert sum(m.startswith(f"update schedule acme/{name} ") for m in log) == 1, name
    assert repo.is_dirty() is False


def _raw(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head)
    return sock


def _response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_huge_bodies_are_refused_without_being_read(server: Server) -> None:
    token = server.headers["Authorization"].encode()
    head = (b"POST " + BASE.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " + token +
            b"\r\nContent-Type: application/json\r\n")
    # A declared length over 1 MiB: answered before a single body byte is sent.
    with _raw(server.port, head + b"Content-Length: 104857600\r\n\r\n") as sock:
        assert _response(sock).startswith(b"HTTP/1.1 413")
    # Chunked, no length: the server stops once it has seen more than 1 MiB.
    with _raw(server.port, head + b"Transfer-Encoding: chunked\r\n\r\n") as sock:
        sent = 0
        chunk = b"10000\r\n" + b" " * 65536 + b"\r\n"
        try:
            while sent < 64 * 65536:
                sock.sendall(chunk)
                sent += 65536
                sock.settimeout(0.001)
                try:
                    if sock.recv(1, socket.MSG_PEEK):
                        break
                except (BlockingIOError, TimeoutError):
                    pass
                sock.settimeout(10)
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(10)
        assert _response(sock).startswith(b"HTTP/1.1 413")
        assert sent < 4 * 65536 + 1_048_576

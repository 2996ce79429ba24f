"""Reading: list pages, filters, cursors, get, fires, openapi, healthz, unknown routes."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from api_support import Api, make_repo, make_tokens
from starlette.testclient import TestClient

from schedsync.server import create_app

LIST = "/api/v1/projects/acme/schedules"
RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _many(n: int) -> str:
    lines = ["schedules:"]
    for i in range(n):
        lines += [
            f"  - name: job.n{i:03d}",
            "    scheduler: aps",
            "    trigger_type: interval",
            f"    trigger: {{every: {i + 1}, period: minutes}}",
            "    task: jobs.run",
            f"    enabled: {'true' if i % 3 else 'false'}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def big(tmp_path: Path) -> Iterator[Api]:
    root = make_repo(tmp_path / "big", {"schedules/acme/job.yaml": _many(57)})
    tokens = make_tokens(root)
    with TestClient(create_app(root)) as client:
        yield Api(client, root, tokens)


def test_schedule_shape_matches_the_spec(api: Api) -> None:
    items = api.call("GET", LIST).json()["items"]
    digest = next(i for i in items if i["name"] == "email.digest")
    assert list(digest)[:15] == [
        "id", "project_id", "name", "scheduler", "trigger_type", "trigger", "task", "args",
        "kwargs", "enabled", "last_run_at", "next_run_at", "created_at", "updated_at",
    ][:15]
    assert digest["trigger"]["day_of_week"] == "1"
    assert digest["kwargs"] == {"locale": "en-US"}
    assert digest["last_run_at"] is None
    for key in ("next_run_at", "created_at", "updated_at"):
        assert RFC3339_Z.match(digest[key]), digest[key]
    # Next Monday 09:00 in Europe/Berlin is 08:00Z in winter.
    assert digest["next_run_at"].endswith("T08:00:00Z")
    assert "timezone" not in digest  # optional fields only where set


def test_ids_are_stable_and_get_returns_the_same_view(api: Api) -> None:
    first, second = api.ids(), api.ids()
    assert first == second
    one = api.call("GET", f"{LIST}/{first['email.ping']}").json()
    assert one["name"] == "email.ping"
    assert one["id"] == first["email.ping"]
    other = api.call("GET", "/api/v1/projects/other/schedules").json()["items"][0]
    assert other["project_id"] != one["project_id"]


def test_pages_never_skip_or_repeat(big: Api) -> None:
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = "?limit=10" + (f"&cursor={cursor}" if cursor else "")
        body = big.call("GET", LIST + query).json()
        seen += [i["name"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 6
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == 57


def test_filters_combine_with_cursor(big: Api) -> None:
    names: list[str] = []
    cursor = None
    while True:
        query = "?limit=7&enabled=false" + (f"&cursor={cursor}" if cursor else "")
        body = big.call("GET", LIST + query).json()
        assert all(i["enabled"] is False for i in body["items"])
        names += [i["name"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert names == [f"job.n{i:03d}" for i in range(57) if i % 3 == 0]
    assert len(big.call("GET", LIST + "?scheduler=aps&limit=500").json()["items"]) == 57
    # The seed's "scheduler (e.g. celery-beat, apscheduler)": a type selects its schedulers.
    assert len(big.call("GET", LIST + "?scheduler=apscheduler&limit=500").json()["items"]) == 57


def test_an_unknown_scheduler_filter_is_422_naming_the_choices(api: Api) -> None:
    response = api.call("GET", LIST + "?scheduler=nope")
    assert response.status_code == 422
    assert "aps, apscheduler" in response.json()["message"]
    assert response.json()["details"]["errors"][0]["field"] == "scheduler"


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=abc", "limit=-1",
                                   "limit=1e3", "enabled=yes", "enabled=True", "enabled="])
def test_bad_query_is_422(api: Api, query: str) -> None:
    response = api.call("GET", f"{LIST}?{query}")
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert set(body) == {"error", "message", "details", "request_id"}


def test_tampered_cursor_is_400(big: Api) -> None:
    cursor = big.call("GET", LIST + "?limit=5").json()["next_cursor"]
    forged = base64.urlsafe_b64encode(orjson.dumps({"a": 5, "f": "x"})).decode()
    for bad in ["garbage!!", cursor[:-3] + "zzz", forged, "%00", "a" * 5000]:
        response = big.call("GET", LIST, params={"limit": "5", "cursor": bad})
        assert response.status_code == 400, bad
        assert response.json()["error"] == "invalid_request"
    # A real cursor with other filters: refused, not a silent restart.
    response = big.call("GET", LIST, params={"limit": "5", "cursor": cursor, "enabled": "true"})
    assert response.status_code == 400


def test_unknown_schedule_id_is_404(api: Api) -> None:
    for bad in ["nope", "../../etc/passwd", "x" * 300, "%2e%2e"]:
        response = api.call("GET", f"{LIST}/{bad}")
        assert response.status_code == 404, bad
        assert response.json()["error"] == "not_found"


def test_fires_empty_then_paginated_newest_first(api: Api) -> None:
    from datetime import UTC, datetime, timedelta

    from schedsync.engine.state import StateStore

    sid = api.ids()["email.ping"]
    assert api.call("GET", f"{LIST}/{sid}/fires").json() == {"items": [], "next_cursor": None}
    store = StateStore.open(".schedsync/state.db", api.root)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(5):
        store.record_fire("acme", "email.ping", task_id=f"t{i}", fired_at=base + timedelta(
            minutes=i), source="schedule")
    store.close()
    first = api.call("GET", f"{LIST}/{sid}/fires?limit=3").json()
    assert [f["task_id"] for f in first["items"]] == ["t4", "t3", "t2"]
    assert set(first["items"][0]) == {"id", "fired_at", "task_id", "status", "source",
                                      "finished_at", "error"}
    rest = api.call("GET", f"{LIST}/{sid}/fires",
                    params={"limit": "3", "cursor": first["next_cursor"]}).json()
    assert [f["task_id"] for f in rest["items"]] == ["t1", "t0"]
    assert rest["next_cursor"] is None
    bad = api.call("GET", f"{LIST}/{sid}/fires", params={"cursor": "bogus"})
    assert bad.status_code == 400


def test_openapi_describes_every_route(api: Api) -> None:
    from schedsync.server.app import ROUTES

    doc = api.call("GET", "/api/v1/openapi.json", who=None).json()
    assert doc["openapi"].startswith("3.1")
    for route in ROUTES:
        path = route.path
        assert path in doc["paths"], path
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in doc["paths"][path], (method, path)
    create = doc["components"]["schemas"]["ScheduleCreate"]
    assert {"name", "scheduler", "trigger", "file"} <= set(create["properties"])
    errors = doc["paths"]["/api/v1/projects/{slug}/schedules"]["post"]["responses"]
    assert {"201", "401", "403", "404", "409", "413", "422"} <= set(errors)


def test_healthz_and_unknown_routes(api: Api) -> None:
    assert api.call("GET", "/healthz", who=None).status_code == 200
    missing = api.call("GET", "/api/v1/nothing", who=None)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong = api.call("PUT", LIST)
    assert wrong.status_code == 405
    assert wrong.json()["request_id"] == wrong.headers["x-request-id"]


def test_colon_routes_do_not_fall_into_schedule_id(api: Api) -> None:
    # A GET on a colon path is not a schedule lookup; POST on an id path is not an action.
    assert api.call("GET", f"{LIST}:diff").status_code == 405
    response = api.call("POST", f"{LIST}:diff", json={})
    assert response.status_code == 200
    assert set(response.json()) == {"in_sync", "summary", "changes"}
    assert api.call("POST", f"{LIST}:bogus", json={}).status_code == 404


def test_list_pages_show_writes_at_once(api: Api) -> None:
    before = api.call("GET", LIST).json()["items"]
    assert api.call("GET", LIST).json()["items"] == before  # served again unchanged
    ping = next(i for i in before if i["name"] == "email.ping")
    api.call("PATCH", f"{LIST}/{ping['id']}", json={"description": "now with a description"})
    after = next(i for i in api.call("GET", LIST).json()["items"] if i["name"] == "email.ping")
    assert after["description"] == "now with a description"
    assert after["id"] == ping["id"]
    created = api.call("POST", LIST, json={"name": "a.first", "scheduler": "aps",
                                           "trigger_type": "interval",
                                           "trigger": {"every": 1}, "task": "jobs.run"})
    assert created.status_code == 201
    names = [i["name"] for i in api.call("GET", LIST).json()["items"]]
    assert names[0] == "a.first"

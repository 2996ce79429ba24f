"""Who may do what: the role table of SPEC section 6 for every endpoint and caller,
bearer tokens, revoked tokens, browser sessions and CSRF."""

from __future__ import annotations

from typing import Any

import pytest
from api_support import Api

from schedsync.engine.state import StateStore

BASE = "/api/v1/projects/acme/schedules"
NEED = {"viewer": 1, "operator": 2, "admin": 3}
HAVE = {"viewer": 1, "operator": 2, "admin": 3, "global": 3}


def _new(name: str) -> dict[str, Any]:
    return {"name": name, "scheduler": "aps", "trigger_type": "interval",
            "trigger": {"every": 10, "period": "minutes"}, "task": "jobs.run"}


def _endpoints(api: Api, who: str) -> list[tuple[str, str, str, dict[str, Any] | None]]:
    """(method, path, role needed, body); writes on a schedule of the caller's own."""
    ids = api.ids()
    own = ids.get(f"own.{who}", ids["email.ping"])
    return [
        ("GET", BASE, "viewer", None),
        ("GET", f"{BASE}/{own}", "viewer", None),
        ("GET", f"{BASE}/{own}/fires", "viewer", None),
        ("POST", f"{BASE}:diff", "viewer", {}),
        ("POST", BASE, "operator", _new(f"new.{who}")),
        ("PATCH", f"{BASE}/{own}", "operator", {"description": f"by {who}"}),
        ("POST", f"{BASE}/{own}/disable", "operator", None),
        ("POST", f"{BASE}/{own}/enable", "operator", None),
        ("POST", f"{BASE}/{own}/trigger", "operator", None),
        ("POST", f"{BASE}:import", "admin", {"dry_run": True}),
        ("POST", f"{BASE}:resync", "admin", {"direction": "repo_to_scheduler",
                                             "dry_run": True}),
        ("DELETE", f"{BASE}/{own}", "admin", None),
    ]


@pytest.mark.parametrize("who", ["viewer", "operator", "admin", "global"])
def test_members_get_exactly_their_role(api: Api, who: str) -> None:
    api.call("POST", BASE, json=_new(f"own.{who}"))  # a schedule this caller may delete
    for method, path, need, body in _endpoints(api, who):
        response = api.call(method, path, who=who, json=body)
        if HAVE[who] >= NEED[need]:
            assert response.status_code < 300, (who, method, path, response.text)
        else:
            assert response.status_code == 403, (who, method, path, response.text)
            error = response.json()
            assert error["error"] == "forbidden"
            assert error["details"] == {"have": who, "need": need}


@pytest.mark.parametrize("who", ["outsider", "revoked", None, "unknown"])
def test_non_members_and_strangers(api: Api, who: str | None) -> None:
    expected = {"outsider": 404, "revoked": 401, None: 401, "unknown": 401}[who]
    api.tokens["unknown"] = "ssk_not-a-token"
    for method, path, _, body in _endpoints(api, "x"):
        response = api.call(method, path, who=who, json=body)
        assert response.status_code == expected, (who, method, path, response.text)
        code = response.json()["error"]
        assert code == ("not_found" if expected == 404 else "unauthenticated")


def test_unknown_project_and_non_member_look_the_same(api: Api) -> None:
    member_of_other = api.call("GET", BASE, who="outsider")
    unknown = api.call("GET", "/api/v1/projects/nope/schedules", who="global")
    assert member_of_other.status_code == unknown.status_code == 404
    assert member_of_other.json()["error"] == unknown.json()["error"] == "not_found"
    assert api.call("GET", "/api/v1/projects/other/schedules", who="outsider").status_code == 200


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc",
                                    "Bearer " + "x" * 5000, "Bearer \u00e9".encode("latin-1")])
def test_malformed_authorization_is_401(api: Api, header: str | bytes) -> None:
    response = api.client.get(BASE, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_revoking_ends_tokens_at_once(api: Api) -> None:
    assert api.call("GET", BASE, who="viewer").status_code == 200  # now cached
    store = StateStore.open(".schedsync/state.db", api.root)
    store.revoke_tokens("viewer")
    store.close()
    # Any commit to the SQLite state drops the server's cached look-ups.
    assert api.call("GET", BASE, who="viewer").status_code == 401


def _login(api: Api, who: str) -> str:
    response = api.client.post("/api/v1/auth/session", json={"token": api.tokens[who]})
    assert response.status_code == 200
    return str(response.json()["csrf_token"])


def test_session_cookies_are_set_as_the_spec_says(api: Api) -> None:
    response = api.client.post("/api/v1/auth/session", json={"token": api.tokens["operator"]})
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("schedsync_session="))
    csrf = next(c for c in cookies if "csrf" in c.split("=", 1)[0])
    assert "httponly" in session.lower()
    assert "samesite=lax" in session.lower()
    assert "httponly" not in csrf.lower()
    assert csrf.split(";")[0].split("=", 1)[1] == response.json()["csrf_token"]


def test_session_writes_need_the_csrf_header(api: Api) -> None:
    csrf = _login(api, "operator")
    client = api.client
    sid = api.ids()["email.ping"]
    assert client.get(BASE).status_code == 200  # reads need no CSRF
    for headers in ({}, {"X-CSRF-Token": "wrong"}, {"X-CSRF-Token": csrf[:-1]}):
        response = client.post(f"{BASE}/{sid}/disable", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"] == "csrf_failed"
    assert api.git.head.commit.message.startswith("schedules")  # nothing was written
    ok = client.post(f"{BASE}/{sid}/disable", headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json()["enabled"] is False
    # Logging out needs the header too, then the cookie is worthless.
    assert client.delete("/api/v1/auth/session").status_code == 403
    old_cookie = client.cookies.get("schedsync_session")
    assert client.delete("/api/v1/auth/session",
                         headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("schedsync_session", str(old_cookie))
    assert client.get(BASE).status_code == 401


def test_bearer_requests_need_no_csrf(api: Api) -> None:
    api.client.cookies.clear()
    sid = api.ids()["email.ping"]
    response = api.call("POST", f"{BASE}/{sid}/disable", who="operator")
    assert response.status_code == 200


@pytest.mark.parametrize("body", [b"", b"{}", b'{"token": 5}', b'{"token": "ssk_nope"}',
                                  b"[]", b"{bad"])
def test_bad_logins(api: Api, body: bytes) -> None:
    response = api.client.post("/api/v1/auth/session", content=body,
                               headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 401)
    assert "set-cookie" not in response.headers


def test_session_role_is_the_users_role(api: Api) -> None:
    csrf = _login(api, "viewer")
    response = api.client.post(BASE, json=_new("x.y"), headers={"X-CSRF-Token": csrf})
    assert response.status_code == 403
    assert response.json()["details"] == {"have": "viewer", "need": "operator"}

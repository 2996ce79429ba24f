"""No input, however odd, gets a 500 or writes outside ``schedules/<slug>/``."""

from __future__ import annotations

import subprocess
from typing import Any

from api_support import Api
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = "/api/v1/projects/acme/schedules"
FIELDS = ["name", "scheduler", "trigger_type", "trigger", "task", "args", "kwargs",
          "enabled", "timezone", "queue", "priority", "expires", "description",
          "renamed_from", "file", "extra"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
PLAUSIBLE = {
    "name": st.from_regex(r"[a-z][a-z0-9.]{0,12}", fullmatch=True) | st.text(max_size=12),
    "scheduler": st.sampled_from(["aps", "nope", ""]),
    "trigger_type": st.sampled_from(["cron", "interval", "clocked", "solar", "x"]),
    "trigger": st.sampled_from(["0 9 * * 1", "bad", {"minute": "61"}, {"every": 5},
                                {"every": 1, "period": "hours"}, {"run_at": "2030-01-01"}]),
    "task": st.sampled_from(["jobs.run", "a:b", "not a task", ""]),
    "file": st.sampled_from(["x.yaml", "../x.yaml", "/x.yaml", "a/b.yaml", ".x.yaml"]),
}
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _body() -> st.SearchStrategy[dict[str, Any]]:
    values = {f: PLAUSIBLE.get(f, JSON) | JSON for f in FIELDS}
    return st.fixed_dictionaries({}, optional=values)


def _untracked(api: Api) -> list[str]:
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                         cwd=api.root, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


@SETTINGS
@given(body=_body())
def test_create_bodies(api: Api, body: dict[str, Any]) -> None:
    response = api.call("POST", BASE, json=body)
    assert response.status_code in (201, 400, 409, 413, 422), response.text
    assert set(response.json()) >= ({"id"} if response.status_code == 201 else
                                    {"error", "message", "details", "request_id"})
    assert _untracked(api) == []
    for path in (api.root / "schedules").rglob("*"):
        assert path.relative_to(api.root).parts[1] in ("acme", "other"), path


@SETTINGS
@given(body=_body())
def test_patch_bodies(api: Api, body: dict[str, Any]) -> None:
    sid = api.ids()["email.ping"] if "email.ping" in api.ids() else next(iter(api.ids().values()))
    response = api.call("PATCH", f"{BASE}/{sid}", json=body)
    assert response.status_code in (200, 400, 409, 413, 422), response.text
    assert _untracked(api) == []


@SETTINGS
@given(query=st.dictionaries(st.sampled_from(["limit", "cursor", "enabled", "scheduler", "x"]),
                             st.text(max_size=40), max_size=4))
def test_list_queries(api: Api, query: dict[str, str]) -> None:
    response = api.call("GET", BASE, params=query)
    assert response.status_code in (200, 400, 422), response.text


@SETTINGS
@given(raw=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_raw_bytes(api: Api, raw: bytes) -> None:
    for path in (BASE, f"{BASE}:diff", f"{BASE}:resync", f"{BASE}:import", "/api/v1/auth/session"):
        response = api.call("POST", path, content=raw, headers={"Content-Type": "application/json"})
        assert response.status_code in (200, 201, 400, 401, 409, 413, 422), (path, response.text)

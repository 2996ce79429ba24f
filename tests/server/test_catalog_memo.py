"""The read side's view memos stay proportional to the repository, however many
writes replace its schedules."""

from __future__ import annotations

import pytest
from api_support import Api

from schedsync.server import catalog

BASE = "/api/v1/projects/acme/schedules"


def test_view_memos_stay_within_twice_the_repository(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog._Memo, "SLACK", 4)
    sid = api.ids()["email.ping"]
    for n in range(30):  # each write replaces the schedule object the memos are keyed by
        response = api.call("PATCH", f"{BASE}/{sid}", json={"description": f"v{n}"})
        assert response.status_code == 200, response.text
        assert api.call("GET", f"{BASE}/{sid}").json()["description"] == f"v{n}"
        api.ids()  # list pages build views of every schedule
    repo = api.client.app.state.api.reader.repo  # type: ignore[attr-defined]
    schedules = [rs.schedule for items in repo.schedules.values() for rs in items]
    memo = catalog._memo
    for kept in (memo.static, memo.next, memo.items, memo.times):
        assert len(kept) <= 2 * len(schedules) + 4
    # What a prune keeps is still served: the views are those of the current schedules.
    body = api.call("GET", f"{BASE}?limit=500").json()
    assert next(i for i in body["items"] if i["id"] == sid)["description"] == "v29"

"""Fire-time previews for interval, clocked and solar triggers and re-enabling."""

from __future__ import annotations

import json
from typing import Any

import pytest
from review_repo import CONFIG, ScheduleRepo

BASE = """\
schedules:
  - name: poll
    scheduler: apscheduler
    trigger_type: interval
    trigger: {every: 2, period: hours}
    task: ops.poll
  - name: launch
    scheduler: apscheduler
    trigger_type: clocked
    trigger: {run_at: "2026-12-24T18:00:00+01:00"}
    task: ops.launch
  - name: lights
    scheduler: celery-beat
    trigger_type: cron
    trigger: "0 17 * * *"
    task: ops.lights
    enabled: false
"""


def _changes(repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    doc = json.loads(repo.diff(capsys, "--base", "main", "--format", "json").out)
    return {c["name"]: c for c in doc["changes"]}


@pytest.fixture
def based(schedule_repo: ScheduleRepo) -> ScheduleRepo:
    schedule_repo.write("schedules/acme/ops.yaml", BASE)
    schedule_repo.commit("base")
    return schedule_repo


def test_interval_clocked_and_reenabled_cron_show_before_and_after(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    based.write("schedules/acme/ops.yaml", BASE
                .replace("{every: 2, period: hours}", "{every: 3, period: hours}")
                .replace("2026-12-24T18:00:00+01:00", "2026-12-31T23:00:00+01:00")
                .replace("    enabled: false\n", ""))

    changes = _changes(based, capsys)

    poll = changes["poll"]["timing"]
    assert poll["before"]["in_words"] == "every 2 hours"
    assert poll["after"]["in_words"] == "every 3 hours"
    assert poll["before"]["next"][:2] == ["2026-12-01T08:00:00+00:00",
                                          "2026-12-01T10:00:00+00:00"]
    assert poll["after"]["next"][:2] == ["2026-12-01T09:00:00+00:00",
                                         "2026-12-01T12:00:00+00:00"]
    assert (poll["before"]["runs_7d"], poll["after"]["runs_7d"]) == (84, 56)
    # Every 6 hours both fire: 28 common instants.
    assert (poll["gained_7d"], poll["lost_7d"]) == (56 - 28, 84 - 28)

    launch = changes["launch"]["timing"]
    assert launch["before"]["next"] == ["2026-12-24T17:00:00+00:00"]
    assert launch["after"]["next"] == ["2026-12-31T22:00:00+00:00"]
    assert (launch["before"]["runs_7d"], launch["after"]["runs_7d"]) == (0, 0)

    lights = changes["lights"]
    assert lights["label"] == "enabled"
    assert lights["timing"]["before"]["next"] == []
    assert lights["timing"]["after"]["next"][0] == "2026-12-01T16:00:00+00:00"
    assert lights["timing"]["gained_7d"] == 7


def test_solar_schedules_have_words_but_no_fire_times(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    based.write("schedsync.yaml", CONFIG.replace("      apscheduler:\n", """\
      beat-db:
        type: celery-beat
        store: django-celery-beat
        timezone: Europe/Berlin
        url: sqlite:///.schedsync/beat.sqlite
      apscheduler:
"""))
    based.write("schedules/acme/ops.yaml", BASE + """\
  - name: dusk
    scheduler: beat-db
    trigger_type: solar
    trigger: {event: sunset, latitude: 52.52, longitude: 13.4}
    task: ops.dusk
""")

    out = based.diff(capsys, "--base", "main", "--format", "markdown").out

    assert "| `+` | `acme/dusk` | added | at sunset (52.52, 13.40) (Europe/Berlin) | - | " \
        "unchanged |" in out


def test_text_shows_the_fire_times_side_by_side(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    based.write("schedules/acme/ops.yaml", BASE.replace("every: 2", "every: 3"))

    lines = based.diff(capsys, "--base", "main").out.splitlines()

    start = lines.index("    trigger.every: 2 -> 3")
    assert lines[start + 1:start + 4] == [
        "    when: every 2 hours -> every 3 hours",
        "    next fires:  before                     after",
        "             Tue 2026-12-01 09:00 CET   Tue 2026-12-01 10:00 CET",
    ]
    assert "    next 7 days: 84 -> 56 runs (28 moved, 28 lost)" in lines

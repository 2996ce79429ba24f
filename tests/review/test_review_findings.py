"""Each finding a reviewer must see, pinned to the YAML line that causes it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from review_repo import CONFIG, ScheduleRepo


def _schedule(name: str, trigger: str, *, scheduler: str = "celery-beat",
              trigger_type: str = "cron", extra: str = "") -> str:
    return (f"  - name: {name}\n    scheduler: {scheduler}\n    trigger_type: {trigger_type}\n"
            f"    trigger:\n{trigger}    task: ops.{name.replace('-', '_')}\n{extra}")


def _file(*schedules: str) -> str:
    return "schedules:\n" + "".join(schedules)


NIGHTLY = '      minute: "30"\n      hour: "2"\n'  # 02:30 Berlin: DST gap and overlap
MORNING = '      minute: "0"\n      hour: "9"\n'


def _review(repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    result = repo.diff(capsys, "--base", "main", "--format", "json")
    assert result.code == 0, result.out + result.err
    doc: dict[str, Any] = json.loads(result.out)
    return doc


def _codes(doc: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    return [(f["code"], f["file"], f["line"], f["name"]) for f in doc["findings"]]


def _base(repo: ScheduleRepo, text: str, config: str = CONFIG) -> None:
    repo.write("schedsync.yaml", config)
    repo.write("schedules/acme/ops.yaml", text)
    repo.commit("base")


def test_dst_gap_and_overlap_point_at_the_hour_line(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _base(schedule_repo, _file(_schedule("morning", MORNING)))
    schedule_repo.write("schedules/acme/ops.yaml",
                        _file(_schedule("morning", MORNING), _schedule("nightly", NIGHTLY)))

    doc = _review(schedule_repo, capsys)

    file = "schedules/acme/ops.yaml"
    assert _codes(doc) == [("dst-gap", file, 14, "nightly"), ("dst-overlap", file, 14, "nightly")]
    gap, overlap = (f["message"] for f in doc["findings"])
    assert "on 2027-03-28 02:30 does not exist in Europe/Berlin" in gap
    assert "Celery fires at 03:30" in gap
    assert "on 2027-10-31 02:30 happens twice in Europe/Berlin" in overlap
    assert "Celery fires only at the first" in overlap


def test_overlap_on_apscheduler_says_it_fires_twice(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _base(schedule_repo, _file(_schedule("morning", MORNING)))
    schedule_repo.write("schedules/acme/ops.yaml", _file(
        _schedule("morning", NIGHTLY, scheduler="apscheduler")))

    doc = _review(schedule_repo, capsys)

    by_code = {f["code"]: f for f in doc["findings"]}
    assert "APScheduler fires at both" in by_code["dst-overlap"]["message"]
    assert by_code["moved-scheduler"]["line"] == 3  # the `scheduler:` line


def test_moving_to_another_scheduler_is_flagged_on_the_scheduler_line(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _base(schedule_repo, _file(_schedule("morning", MORNING), _schedule("report", MORNING)))
    schedule_repo.write("schedules/acme/ops.yaml", _file(
        _schedule("morning", MORNING), _schedule("report", MORNING, scheduler="apscheduler")))

    doc = _review(schedule_repo, capsys)

    assert _codes(doc) == [("moved-scheduler", "schedules/acme/ops.yaml", 10, "report")]
    message = doc["findings"][0]["message"]
    assert "moves from scheduler 'celery-beat' to 'apscheduler'" in message
    assert "read the apscheduler way from now on" in message
    change = doc["changes"][0]
    assert change["fields"] == [{"path": "scheduler", "before": "celery-beat",
                                 "after": "apscheduler"}]
    # Same wall time on both engines: nothing moves in time.
    assert change["timing"]["gained_7d"] == 0
    assert change["timing"]["lost_7d"] == 0


def test_day_of_month_and_day_of_week_both_set_is_ambiguous(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _base(schedule_repo, _file(_schedule("morning", MORNING)))
    both = MORNING + '      day_of_month: "1"\n      day_of_week: "mon"\n'
    schedule_repo.write("schedules/acme/ops.yaml", _file(_schedule("morning", both)))

    doc = _review(schedule_repo, capsys)

    assert _codes(doc) == [("dom-dow", "schedules/acme/ops.yaml", 9, "morning")]
    assert "fire only on days matching BOTH" in doc["findings"][0]["message"]
    # AND: the next fire is the next Monday that is a 1st (2027-02-01).
    assert doc["changes"][0]["timing"]["after"]["next"][0] == "2027-02-01T08:00:00+00:00"


def test_frequency_above_min_interval(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = CONFIG.replace("    timezone: Europe/Berlin\n    schedulers:",
                            "    timezone: Europe/Berlin\n    min_interval: 5m\n    schedulers:")
    _base(schedule_repo, _file(_schedule("poll", "      every: 10\n      period: minutes\n",
                                         trigger_type="interval")), config)
    schedule_repo.write("schedules/acme/ops.yaml", _file(_schedule(
        "poll", "      every: 1\n      period: minutes\n", trigger_type="interval")))

    doc = _review(schedule_repo, capsys)

    assert _codes(doc) == [("min-interval", "schedules/acme/ops.yaml", 5, "poll")]
    assert doc["findings"][0]["message"].startswith(
        "acme/poll fires every 1m, more often than the project's min_interval of 5m")
    timing = doc["changes"][0]["timing"]
    assert (timing["before"]["runs_7d"], timing["after"]["runs_7d"]) == (1008, 10080)


def _crowd(count: int, prefix: str = "job") -> list[str]:
    return [_schedule(f"{prefix}-{i}", MORNING) for i in range(count)]


def test_pile_up_over_max_same_minute_is_reported_on_the_new_schedule(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = CONFIG + "review:\n  max_same_minute: 3\n"
    _base(schedule_repo, _file(*_crowd(3)), config)
    late = '      minute: "0"\n      hour: "10"\n'
    schedule_repo.write("schedules/acme/ops.yaml",
                        _file(*_crowd(3), _schedule("late", late)))
    schedule_repo.commit("a fourth job, at 10:00")
    schedule_repo.branch("crowd")
    schedule_repo.write("schedules/acme/ops.yaml", _file(*_crowd(3), _schedule("late", MORNING)))

    doc = json.loads(schedule_repo.diff(capsys, "--base", "HEAD", "--format", "json").out)

    assert _codes(doc) == [("pile-up", "schedules/acme/ops.yaml", 26, "late")]
    message = doc["findings"][0]["message"]
    assert "fires at 2026-12-01 09:00 CET together with 3 other schedules" in message
    assert "and 6 more minute(s) in the next 7 days" in message
    assert "review.max_same_minute = 3" in message


def test_a_minute_that_was_already_crowded_is_not_news(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    config = CONFIG + "review:\n  max_same_minute: 3\n"
    _base(schedule_repo, _file(*_crowd(4)), config)
    schedule_repo.write("schedules/acme/ops.yaml", _file(*_crowd(5)))

    doc = _review(schedule_repo, capsys)

    assert [c["label"] for c in doc["changes"]] == ["added"]
    assert doc["findings"] == []


def test_deletion_without_a_state_file_still_warns_and_says_history_is_unknown(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _base(schedule_repo, _file(_schedule("morning", MORNING), _schedule("gone", NIGHTLY)))
    schedule_repo.write("schedules/acme/ops.yaml", _file(_schedule("morning", MORNING)))

    doc = _review(schedule_repo, capsys)

    assert [(f["code"], f["line"], f["side"]) for f in doc["findings"]] == [
        ("deleted", 9, "base")]
    assert doc["changes"][0]["history"] is None
    assert doc["notes"] == ["fire history not shown: no state file at .schedsync/state.db"]
    assert not (schedule_repo.root / ".schedsync" / "state.db").exists()  # nothing written


def test_disabling_loses_the_runs_and_raises_no_timing_findings(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    _base(schedule_repo, _file(_schedule("nightly", NIGHTLY)))
    schedule_repo.write("schedules/acme/ops.yaml",
                        _file(_schedule("nightly", NIGHTLY, extra="    enabled: false\n")))

    doc = _review(schedule_repo, capsys)

    change = doc["changes"][0]
    assert change["label"] == "disabled"
    assert change["timing"]["after"]["next"] == []
    assert change["timing"]["before"]["runs_7d"] == 7
    assert change["timing"]["after"]["runs_7d"] == 0
    assert change["timing"]["lost_7d"] == 7
    assert doc["findings"] == []  # a disabled schedule cannot fire in a DST gap

"""Translation to and from each engine, proven with real CronTrigger / crontab objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from celery import Celery
from celery.schedules import crontab

from schedsync.engine.cron import (
    UnrepresentableCron,
    canonical_cron,
    from_apscheduler,
    from_celery,
    next_fire_times,
    to_apscheduler,
    to_celery,
)

MONDAY = {"minute": "0", "hour": "9", "day_of_week": "1"}
# Sunday 2026-11-29 12:00 UTC: the next Monday is 2026-11-30.
SUNDAY_NOON = datetime(2026, 11, 29, 12, tzinfo=UTC)


def _apscheduler_fires(trigger: dict[str, str], count: int) -> list[datetime]:
    real = CronTrigger(**to_apscheduler(trigger), timezone=ZoneInfo("UTC"))
    fires, previous, now = [], None, SUNDAY_NOON
    for _ in range(count):
        fire = real.get_next_fire_time(previous, now)
        fires.append(fire)
        previous = now = fire
    return fires


def _celery_fires(trigger: dict[str, str], count: int) -> list[datetime]:
    app = Celery("translate-test", set_as_current=False, timezone="UTC")
    clock = [SUNDAY_NOON]
    schedule = crontab(**to_celery(trigger), nowfun=lambda: clock[0], app=app)
    fires, last_run_at = [], SUNDAY_NOON
    while len(fires) < count:
        due, wait = schedule.is_due(last_run_at)
        if due:
            fires.append(clock[0])
            last_run_at = clock[0]
        else:
            clock[0] += timedelta(seconds=wait)
    return fires


def test_day_of_week_1_is_monday_on_apscheduler() -> None:
    fires = _apscheduler_fires(MONDAY, 3)
    assert [f.strftime("%A %H:%M") for f in fires] == ["Monday 09:00"] * 3
    assert fires[0].date().isoformat() == "2026-11-30"
    assert to_apscheduler(MONDAY)["day_of_week"] == "mon"


def test_day_of_week_1_is_monday_on_celery() -> None:
    fires = _celery_fires(MONDAY, 3)
    assert [f.strftime("%A %H:%M") for f in fires] == ["Monday 09:00"] * 3
    assert fires[0].date().isoformat() == "2026-11-30"
    assert crontab(**to_celery(MONDAY)).day_of_week == {1}


@pytest.mark.parametrize("engine", ["apscheduler", "celery"])
def test_schedsync_shows_mondays_for_both(engine: str) -> None:
    shown = next_fire_times("cron", MONDAY, "UTC", engine, SUNDAY_NOON, 3)
    assert shown == (_apscheduler_fires if engine == "apscheduler" else _celery_fires)(MONDAY, 3)


@pytest.mark.parametrize(
    ("cron_dow", "aps_dow"),
    [
        ("0", "sun"),
        ("7", "sun"),
        ("sun", "sun"),
        ("1-5", "mon-fri"),
        ("mon-fri", "mon-fri"),
        ("0,6", "sat,sun"),
        ("5-7", "fri-sun"),
        ("0-1", "mon,sun"),
        ("*/2", "tue,thu,sat,sun"),  # cron */2 is Sun, Tue, Thu, Sat
        ("*", "*"),
        ("0-7", "*"),
    ],
)
def test_day_of_week_to_apscheduler_names(cron_dow: str, aps_dow: str) -> None:
    assert to_apscheduler({"day_of_week": cron_dow})["day_of_week"] == aps_dow


def test_to_apscheduler_sets_every_field_and_keeps_seconds() -> None:
    out = to_apscheduler({"minute": "*/15", "hour": "8-18", "second": "30"})
    assert out == {
        "year": "*", "month": "*", "day": "*", "week": "*", "day_of_week": "*",
        "hour": "8-18", "minute": "*/15", "second": "30",
    }
    assert to_apscheduler({"minute": "0"})["second"] == "0"


def test_to_celery_writes_sunday_as_0() -> None:
    assert to_celery({"day_of_week": "7"})["day_of_week"] == "0"
    assert to_celery({"month_of_year": "jan-mar", "minute": "5"}) == {
        "minute": "5", "hour": "*", "day_of_month": "*", "month_of_year": "1-3",
        "day_of_week": "*",
    }


def test_equal_meaning_gives_equal_canonical_form() -> None:
    forms = [{"day_of_week": "mon-fri"}, {"day_of_week": "1-5"}, {"day_of_week": "1,2,3,4,5"},
             {"day_of_week": "MON-FRI", "minute": "*"}]
    assert len({tuple(sorted(canonical_cron(f).items())) for f in forms}) == 1
    assert canonical_cron({"minute": "0,15,30,45"})["minute"] == "*/15"
    assert canonical_cron({"minute": "5", "second": "0"}) == canonical_cron({"minute": "5"})
    assert canonical_cron({"minute": "5", "second": "10"})["second"] == "10"


def test_canonical_cron_keeps_unreadable_text() -> None:
    assert canonical_cron({"minute": " 99 "})["minute"] == "99"


def test_from_apscheduler_reads_a_real_trigger_back() -> None:
    trigger = {"minute": "0", "hour": "9", "day_of_week": "1-5", "month_of_year": "jan"}
    real = CronTrigger(**to_apscheduler(trigger), timezone="UTC")
    fields = {f.name: str(f) for f in real.fields}
    assert from_apscheduler(fields) == canonical_cron(trigger)
    assert from_apscheduler(fields)["day_of_week"] == "1-5"


def test_from_apscheduler_reads_monday_based_numbers() -> None:
    # APScheduler's own "0" is Monday; "6" is Sunday.
    back = from_apscheduler({"day_of_week": "0,6", "minute": "0", "hour": "*"})
    assert back["day_of_week"] == "0,1"


@pytest.mark.parametrize(
    "fields",
    [{"year": "2027"}, {"week": "5"}, {"day": "last"}, {"day": "2nd mon"}],
)
def test_from_apscheduler_refuses_what_has_no_canonical_form(fields: dict[str, str]) -> None:
    with pytest.raises(UnrepresentableCron):
        from_apscheduler(fields)


def test_from_celery_reads_orig_fields_ints_and_celery_only_forms() -> None:
    real = crontab(minute=0, hour="*/6", day_of_week="fri-mon")
    fields = {
        "minute": real._orig_minute, "hour": real._orig_hour,
        "day_of_week": real._orig_day_of_week, "day_of_month": real._orig_day_of_month,
        "month_of_year": real._orig_month_of_year,
    }
    assert from_celery(fields) == {
        "minute": "0", "hour": "*/6", "day_of_month": "*", "month_of_year": "*",
        "day_of_week": "0,1,5,6",
    }


def test_from_celery_refuses_unreadable_fields() -> None:
    with pytest.raises(UnrepresentableCron):
        from_celery({"minute": "61"})


def test_day_of_week_1_is_shown_as_monday() -> None:
    from schedsync.engine.cron import describe

    assert describe("cron", MONDAY) == "At 09:00, only on Monday"
    real = CronTrigger(**to_apscheduler(MONDAY), timezone="UTC")
    assert "day_of_week='mon'" in str(real)

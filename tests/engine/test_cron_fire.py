"""Fire times, gaps, DST findings and words, per engine."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise

import pytest

from schedsync.engine.cron import (
    describe,
    dst_findings,
    min_gap_seconds,
    next_fire_times,
)
from schedsync.engine.cron.engines import engine_fire_times

ENGINES = ["apscheduler", "celery"]
BERLIN = "Europe/Berlin"


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def _hhmm(times: list[datetime]) -> list[str]:
    return [t.strftime("%m-%d %H:%M") for t in times]


@pytest.mark.parametrize("engine", ENGINES)
def test_fires_are_utc_and_strictly_after_start(engine: str) -> None:
    fires = next_fire_times("cron", {"minute": "*/5"}, "UTC", engine, _utc(2026, 5, 1, 10, 5), 3)
    assert _hhmm(fires) == ["05-01 10:10", "05-01 10:15", "05-01 10:20"]
    assert all(f.tzinfo is UTC for f in fires)


@pytest.mark.parametrize("engine", ENGINES)
def test_local_zone_is_honoured(engine: str) -> None:
    fires = next_fire_times(
        "cron", {"minute": "0", "hour": "9"}, "Asia/Kolkata", engine, _utc(2026, 5, 1), 2
    )
    assert _hhmm(fires) == ["05-01 03:30", "05-02 03:30"]


@pytest.mark.parametrize("engine", ENGINES)
def test_dom_and_dow_together_mean_and(engine: str) -> None:
    # The 1st of a month that is also a Sunday: 2026-02-01, 2026-03-01, 2026-11-01.
    trigger = {"minute": "0", "hour": "4", "day_of_month": "1", "day_of_week": "0"}
    fires = next_fire_times("cron", trigger, "UTC", engine, _utc(2026, 1, 2), 3)
    assert [f.date().isoformat() for f in fires] == ["2026-02-01", "2026-03-01", "2026-11-01"]


@pytest.mark.parametrize("engine", ENGINES)
def test_spring_forward_gap_fires_after_the_gap(engine: str) -> None:
    fires = next_fire_times(
        "cron", {"minute": "30", "hour": "2"}, BERLIN, engine, _utc(2026, 3, 28, 12), 2
    )
    # 2026-03-29 02:30 does not exist; both engines fire at 03:30 CEST (01:30 UTC).
    assert _hhmm(fires) == ["03-29 01:30", "03-30 00:30"]


def test_fall_back_apscheduler_fires_twice_celery_once() -> None:
    trigger = {"minute": "30", "hour": "2"}
    start = _utc(2026, 10, 24, 12)
    aps = next_fire_times("cron", trigger, BERLIN, "apscheduler", start, 3)
    celery = next_fire_times("cron", trigger, BERLIN, "celery", start, 3)
    assert _hhmm(aps) == ["10-25 00:30", "10-25 01:30", "10-26 01:30"]
    assert _hhmm(celery) == ["10-25 00:30", "10-26 01:30", "10-27 01:30"]


def test_hourly_on_fall_back_celery_skips_the_repeated_hour() -> None:
    start = _utc(2026, 10, 24, 22)
    aps = next_fire_times("cron", {"minute": "0"}, BERLIN, "apscheduler", start, 5)
    celery = next_fire_times("cron", {"minute": "0"}, BERLIN, "celery", start, 5)
    assert _hhmm(aps) == ["10-24 23:00", "10-25 00:00", "10-25 01:00", "10-25 02:00",
                          "10-25 03:00"]
    assert _hhmm(celery) == ["10-24 23:00", "10-25 00:00", "10-25 02:00", "10-25 03:00",
                             "10-25 04:00"]


@pytest.mark.parametrize("engine", ENGINES)
def test_fast_path_equals_the_engine_away_from_dst(engine: str) -> None:
    trigger = {"minute": "7,37", "hour": "*/3", "day_of_week": "mon-fri"}
    start = _utc(2026, 6, 3, 11, 20)
    assert next_fire_times("cron", trigger, BERLIN, engine, start, 20) == engine_fire_times(
        trigger, BERLIN, engine, start, 20
    )


def test_seconds_field_on_apscheduler() -> None:
    fires = next_fire_times(
        "cron", {"minute": "*", "second": "*/20"}, "UTC", "apscheduler", _utc(2026, 1, 1), 3
    )
    assert [f.strftime("%H:%M:%S") for f in fires] == ["00:00:20", "00:00:40", "00:01:00"]


def test_other_trigger_types() -> None:
    start = _utc(2026, 1, 1)
    interval = next_fire_times("interval", {"every": 90, "period": "minutes"}, "UTC",
                               "celery", start, 2)
    assert _hhmm(interval) == ["01-01 01:30", "01-01 03:00"]
    clocked = {"run_at": "2026-02-01T09:00:00+01:00"}
    assert _hhmm(next_fire_times("clocked", clocked, "UTC", "celery", start, 3)) == [
        "02-01 08:00"
    ]
    assert next_fire_times("clocked", clocked, "UTC", "celery", _utc(2026, 3, 1), 3) == []


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown cron engine"):
        next_fire_times("cron", {"minute": "0"}, "UTC", "cron", _utc(2026, 1, 1), 1)


@pytest.mark.parametrize(
    ("trigger_type", "trigger", "gap"),
    [
        ("cron", {"minute": "*/5"}, 300.0),
        ("cron", {"minute": "*"}, 60.0),
        ("cron", {"minute": "0,50"}, 600.0),
        ("cron", {"minute": "0", "hour": "9"}, 86400.0),
        ("cron", {"minute": "0", "hour": "9", "day_of_week": "1-5"}, 86400.0),
        ("cron", {"minute": "0", "hour": "9", "day_of_week": "1"}, 604800.0),
        ("cron", {"minute": "0", "hour": "0,23"}, 3600.0),
        ("cron", {"minute": "*", "second": "*/10"}, 10.0),
        ("cron", {"minute": "59", "hour": "*", "second": "0,30"}, 30.0),
        ("interval", {"every": 5, "period": "minutes"}, 300.0),
        ("interval", {"every": 2, "period": "hours"}, 7200.0),
        ("clocked", {"run_at": "2026-01-01T00:00:00Z"}, None),
    ],
)
def test_min_gap_seconds(trigger_type: str, trigger: dict[str, str], gap: float | None) -> None:
    assert min_gap_seconds(trigger_type, trigger, "UTC", "celery") == gap


def test_min_gap_matches_real_consecutive_fires() -> None:
    trigger = {"minute": "10,40", "hour": "1-3,22"}
    fires = next_fire_times("cron", trigger, "UTC", "apscheduler", _utc(2026, 6, 1), 30)
    real = min((b - a).total_seconds() for a, b in pairwise(fires))
    assert min_gap_seconds("cron", trigger, "UTC", "apscheduler") == real


@pytest.mark.parametrize("engine", ENGINES)
def test_dst_findings_gap_and_overlap(engine: str) -> None:
    findings = dst_findings({"minute": "30", "hour": "2"}, BERLIN, engine, _utc(2026, 1, 1))
    assert [(f.kind, f.local) for f in findings] == [
        ("gap", datetime(2026, 3, 29, 2, 30)),
        ("overlap", datetime(2026, 10, 25, 2, 30)),
    ]
    gap, overlap = findings
    name = "APScheduler" if engine == "apscheduler" else "Celery"
    assert gap.message == (
        "on 2026-03-29 02:30 does not exist in Europe/Berlin (clocks jump from 02:00 to "
        f"03:00); {name} fires at 03:30"
    )
    if engine == "apscheduler":
        assert "fires at both: 02:30 CEST (00:30 UTC), 02:30 CET (01:30 UTC)" in overlap.message
    else:
        assert "Celery fires only at the first; the repeated time is skipped: 02:30 CEST" in (
            overlap.message
        )


def test_dst_findings_quiet_for_safe_times_and_zones() -> None:
    assert dst_findings({"minute": "0", "hour": "9"}, BERLIN, "celery", _utc(2026, 1, 1)) == []
    assert dst_findings({"minute": "30", "hour": "2"}, "UTC", "celery", _utc(2026, 1, 1)) == []
    assert dst_findings({"minute": "*"}, "Asia/Kolkata", "celery", _utc(2026, 1, 1)) == []


def test_dst_findings_lord_howe_half_hour_shift_and_window() -> None:
    findings = dst_findings(
        {"minute": "*/15", "hour": "1-2"}, "Australia/Lord_Howe", "apscheduler",
        _utc(2026, 1, 1), days=365,
    )
    assert [(f.kind, f.local.isoformat()) for f in findings] == [
        ("overlap", "2026-04-05T01:30:00"),
        ("gap", "2026-10-04T02:00:00"),
    ]
    assert "(2 fire times)" in findings[0].message
    # Outside the window: nothing.
    assert dst_findings({"minute": "0"}, BERLIN, "celery", _utc(2026, 4, 1), days=30) == []


@pytest.mark.parametrize(
    ("trigger_type", "trigger", "words"),
    [
        ("cron", {"minute": "0", "hour": "9", "day_of_week": "1-5"},
         "At 09:00, Monday through Friday"),
        ("cron", {"minute": "0", "hour": "9", "day_of_week": "mon"}, "At 09:00, only on Monday"),
        ("cron", {"minute": "0", "hour": "9", "day_of_week": "7"}, "At 09:00, only on Sunday"),
        ("interval", {"every": 5, "period": "minutes"}, "every 5 minutes"),
        ("interval", {"every": 1, "period": "hours"}, "every hour"),
        ("clocked", {"run_at": "2026-12-01T09:00:00+00:00"}, "once at 2026-12-01T09:00:00+00:00"),
        ("solar", {"event": "sunrise", "latitude": 52.52, "longitude": 13.4},
         "at sunrise (52.52, 13.40)"),
    ],
)
def test_describe(trigger_type: str, trigger: dict[str, str], words: str) -> None:
    assert describe(trigger_type, trigger) == words


@pytest.mark.parametrize("engine", ENGINES)
def test_a_cron_that_never_fires_has_no_fire_times(engine: str) -> None:
    trigger = {"minute": "0", "hour": "0", "day_of_month": "30", "month_of_year": "2"}
    assert next_fire_times("cron", trigger, BERLIN, engine, _utc(2026, 1, 1), 3) == []


@pytest.mark.parametrize("engine", ENGINES)
def test_feb_29_fires_in_leap_years(engine: str) -> None:
    trigger = {"minute": "0", "hour": "12", "day_of_month": "29", "month_of_year": "feb"}
    fires = next_fire_times("cron", trigger, "UTC", engine, _utc(2026, 1, 1), 2)
    assert [f.date().isoformat() for f in fires] == ["2028-02-29", "2032-02-29"]


def test_validation_helpers_leave_invalid_crons_to_check_cron() -> None:
    bad = {"minute": "99"}
    assert dst_findings(bad, BERLIN, "celery", _utc(2026, 1, 1)) == []
    assert min_gap_seconds("cron", bad, BERLIN, "celery") is None
    with pytest.raises(ValueError, match="out of range"):
        next_fire_times("cron", bad, BERLIN, "celery", _utc(2026, 1, 1), 1)

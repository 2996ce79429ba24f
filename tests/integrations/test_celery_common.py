"""Shared Celery pieces: interval periods, options, project lookup, app loading."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from schedsync.engine.adapters import celery_common as cc
from schedsync.engine.adapters import open_adapter, project_of
from schedsync.engine.errors import ConfigError
from schedsync.engine.spec import make_spec
from schedsync.schemas.config import CeleryBeatScheduler


@pytest.mark.parametrize(("seconds", "hint", "expected"), [
    (60, "seconds", {"every": 60, "period": "seconds"}),
    (60, None, {"every": 1, "period": "minutes"}),
    (7200, "minutes", {"every": 120, "period": "minutes"}),
    (90, "minutes", {"every": 90, "period": "seconds"}),  # hint does not divide: seconds
    (1209600.0, None, {"every": 2, "period": "weeks"}),
])
def test_interval_trigger_restores_the_written_period(
    seconds: float, hint: str | None, expected: dict[str, object]
) -> None:
    assert cc.interval_trigger(seconds, hint) == expected
    assert cc.interval_seconds(expected) == seconds


def test_fractional_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="whole number"):
        cc.interval_trigger(1.5)


def test_options_carry_the_managed_headers_and_read_back() -> None:
    spec = make_spec(name="n", trigger_type="interval", trigger={"every": 1}, task="t",
                     queue="q", priority=4, expires=30)
    options = cc.options_from_spec(spec, "acme")
    assert options == {"queue": "q", "priority": 4, "expires": 30.0,
                       "headers": {"schedsync_name": "n", "schedsync_project": "acme"}}
    assert cc.spec_options(options) == {"queue": "q", "priority": 4, "expires": 30.0}
    assert cc.managed_name(options["headers"]) == ("n", "acme")
    assert cc.managed_name({"other": 1}) == (None, None)


def test_next_due_agrees_with_celery_crontab_in_the_app_zone() -> None:
    from celery import Celery
    from celery.schedules import crontab

    now = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # 14:00 in Berlin
    due = cc.next_due("cron", {"minute": "0", "hour": "9"}, "Europe/Berlin", now, now)
    assert due == datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    # The same answer as Celery's own crontab, evaluated as beat does.
    app = Celery("clock", set_as_current=False, timezone="Europe/Berlin")
    celery_cron = crontab(minute="0", hour="9", nowfun=lambda: now, app=app)
    assert now + celery_cron.remaining_estimate(now) == due
    assert cc.next_due("interval", {"every": 5, "period": "minutes"}, "UTC", now, now) == (
        now + timedelta(minutes=5))
    # Overdue means due now, as in RedBeat.
    overdue = cc.next_due("interval", {"every": 5, "period": "minutes"}, "UTC",
                          now - timedelta(hours=1), now)
    assert overdue == now
    never = {"minute": "0", "hour": "0", "day_of_month": "30", "month_of_year": "2"}
    assert cc.next_due("cron", never, "UTC", now, now) is None


def test_project_is_found_from_schedsync_yaml(tmp_path: Path) -> None:
    (tmp_path / "schedsync.yaml").write_text(
        "version: 1\nprojects:\n"
        "  acme:\n    schedulers:\n      beat:\n        type: celery-beat\n"
        "        store: redbeat\n        url: redis://h/2\n"
        "  other:\n    schedulers:\n      beat:\n        type: celery-beat\n"
        "        store: redbeat\n        url: redis://h/5\n"
    )
    mine = CeleryBeatScheduler(type="celery-beat", store="redbeat", url="redis://h/2")
    unknown = CeleryBeatScheduler(type="celery-beat", store="redbeat", url="redis://h/9")
    assert project_of(mine, tmp_path) == "acme"
    assert project_of(unknown, tmp_path) is None
    assert project_of(mine, tmp_path / "nowhere") is None
    # Callers that know the project pass it; the lookup is only the fallback.
    assert open_adapter(mine, tmp_path).project == "acme"  # type: ignore[attr-defined]
    passed = open_adapter(unknown, tmp_path / "nowhere", project="given")
    assert passed.project == "given"  # type: ignore[attr-defined]


def test_sending_needs_an_app_or_a_broker(tmp_path: Path) -> None:
    config = CeleryBeatScheduler(type="celery-beat", store="redbeat", url="redis://h/2")
    with pytest.raises(ConfigError, match="broker_url"):
        cc.sending_app(config, tmp_path)

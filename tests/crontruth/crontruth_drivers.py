"""The real engines, driven the way their schedulers drive them (the reference).

Written apart from ``schedsync.engine.cron.engines`` on purpose: schedsync's own
predictions fall back to that module around DST changes, so the harness checks both
against these drivers.

- APScheduler: the translated ``CronTrigger`` goes through a pickle round trip (as in
  a job store), then ``get_next_fire_time(previous, now)`` is asked after every fire,
  as ``BaseScheduler._process_jobs`` does.
- Celery: a ``celery.beat.ScheduleEntry`` holding the translated ``crontab`` with
  ``last_run_at = start``; a clock asks ``is_due`` and sleeps what it answers, capped
  at beat's default ``max_interval`` (300 s) within hours of a DST change, where a
  shorter sleep could see a different answer; a due entry is replaced by
  ``next(entry)`` exactly as beat does (``last_run_at`` = the clock).
"""

from __future__ import annotations

import pickle
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from celery import Celery
from celery.beat import ScheduleEntry
from celery.schedules import crontab

from schedsync.engine.cron import to_apscheduler, to_celery
from schedsync.engine.cron.zones import transitions

MAX_INTERVAL = 300.0
_NEAR = timedelta(hours=4)


def apscheduler_truth(
    trigger: dict[str, str], tz: str, start: datetime, count: int
) -> list[datetime]:
    job_trigger = pickle.loads(
        pickle.dumps(CronTrigger(**to_apscheduler(trigger), timezone=ZoneInfo(tz)))
    )
    now = start + timedelta(microseconds=1)
    fires: list[datetime] = []
    previous = None
    while len(fires) < count:
        fire = job_trigger.get_next_fire_time(previous, now)
        if fire is None:
            break
        fires.append(fire.astimezone(UTC))
        previous = now = fire
    return fires


@lru_cache(maxsize=16)
def celery_app(tz: str) -> Celery:
    return Celery("crontruth", set_as_current=False, timezone=tz)


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def _next_change(tz: str, clock: datetime) -> datetime | None:
    for year in (clock.year, clock.year + 1):
        for change in transitions(tz, date(year, 1, 1), 366):
            if change.at + _NEAR > clock:
                return change.at
    return None


def _sleep(tz: str, clock: datetime, wait: float) -> float:
    """Beat's sleep, in short naps from hours before a DST change until hours after."""
    change = _next_change(tz, clock)
    if change is None or wait <= MAX_INTERVAL:
        return wait
    if clock >= change - _NEAR:
        return MAX_INTERVAL
    return min(wait, (change - _NEAR - clock).total_seconds())


def celery_truth(
    trigger: dict[str, str], tz: str, start: datetime, count: int
) -> list[datetime]:
    app = celery_app(tz)
    clock = Clock(start)
    schedule: Any = crontab(**to_celery(trigger), nowfun=clock, app=app)
    entry = ScheduleEntry(name="crontruth", task="t", last_run_at=start, schedule=schedule, app=app)
    fires: list[datetime] = []
    for _ in range(500_000):
        due, wait = entry.is_due()
        if due:
            fires.append(clock.moment.astimezone(UTC))
            if len(fires) == count:
                break
            entry = next(entry)
        else:
            clock.moment += timedelta(seconds=_sleep(tz, clock.moment, wait))
    return fires


def truth(
    engine: str, trigger: dict[str, str], tz: str, start: datetime, count: int
) -> list[datetime]:
    if engine == "apscheduler":
        return apscheduler_truth(trigger, tz, start, count)
    return celery_truth(trigger, tz, start, count)


def django_celery_beat_truth(
    trigger: dict[str, str], tz: str, start: datetime, count: int
) -> list[datetime]:
    """A django-celery-beat crontab row: its own zone, under an app that runs in UTC."""
    from django_celery_beat.tzcrontab import TzAwareCrontab

    clock = Clock(start)

    class ClockedRow(TzAwareCrontab):
        def nowfunc(self) -> datetime:
            return clock.moment.astimezone(self.tz)

    app = celery_app("UTC")
    schedule: Any = ClockedRow(**to_celery(trigger), tz=ZoneInfo(tz), app=app)
    entry = ScheduleEntry(name="crontruth", task="t", last_run_at=start, schedule=schedule, app=app)
    fires: list[datetime] = []
    for _ in range(500_000):
        due, wait = entry.is_due()
        if due:
            fires.append(clock.moment.astimezone(UTC))
            if len(fires) == count:
                break
            entry = next(entry)
        else:
            clock.moment += timedelta(seconds=_sleep(tz, clock.moment, wait))
    return fires

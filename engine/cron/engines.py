"""Fire times computed by the engines' own code (the truth the fast path must match).

APScheduler: a real ``CronTrigger`` asked ``get_next_fire_time(prev, now)`` the way
its scheduler asks after each run. Celery: a real ``crontab`` driven like beat drives
it: a clock starts at ``start`` with ``last_run_at = start``, asks ``is_due``, sleeps
the returned seconds, and on a due answer records a fire and sets ``last_run_at`` to
the clock. These are slower than ``schedsync.engine.cron.fire`` (which is what
schedsync shows) and serve as the reference in tests and benchmarks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from schedsync.engine.cron.translate import to_apscheduler, to_celery

_MAX_STEPS = 200_000


@lru_cache(maxsize=4096)
def _cron_trigger(items: tuple[tuple[str, str], ...], tz: str) -> Any:
    from apscheduler.triggers.cron import CronTrigger

    # get_next_fire_time keeps no state, so one trigger object serves every call.
    return CronTrigger(**to_apscheduler(dict(items)), timezone=ZoneInfo(tz))


def _items(trigger: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in trigger.items() if v is not None))


def apscheduler_fire_times(
    trigger: Mapping[str, str], tz: str, start: datetime, count: int,
    until: datetime | None = None,
) -> list[datetime]:
    cron = _cron_trigger(_items(trigger), tz)
    now = start.astimezone(UTC) + timedelta(microseconds=1)
    fires: list[datetime] = []
    previous = None
    while len(fires) < count:
        fire = cron.get_next_fire_time(previous, now)
        if fire is None or (until is not None and fire >= until):
            break
        fires.append(fire.astimezone(UTC))
        previous, now = fire, fire
    return fires


@lru_cache(maxsize=64)
def _celery_app(tz: str) -> Any:
    from celery import Celery

    return Celery("schedsync-cron", set_as_current=False, timezone=tz, enable_utc=True)


class _Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def celery_fire_times(
    trigger: Mapping[str, str], tz: str, start: datetime, count: int,
    until: datetime | None = None,
) -> list[datetime]:
    from celery.schedules import crontab

    clock = _Clock(start.astimezone(UTC))
    schedule = crontab(**to_celery(trigger), nowfun=clock, app=_celery_app(tz))
    last_run_at = clock.moment
    fires: list[datetime] = []
    for _ in range(_MAX_STEPS):
        due, wait = schedule.is_due(last_run_at)
        if due:
            if until is not None and clock.moment >= until:
                break
            fires.append(clock.moment)
            if len(fires) == count:
                break
            last_run_at = clock.moment
        elif until is not None and clock.moment >= until:
            break
        else:
            clock.moment = clock.moment + timedelta(seconds=wait)
    return fires


def engine_fire_times(
    trigger: Mapping[str, str], tz: str, engine: str, start: datetime, count: int,
    until: datetime | None = None,
) -> list[datetime]:
    """Next ``count`` fires strictly after ``start`` (aware UTC), by the engine's code.

    With ``until``, stops at the first fire at or after it (that fire is not returned).
    """
    if engine == "apscheduler":
        return apscheduler_fire_times(trigger, tz, start, count, until)
    if engine == "celery":
        return celery_fire_times(trigger, tz, start, count, until)
    raise ValueError(f"unknown cron engine {engine!r}; expected 'apscheduler' or 'celery'")

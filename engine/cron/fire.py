"""Fire times as each engine will use them, computed fast from the value sets.

Per engine, a wall-clock time becomes real instants like this (proven against the
engines' own code by ``tests/crontruth``):

- a time in a DST gap (does not exist): both engines fire when the clock has moved
  on by the gap (02:30 on a spring-forward day in Berlin fires at 03:30);
- a time in a DST overlap (happens twice): APScheduler fires at both, Celery only at
  the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from schedsync.engine.cron.walls import cron_sets, walls_from

ENGINES: tuple[str, ...] = ("apscheduler", "celery")
PERIOD_SECONDS: dict[str, int] = {
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "weeks": 604800,
}
# Longer than any DST shift: fires are collected until the wall clock is this far past
# the last one kept, so that a later wall time cannot map to an earlier instant.
_SETTLE = timedelta(hours=3)


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown cron engine {engine!r}; expected one of {ENGINES}")


def wall_instants(wall: datetime, tz: ZoneInfo, engine: str) -> list[datetime]:
    """The UTC instants at which ``engine`` fires for the naive wall time ``wall``."""
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second or engine == "celery":
        return [first]
    if second < first:
        # fold=1 earlier than fold=0 means the wall time does not exist (a gap);
        # zoneinfo's fold=0 reading is the moment after the gap, where engines fire.
        return [first]
    return [first, second]


def cron_fire_times(
    trigger: Mapping[str, Any], tz: str, engine: str, start: datetime, count: int
) -> list[datetime]:
    _check_engine(engine)
    zinfo = zone(tz)
    begin = start.astimezone(UTC)
    first_wall = begin.astimezone(zinfo).replace(tzinfo=None) - _SETTLE
    found: set[datetime] = set()
    horizon: datetime | None = None
    for wall in walls_from(cron_sets(trigger), first_wall):
        if horizon is not None and wall > horizon:
            break
        found.update(i for i in wall_instants(wall, zinfo, engine) if i > begin)
        if horizon is None and len(found) >= count:
            horizon = wall + _SETTLE
    return sorted(found)[:count]


def _interval_seconds(trigger: Mapping[str, Any]) -> int:
    return int(trigger["every"]) * PERIOD_SECONDS[str(trigger.get("period", "seconds"))]


def _interval_fire_times(trigger: Mapping[str, Any], start: datetime, count: int) -> list[datetime]:
    step = timedelta(seconds=_interval_seconds(trigger))
    begin = start.astimezone(UTC)
    return [begin + step * n for n in range(1, count + 1)]


def _clocked_fire_times(trigger: Mapping[str, Any], start: datetime) -> list[datetime]:
    run_at = trigger["run_at"]
    moment = datetime.fromisoformat(run_at) if isinstance(run_at, str) else run_at
    moment = moment.astimezone(UTC)
    return [moment] if moment > start.astimezone(UTC) else []


def next_fire_times(
    trigger_type: str,
    trigger: Mapping[str, Any],
    tz: str,
    engine: str,
    start: datetime,
    count: int,
) -> list[datetime]:
    """The next ``count`` fires strictly after ``start``, as aware UTC datetimes.

    An interval counts from ``start`` (the engines count from the last run or the
    creation time, which a spec does not hold). Solar triggers give an empty list.
    """
    if trigger_type == "cron":
        return cron_fire_times(trigger, tz, engine, start, count)
    if trigger_type == "interval":
        return _interval_fire_times(trigger, start, count)
    if trigger_type == "clocked":
        return _clocked_fire_times(trigger, start)[:count]
    return []

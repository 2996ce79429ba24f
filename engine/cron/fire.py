"""Fire times as each engine will really use them.

Away from DST changes every engine fires at the wall-clock times the value sets
select, one instant each; that is computed directly from the sets (fast). Around a
DST change the engines differ from each other and from a naive reading (Celery skips
repeated times, APScheduler fires at both, and APScheduler's field arithmetic can
even shift the first fires after a change), so when a zone changes offset anywhere
between ``start`` and the last fire, the engine's own code gives the answer
(``schedsync.engine.cron.engines``). ``tests/crontruth`` proves both paths against
the engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any

from schedsync.engine.cron.walls import cron_sets, walls_from
from schedsync.engine.cron.zones import offset_changes, zone

ENGINES: tuple[str, ...] = ("apscheduler", "celery")
PERIOD_SECONDS: dict[str, int] = {
    "seconds": 1,
    "minutes": 60,
    "hours": 3600,
    "days": 86400,
    "weeks": 604800,
}
# A DST change this close to the span of fires sends the question to the engine.
_MARGIN = timedelta(days=1)


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise ValueError(f"unknown cron engine {engine!r}; expected one of {ENGINES}")


def steady_fire_times(
    trigger: Mapping[str, Any], tz: str, start: datetime, count: int
) -> list[datetime]:
    """Fires read straight off the wall clock with ``start``'s UTC offset."""
    local = start.astimezone(zone(tz))
    offset = local.utcoffset() or timedelta(0)
    first = local.replace(tzinfo=None) + timedelta(microseconds=1)
    walls = islice(walls_from(cron_sets(trigger), first), count)
    return [(wall - offset).replace(tzinfo=UTC) for wall in walls]


def _steady(tz: str, start: datetime, fires: list[datetime], count: int) -> bool:
    """All ``count`` fires found and no DST change near enough to matter."""
    return len(fires) == count and not offset_changes(
        tz, start - _MARGIN, fires[-1] + _MARGIN
    )


def steady_or_none(
    trigger: Mapping[str, Any], tz: str, start: datetime, count: int
) -> list[datetime] | None:
    """The fast answer, or ``None`` when the engine must be asked."""
    fires = steady_fire_times(trigger, tz, start, count)
    return fires if _steady(tz, start, fires, count) else None


def cron_fire_times(
    trigger: Mapping[str, Any], tz: str, engine: str, start: datetime, count: int
) -> list[datetime]:
    check_engine(engine)
    begin = start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
    if count <= 0:
        return []
    fires = steady_fire_times(trigger, tz, begin, count)
    if not fires:
        return []  # never fires (e.g. 30 February): an engine would search for years
    if _steady(tz, begin, fires, count):
        return fires
    from schedsync.engine.cron.engines import engine_fire_times

    return engine_fire_times(trigger, tz, engine, begin, count)


def interval_seconds(trigger: Mapping[str, Any]) -> int:
    return int(trigger["every"]) * PERIOD_SECONDS[str(trigger.get("period", "seconds"))]


def _interval_fire_times(trigger: Mapping[str, Any], start: datetime, count: int) -> list[datetime]:
    step = timedelta(seconds=interval_seconds(trigger))
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

    A naive ``start`` is read as UTC. An interval counts from ``start`` (the engines
    count from the last run or the creation time, which a spec does not hold). Solar
    triggers give an empty list. An invalid cron raises ``FieldError`` (a
    ``ValueError``): validate with ``check_cron`` first.
    """
    if trigger_type == "cron":
        return cron_fire_times(trigger, tz, engine, start, count)
    if trigger_type == "interval":
        return _interval_fire_times(trigger, start, count)
    if trigger_type == "clocked":
        return _clocked_fire_times(trigger, start)[:count]
    return []

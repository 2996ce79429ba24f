"""DST warnings: cron wall times that fall in a gap or an overlap, per engine.

What each engine does there is not assumed: the message is written from the fire
times the engine's own code gives around the change (``next_fire_times``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from schedsync.engine.cron.engines import engine_fire_times
from schedsync.engine.cron.fields import FieldError
from schedsync.engine.cron.walls import CronSets, cron_sets, walls_from
from schedsync.engine.cron.zones import Transition, transitions, zone

ENGINE_NAMES = {"apscheduler": "APScheduler", "celery": "Celery"}
_SHOWN = 4  # fire times listed in one message


@dataclass(frozen=True)
class DstFinding:
    kind: str  # "gap" | "overlap"
    local: datetime  # naive local wall time of the first affected fire
    message: str


def _affected(sets: CronSets, transition: Transition) -> list[datetime]:
    low, high = transition.window
    out: list[datetime] = []
    for wall in walls_from(sets, low):
        if wall >= high:
            break
        out.append(wall)
    return out


def _clock(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S" if moment.second else "%H:%M")


def _span(walls: list[datetime]) -> str:
    if len(walls) == 1:
        return _clock(walls[0])
    return f"{_clock(walls[0])}-{_clock(walls[-1])} ({len(walls)} fire times)"


def _fires_between(
    items: tuple[tuple[str, str], ...], tz: str, engine: str, low: datetime, high: datetime,
) -> list[datetime]:
    """The engine's fires in [low, high), at most ``_SHOWN + 1`` of them.

    Asked from a second before ``low``, as a running scheduler asks from its last fire
    before the change (APScheduler asked from inside a gap would already be past it).
    """
    start = low - timedelta(seconds=1)
    fires = engine_fire_times(dict(items), tz, engine, start, _SHOWN + 1, until=high)
    return [f for f in fires if f >= low]


def _listing(fires: list[datetime], tz: str, utc: bool) -> str:
    zinfo = zone(tz)
    shown = []
    for fire in fires[:_SHOWN]:
        local = fire.astimezone(zinfo)
        text = f"{_clock(local)} {local.tzname()}"
        shown.append(f"{text} ({_clock(fire)} UTC)" if utc else _clock(local))
    more = ", ..." if len(fires) > _SHOWN else ""
    return ", ".join(shown) + more


def _gap_message(
    items: tuple[tuple[str, str], ...], walls: list[datetime], t: Transition, tz: str, engine: str,
) -> str:
    low, high = t.window
    width = high - low
    fires = _fires_between(items, tz, engine, t.at - timedelta(seconds=1), t.at + width)
    head = (
        f"on {walls[0]:%Y-%m-%d} {_span(walls)} does not exist in {tz} "
        f"(clocks jump from {_clock(low)} to {_clock(high)})"
    )
    if not fires:
        return f"{head}; {ENGINE_NAMES[engine]} does not fire for it"
    return f"{head}; {ENGINE_NAMES[engine]} fires at {_listing(fires, tz, utc=False)}"


def _overlap_message(
    items: tuple[tuple[str, str], ...], walls: list[datetime], t: Transition, tz: str, engine: str,
) -> str:
    low, high = t.window
    width = high - low
    fires = _fires_between(items, tz, engine, t.at - width, t.at + width)
    head = (
        f"on {walls[0]:%Y-%m-%d} {_span(walls)} happens twice in {tz} "
        f"(clocks go back from {_clock(high)} to {_clock(low)})"
    )
    repeated = [f for f in fires if f >= t.at]
    tail = "at both" if repeated else "only at the first; the repeated time is skipped"
    return (
        f"{head}; {ENGINE_NAMES[engine]} fires {tail}: {_listing(fires, tz, utc=True)}"
    )


@lru_cache(maxsize=65536)
def _findings(
    items: tuple[tuple[str, str], ...], tz: str, engine: str, first: date, days: int
) -> tuple[DstFinding, ...]:
    sets = cron_sets(dict(items))
    out: list[DstFinding] = []
    for t in transitions(tz, first, days):
        walls = _affected(sets, t)
        if not walls:
            continue
        if t.kind == "gap":
            message = _gap_message(items, walls, t, tz, engine)
        else:
            message = _overlap_message(items, walls, t, tz, engine)
        out.append(DstFinding(t.kind, walls[0], message))
    return tuple(out)


def dst_findings(
    trigger: Mapping[str, str], tz: str, engine: str, start: datetime, days: int = 365
) -> list[DstFinding]:
    """One finding per DST change in [start, start + days) that touches the cron's times.

    A naive ``start`` is read as UTC; results are cached by (trigger, tz, engine, date).
    An invalid trigger gives no findings (``check_cron`` reports it).
    """
    if engine not in ENGINE_NAMES:
        raise ValueError(f"unknown cron engine {engine!r}; expected one of {tuple(ENGINE_NAMES)}")
    items = tuple(sorted((k, str(v)) for k, v in trigger.items() if v is not None))
    moment = start if start.tzinfo else start.replace(tzinfo=UTC)
    try:
        return list(_findings(items, tz, engine, moment.astimezone(UTC).date(), days))
    except FieldError:
        return []  # an invalid cron is check_cron's to report, not a DST matter

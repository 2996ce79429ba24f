"""DST warnings: cron wall times that fall in a gap or an overlap, per engine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from schedsync.engine.cron.fire import wall_instants, zone
from schedsync.engine.cron.walls import CronSets, cron_sets, walls_from

ENGINE_NAMES = {"apscheduler": "APScheduler", "celery": "Celery"}
_SAMPLE = timedelta(hours=12)  # zones change offset at most once in half a day


@dataclass(frozen=True)
class DstFinding:
    kind: str  # "gap" | "overlap"
    local: datetime  # naive local wall time of the first affected fire
    message: str


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime  # UTC instant of the change
    before: timedelta  # UTC offset just before
    after: timedelta  # UTC offset from ``at`` on

    @property
    def window(self) -> tuple[datetime, datetime]:
        """Naive wall times that are skipped (gap) or repeated (overlap)."""
        naive = self.at.replace(tzinfo=None)
        low, high = sorted((self.before, self.after))
        return naive + low, naive + high

    @property
    def kind(self) -> str:
        return "gap" if self.after > self.before else "overlap"


def _offset(tz: str, moment: datetime) -> timedelta:
    offset = moment.astimezone(zone(tz)).utcoffset()
    return offset if offset is not None else timedelta(0)


def _bisect(tz: str, low: datetime, high: datetime) -> datetime:
    """The first second in (low, high] with ``high``'s offset."""
    target = _offset(tz, high)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if _offset(tz, middle) == target:
            high = middle
        else:
            low = middle
    return high


@lru_cache(maxsize=1024)
def transitions(tz: str, first: date, days: int) -> tuple[Transition, ...]:
    """Offset changes of ``tz`` in [first, first + days) (UTC days)."""
    moment = datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = moment + timedelta(days=days)
    found: list[Transition] = []
    offset = _offset(tz, moment)
    while moment < end:
        following = min(moment + _SAMPLE, end)
        new_offset = _offset(tz, following)
        if new_offset != offset:
            at = _bisect(tz, moment, following)
            found.append(Transition(at, offset, new_offset))
            offset = new_offset
        moment = following
    return tuple(found)


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


def _gap_message(walls: list[datetime], t: Transition, tz: str, engine: str) -> str:
    zinfo = zone(tz)
    shown = [wall_instants(w, zinfo, engine)[0].astimezone(zinfo) for w in walls]
    moved = _clock(shown[0]) if len(shown) == 1 else f"{_clock(shown[0])}-{_clock(shown[-1])}"
    low, high = t.window
    return (
        f"on {walls[0]:%Y-%m-%d} {_span(walls)} does not exist in {tz} (clocks jump from "
        f"{_clock(low)} to {_clock(high)}); {ENGINE_NAMES[engine]} fires at {moved}"
    )


def _overlap_message(walls: list[datetime], t: Transition, tz: str, engine: str) -> str:
    low, high = t.window
    head = (
        f"on {walls[0]:%Y-%m-%d} {_span(walls)} happens twice in {tz} (clocks go back "
        f"from {_clock(high)} to {_clock(low)})"
    )
    first = wall_instants(walls[0], zone(tz), engine)
    if engine == "celery":
        return (
            f"{head}; Celery fires only at the first one ({first[0]:%H:%M} UTC) and "
            "skips the repeated time"
        )
    times = " and ".join(f"{i:%H:%M}" for i in first)
    return f"{head}; APScheduler fires at both ({times} UTC for {_clock(walls[0])})"


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
            out.append(DstFinding("gap", walls[0], _gap_message(walls, t, tz, engine)))
        else:
            out.append(DstFinding("overlap", walls[0], _overlap_message(walls, t, tz, engine)))
    return tuple(out)


def dst_findings(
    trigger: Mapping[str, str], tz: str, engine: str, start: datetime, days: int = 365
) -> list[DstFinding]:
    """One finding per DST change in [start, start + days) that touches the cron's times."""
    if engine not in ENGINE_NAMES:
        raise ValueError(f"unknown cron engine {engine!r}; expected one of {tuple(ENGINE_NAMES)}")
    items = tuple(sorted((k, str(v)) for k, v in trigger.items() if v is not None))
    moment = start if start.tzinfo else start.replace(tzinfo=UTC)
    return list(_findings(items, tz, engine, moment.astimezone(UTC).date(), days))

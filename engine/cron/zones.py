"""Time zones and their UTC offset changes (DST transitions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_SAMPLE = timedelta(hours=12)  # zones change offset at most once in half a day


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@dataclass(frozen=True, slots=True)
class Transition:
    at: datetime  # UTC instant of the change
    before: timedelta  # UTC offset just before
    after: timedelta  # UTC offset from ``at`` on

    @property
    def window(self) -> tuple[datetime, datetime]:
        """Naive wall times that are skipped (gap) or repeated (overlap): [low, high)."""
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
        middle = (low + (high - low) / 2).replace(microsecond=0)
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
            found.append(Transition(_bisect(tz, moment, following), offset, new_offset))
            offset = new_offset
        moment = following
    return tuple(found)


@lru_cache(maxsize=4096)
def _year_changes(tz: str, year: int) -> tuple[datetime, ...]:
    return tuple(t.at for t in transitions(tz, date(year, 1, 1), 366))


def offset_changes(tz: str, low: datetime, high: datetime) -> bool:
    """Whether ``tz`` changes its UTC offset between the two aware instants."""
    for year in range(low.year, high.year + 1):
        if any(low <= at <= high for at in _year_changes(tz, year)):
            return True
    return False

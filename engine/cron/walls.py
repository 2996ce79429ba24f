"""Wall-clock times a cron selects, in order, from its value sets (no time zone yet)."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from schedsync.engine.cron.check import field_text
from schedsync.engine.cron.fields import parse_field

# A valid cron fires at least once in 28 years (Feb 29 on a given weekday).
_MAX_DAYS = 366 * 29


@dataclass(frozen=True, slots=True)
class CronSets:
    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday

    def day_matches(self, day: date) -> bool:
        return (
            day.month in self.months
            and day.day in self.days
            and (day.isoweekday() % 7) in self.weekdays
        )


@lru_cache(maxsize=65536)
def _sets(items: tuple[tuple[str, str], ...]) -> CronSets:
    trigger = dict(items)
    second = trigger.get("second")
    return CronSets(
        seconds=tuple(sorted(parse_field("second", second))) if second else (0,),
        minutes=tuple(sorted(parse_field("minute", field_text(trigger, "minute")))),
        hours=tuple(sorted(parse_field("hour", field_text(trigger, "hour")))),
        days=parse_field("day_of_month", field_text(trigger, "day_of_month")),
        months=parse_field("month_of_year", field_text(trigger, "month_of_year")),
        weekdays=parse_field("day_of_week", field_text(trigger, "day_of_week")),
    )


def cron_sets(trigger: Mapping[str, object]) -> CronSets:
    """Value sets of a valid trigger (raises ``FieldError`` on an invalid one)."""
    items = tuple(sorted((k, str(v)) for k, v in trigger.items() if v is not None))
    return _sets(items)


Clock = tuple[int, int, int]


def _times_of_day(sets: CronSets, after: Clock | None) -> Iterator[Clock]:
    """(hour, minute, second) in order, from ``after`` (inclusive) on."""
    h0, m0, s0 = after or (0, 0, 0)
    for hour in sets.hours[bisect_left(sets.hours, h0):]:
        minutes = sets.minutes
        if hour == h0:
            minutes = minutes[bisect_left(minutes, m0):]
        for minute in minutes:
            seconds = sets.seconds
            if hour == h0 and minute == m0:
                seconds = seconds[bisect_left(seconds, s0):]
            for second in seconds:
                yield hour, minute, second


def walls_from(sets: CronSets, first: datetime) -> Iterator[datetime]:
    """Naive wall times the cron selects, ``>= first``, ascending."""
    if first.microsecond:
        first = first.replace(microsecond=0) + timedelta(seconds=1)
    day = first.date()
    after: Clock | None = (first.hour, first.minute, first.second)
    for _ in range(_MAX_DAYS):
        if sets.day_matches(day):
            for hour, minute, second in _times_of_day(sets, after):
                yield datetime(day.year, day.month, day.day, hour, minute, second)
        after = None
        day += timedelta(days=1)

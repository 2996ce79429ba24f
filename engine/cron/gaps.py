"""The shortest time between two consecutive fires, from the value sets alone."""

from __future__ import annotations

from calendar import monthrange
from collections.abc import Mapping, Sequence
from datetime import date
from functools import lru_cache
from itertools import pairwise
from typing import Any

from schedsync.engine.cron.fields import FieldError
from schedsync.engine.cron.fire import interval_seconds
from schedsync.engine.cron.walls import CronSets, cron_sets

# Day gaps are looked for over three years (one of them a leap year): a cron whose
# matching days are further apart than that fires too rarely for any min_interval.
_SCAN_YEARS = (2024, 2025, 2026)
_SCAN_DAYS = 366 * 3


def _smallest_step(values: Sequence[int]) -> int | None:
    steps = [b - a for a, b in pairwise(values)]
    return min(steps) if steps else None


def _matching_days(sets: CronSets) -> list[date]:
    out = []
    for year in _SCAN_YEARS:
        for month in sorted(sets.months):
            last = monthrange(year, month)[1]
            for day in sorted(d for d in sets.days if d <= last):
                moment = date(year, month, day)
                if moment.isoweekday() % 7 in sets.weekdays:
                    out.append(moment)
    return out


@lru_cache(maxsize=16384)
def _day_step(
    days: frozenset[int], months: frozenset[int], weekdays: frozenset[int]
) -> int | None:
    if len(weekdays) == 7 and len(days) == 31 and len(months) == 12:
        return 1
    if len(days) == 31 and len(months) == 12:
        ordered = sorted(weekdays)
        return min(b - a for a, b in pairwise([*ordered, ordered[0] + 7]))
    sets = CronSets((0,), (0,), (0,), days, months, weekdays)
    found = _matching_days(sets)
    if len(found) < 2:
        return _SCAN_DAYS if found else None
    return min((b - a).days for a, b in pairwise(found))


def cron_min_gap(sets: CronSets) -> float | None:
    """Wall-clock gap; a DST change can shorten one gap by its shift on that day."""
    secs, mins, hours = sets.seconds, sets.minutes, sets.hours
    span_minute = secs[-1] - secs[0]
    span_hour = (mins[-1] * 60 + secs[-1]) - (mins[0] * 60 + secs[0])
    span_day = (hours[-1] * 3600 + mins[-1] * 60 + secs[-1]) - (
        hours[0] * 3600 + mins[0] * 60 + secs[0]
    )
    candidates: list[int] = []
    if (step := _smallest_step(secs)) is not None:
        candidates.append(step)
    if (step := _smallest_step(mins)) is not None:
        candidates.append(step * 60 - span_minute)
    if (step := _smallest_step(hours)) is not None:
        candidates.append(step * 3600 - span_hour)
    if (step := _day_step(sets.days, sets.months, sets.weekdays)) is not None:
        candidates.append(step * 86400 - span_day)
    return float(min(candidates)) if candidates else None


def min_gap_seconds(
    trigger_type: str, trigger: Mapping[str, Any], tz: str, engine: str
) -> float | None:
    """Shortest time between two consecutive fires (``None``: fires once or irregularly).

    ``"*/5"`` minutes -> 300.0; an interval of 2 hours -> 7200.0; clocked, solar and
    invalid crons -> ``None``.
    """
    if trigger_type == "interval":
        return float(interval_seconds(trigger))
    if trigger_type == "cron":
        try:
            return cron_min_gap(cron_sets(trigger))
        except FieldError:
            return None  # an invalid cron is check_cron's to report
    return None

"""The shortest time between two consecutive fires, from the value sets alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from schedsync.engine.cron.fire import interval_seconds
from schedsync.engine.cron.walls import CronSets, cron_sets

# Day gaps are looked for over two years: a cron whose matching days are further apart
# than that fires too rarely for any min_interval to matter.
_SCAN_DAYS = 366 * 2
_SCAN_FROM = date(2024, 1, 1)


def _smallest_step(values: Sequence[int]) -> int | None:
    steps = [b - a for a, b in pairwise(values)]
    return min(steps) if steps else None


def _smallest_day_step(sets: CronSets) -> int | None:
    previous: date | None = None
    best: int | None = None
    day = _SCAN_FROM
    for _ in range(_SCAN_DAYS):
        if sets.day_matches(day):
            if previous is not None:
                step = (day - previous).days
                best = step if best is None else min(best, step)
            previous = day
        day += timedelta(days=1)
    return best if best is not None else (_SCAN_DAYS if previous is not None else None)


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
    if (step := _smallest_day_step(sets)) is not None:
        candidates.append(step * 86400 - span_day)
    return float(min(candidates)) if candidates else None


def min_gap_seconds(
    trigger_type: str, trigger: Mapping[str, Any], tz: str, engine: str
) -> float | None:
    """Shortest time between two consecutive fires (``None``: fires once or irregularly).

    ``"*/5"`` minutes -> 300.0; an interval of 2 hours -> 7200.0; clocked and solar
    -> ``None``.
    """
    if trigger_type == "interval":
        return float(interval_seconds(trigger))
    if trigger_type == "cron":
        return cron_min_gap(cron_sets(trigger))
    return None

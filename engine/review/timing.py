"""Fire times before and after a change, through the cron package (never our own maths)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from schedsync.engine.cron import describe, next_fire_times
from schedsync.engine.review.model import NEXT_FIRES, WINDOW_DAYS, Change, Entry, Kind, Timing
from schedsync.schemas.schedule import PERIOD_SECONDS

# Fires counted per schedule and window; above it (a cron every few seconds) counts are
# shown as "at least". 20,000 in 7 days is one fire every 30 seconds.
CAP = 20_000
_FIRST_BATCH = 64


@dataclass(frozen=True, slots=True)
class WindowFires:
    instants: tuple[datetime, ...]  # at most CAP, in order
    count: int  # exact unless ``capped``
    capped: bool


_NONE = WindowFires((), 0, False)


def fires(entry: Entry | None, start: datetime, count: int) -> tuple[datetime, ...]:
    """The next ``count`` fires of an enabled, timed schedule (empty otherwise)."""
    if entry is None or not entry.timed or not entry.spec.get("enabled"):
        return ()
    spec = entry.spec
    return tuple(next_fire_times(
        str(spec["trigger_type"]), spec["trigger"], entry.zone, entry.engine, start, count
    ))


TriggerKey = tuple[str, bytes, str, str]
# Fleets repeat triggers: one computation per distinct trigger, zone and engine.
_MEMO_SIZE = 65_536
_WINDOWS: dict[tuple[TriggerKey, datetime, int], WindowFires] = {}
_WORDS: dict[tuple[str, bytes], str] = {}


def trigger_key(entry: Entry) -> TriggerKey:
    """Equal for schedules that fire at the same instants (fleets repeat triggers)."""
    spec = entry.spec
    return (str(spec["trigger_type"]), orjson.dumps(spec["trigger"], option=orjson.OPT_SORT_KEYS),
            entry.zone, entry.engine)


def window_fires(entry: Entry | None, start: datetime, days: int = WINDOW_DAYS) -> WindowFires:
    """Fires in (start, start + days]."""
    if entry is None or not entry.timed or not entry.spec.get("enabled"):
        return _NONE
    key = (trigger_key(entry), start, days)
    found = _WINDOWS.get(key)
    if found is None:
        if len(_WINDOWS) >= _MEMO_SIZE:
            _WINDOWS.clear()
        found = _WINDOWS[key] = _compute_window(entry, start, days)
    return found


def _compute_window(entry: Entry, start: datetime, days: int) -> WindowFires:
    end = start + timedelta(days=days)
    if entry.spec["trigger_type"] == "interval":
        return _interval_window(entry, start, end)
    # Ask for more until the window is covered: a daily cron needs 8, a minutely 10,081.
    want = _FIRST_BATCH
    while True:
        found = fires(entry, start, want)
        inside = tuple(t for t in found if t <= end)
        if len(inside) < len(found) or len(found) < want:
            return WindowFires(inside, len(inside), False)
        if want >= CAP:
            return WindowFires(inside[:CAP], CAP, True)
        want = min(want * 4, CAP)


def interval_seconds(trigger: Mapping[str, Any]) -> int:
    return int(trigger["every"]) * PERIOD_SECONDS[str(trigger.get("period", "seconds"))]


def _interval_window(entry: Entry, start: datetime, end: datetime) -> WindowFires:
    step = interval_seconds(entry.spec["trigger"])
    total = int((end - start).total_seconds()) // step
    shown = min(total, CAP)
    instants = tuple(start + timedelta(seconds=step * k) for k in range(1, shown + 1))
    return WindowFires(instants, total, total > CAP)


def words(entry: Entry | None) -> str | None:
    """The trigger in words (cron-descriptor via the cron package)."""
    if entry is None:
        return None
    key = trigger_key(entry)[:2]
    found = _WORDS.get(key)
    if found is None:
        if len(_WORDS) >= _MEMO_SIZE:
            _WORDS.clear()
        found = _WORDS[key] = describe(str(key[0]), entry.spec.get("trigger") or {})
    return found


def _touches_time(change: Change) -> bool:
    sides = [e for e in (change.before, change.after) if e is not None]
    if not any(e.timed for e in sides):
        return False
    if change.kind in (Kind.ADDED, Kind.REMOVED):
        return True
    # A rename or an edit of the task alone fires exactly as before: no preview needed.
    moving = {"trigger_type", "timezone", "enabled", "scheduler"}
    return any(f.path in moving or f.path.startswith("trigger") for f in change.fields)


def timing(change: Change, now: datetime) -> Timing | None:
    """Next fires and 7-day runs on both sides, or None when the fire times cannot move."""
    if not _touches_time(change):
        return None
    before, after = change.before, change.after
    old, new = window_fires(before, now), window_fires(after, now)
    if old.capped or new.capped:
        gained, lost = max(0, new.count - old.count), max(0, old.count - new.count)
    else:
        old_set, new_set = set(old.instants), set(new.instants)
        gained, lost = len(new_set - old_set), len(old_set - new_set)
    return Timing(
        zone_before=before.zone if before else None,
        zone_after=after.zone if after else None,
        words_before=words(before),
        words_after=words(after),
        next_before=fires(before, now, NEXT_FIRES),
        next_after=fires(after, now, NEXT_FIRES),
        runs_before=old.count,
        runs_after=new.count,
        gained=gained,
        lost=lost,
        capped=old.capped or new.capped,
    )

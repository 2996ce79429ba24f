"""Fleet pile-ups: minutes in which more schedules fire than the configured limit.

Counted per wall minute over the next 7 days on both sides. Only minutes that are
crowded after the change and were not before are reported, on the changed schedules
that fire in them: an old crowd is not this pull request's news.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schedsync.engine.review.entries import EntryKey
from schedsync.engine.review.model import WINDOW_DAYS, Change, Entry, Finding, Level
from schedsync.engine.review.timing import (
    TriggerKey,
    interval_seconds,
    trigger_key,
    window_fires,
)

Minutes = frozenset[int]  # minutes since the epoch (UTC)


def _minute(moment: datetime) -> int:
    return int(moment.timestamp()) // 60


class MinuteIndex:
    """Minutes each schedule fires in, shared by equal triggers (fleets repeat them)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._cache: dict[TriggerKey, Minutes] = {}

    def minutes(self, entry: Entry) -> Minutes:
        if not entry.timed or not entry.spec.get("enabled"):
            return frozenset()
        key = trigger_key(entry)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._compute(entry)
        return found

    def _compute(self, entry: Entry) -> Minutes:
        spec = entry.spec
        if spec["trigger_type"] == "interval":
            return self._interval(entry)
        if spec["trigger_type"] == "cron" and "second" in spec["trigger"]:
            # A cron fires in the minutes its second-less form fires in; without the
            # seconds the count stays within one per minute.
            trigger = {k: v for k, v in spec["trigger"].items() if k != "second"}
            entry = _with_trigger(entry, trigger)
        fired = window_fires(entry, self.now)
        if fired.capped:  # more often than every 30 s: every minute of the window
            return self._all()
        return frozenset(_minute(t) for t in fired.instants)

    def _interval(self, entry: Entry) -> Minutes:
        # The same instants as the cron package's interval fires (start + k * step),
        # in whole seconds: building 10,080 datetimes per schedule is what costs.
        step = interval_seconds(entry.spec["trigger"])
        if step < 60:
            return self._all()
        first = int(self.now.timestamp())
        count = WINDOW_DAYS * 86400 // step
        return frozenset((first + step * k) // 60 for k in range(1, count + 1))

    def _all(self) -> Minutes:
        first = _minute(self.now)
        return frozenset(range(first, first + WINDOW_DAYS * 1440 + 1))


def _with_trigger(entry: Entry, trigger: Mapping[str, object]) -> Entry:
    return replace(entry, spec={**entry.spec, "trigger": dict(trigger)})


def _counts(index: MinuteIndex, entries: Iterable[Entry], only: Minutes) -> Counter[int]:
    """Schedules per minute, counted only in ``only`` (the rest cannot be news)."""
    # Fleets repeat triggers: intersect once per distinct trigger, add its multiplicity.
    groups: Counter[TriggerKey] = Counter()
    sample: dict[TriggerKey, Entry] = {}
    for entry in entries:
        if entry.timed and entry.spec.get("enabled"):
            key = trigger_key(entry)
            groups[key] += 1
            sample.setdefault(key, entry)
    counter: Counter[int] = Counter()
    for key, multiplicity in groups.items():
        for minute in index.minutes(sample[key]) & only:
            counter[minute] += multiplicity
    return counter


def pileup_findings(changes: Iterable[Change], head: Mapping[EntryKey, Entry],
                    now: datetime, limit: int) -> list[Finding]:
    """One finding per changed schedule that fires in a newly crowded minute.

    Schedules whose fire times did not move count the same on both sides, so they are
    counted once; only the moving ones are counted per side.
    """
    moving = [c for c in changes if c.timing is not None and c.timing.moved]
    arriving = [c.after for c in moving if c.after is not None]
    if len(head) <= limit or not arriving:
        return []  # fewer schedules than the limit cannot crowd a minute
    leaving = [c.before for c in moving if c.before is not None]
    moved_keys = {(e.project, e.name) for e in arriving}
    steady = [e for key, e in head.items() if key not in moved_keys]
    index = MinuteIndex(now)
    candidates = frozenset().union(*(index.minutes(e) for e in arriving))
    common = _counts(index, steady, candidates)
    after = common + _counts(index, arriving, candidates)
    crowded = frozenset(m for m, n in after.items() if n > limit)
    if not crowded:
        return []
    before = _counts(index, steady, crowded) + _counts(index, leaving, crowded)
    new = {m for m in crowded if before.get(m, 0) <= limit}
    out = []
    for entry in arriving:
        hits = sorted(index.minutes(entry) & new)
        if hits:
            out.append(_finding(entry, hits, after, limit))
    return out


def _finding(entry: Entry, hits: list[int], after: Counter[int], limit: int) -> Finding:
    zone = ZoneInfo(entry.zone)
    first = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(minutes=hits[0])
    peak = max(after[m] for m in hits)
    more = f" and {len(hits) - 1} more minute(s) in the next 7 days" if len(hits) > 1 else ""
    return Finding(
        Level.WARNING, "pile-up", entry.project, entry.name, entry.file,
        entry.line_of("trigger"), "Fleet pile-up",
        f"{entry.project}/{entry.name} fires at {first.astimezone(zone):%Y-%m-%d %H:%M %Z} "
        f"together with {after[hits[0]] - 1} other schedules (up to {peak} in one minute"
        f"{more}); the limit is review.max_same_minute = {limit} and the minute was not "
        "crowded before this change. Spread the start minutes (e.g. minute: \"7\" instead "
        "of \"0\") or raise the limit in schedsync.yaml.",
    )

"""Seeded random cron specs, zones and start times for the differential harness.

Shared by ``tests/crontruth`` (CI sample) and ``bench/crontruth.py`` (10,000 specs).
Every field form of the canonical grammar appears: ``*``, numbers, ranges, steps
(``*/n``, ``a-b/n``, ``a/n``), lists, names, 7 as Sunday, DOM and DOW together; start
times are biased towards DST transition days.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from schedsync.engine.cron import check_cron
from schedsync.engine.cron.fields import DOW_NAMES, MONTH_NAMES
from schedsync.engine.cron.zones import transitions

ZONES: tuple[str, ...] = (
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
)
FIRES = 6


@dataclass(frozen=True)
class Case:
    trigger: dict[str, str]
    tz: str
    start: datetime
    engine: str

    def __str__(self) -> str:
        return f"{self.engine} {self.tz} {self.start.isoformat()} {self.trigger}"


def _value(rng: random.Random, low: int, high: int, names: tuple[str, ...], base: int) -> str:
    value = rng.randint(low, high)
    if names and rng.random() < 0.3 and 0 <= value - base < len(names):
        name = names[value - base]
        return name.upper() if rng.random() < 0.1 else name
    return str(value)


def _part(rng: random.Random, low: int, high: int, names: tuple[str, ...], base: int) -> str:
    form = rng.choice(("num", "num", "range", "star_step", "range_step", "from_step"))
    if form == "num":
        return _value(rng, low, high, names, base)
    if form == "star_step":
        return f"*/{rng.randint(1, max(1, (high - low) // 2 + 1))}"
    a = rng.randint(low, high)
    b = rng.randint(a, high)
    a_text = names[a - base] if names and rng.random() < 0.3 and a - base < len(names) else str(a)
    b_text = names[b - base] if names and rng.random() < 0.3 and b - base < len(names) else str(b)
    if form == "range":
        return f"{a_text}-{b_text}"
    step = rng.randint(1, max(1, (high - low) // 3))
    if form == "from_step":
        return f"{a}/{step}"
    return f"{a_text}-{b_text}/{step}"


def _field(
    rng: random.Random, star: float, low: int, high: int,
    names: tuple[str, ...] = (), base: int = 0, near: tuple[int, ...] = (),
) -> str:
    if rng.random() < star:
        return "*"
    if near and rng.random() < 0.4:
        return ",".join(str(v) for v in sorted(rng.sample(near, rng.randint(1, len(near)))))
    parts = [_part(rng, low, high, names, base) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    return ",".join(parts)


def random_trigger(rng: random.Random, seconds: bool) -> dict[str, str]:
    while True:
        trigger = {
            "minute": _field(rng, 0.15, 0, 59, near=(0, 15, 30, 45)),
            "hour": _field(rng, 0.3, 0, 23, near=(0, 1, 2, 3, 4)),
            "day_of_month": _field(rng, 0.7, 1, 31),
            "month_of_year": _field(rng, 0.75, 1, 12, MONTH_NAMES, 1),
            "day_of_week": _field(rng, 0.55, 0, 7, DOW_NAMES, 0),
        }
        if seconds and rng.random() < 0.3:
            trigger["second"] = _field(rng, 0.1, 0, 59)
        if not check_cron(trigger, allow_seconds=seconds):
            return trigger


def random_start(rng: random.Random, tz: str) -> datetime:
    base = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 2 * 365 * 86400))
    changes = transitions(tz, base.date().replace(month=1, day=1), 730)
    if changes and rng.random() < 0.6:
        change = rng.choice(changes).at
        base = change - timedelta(seconds=rng.randint(0, 36 * 3600))
    roll = rng.random()
    if roll < 0.5:
        base = base.replace(second=0, microsecond=0)
    elif roll < 0.6:
        base = base.replace(microsecond=rng.randint(1, 999_999))
    return base


def cases(seed: int, count: int) -> list[Case]:
    rng = random.Random(seed)
    out = []
    for index in range(count):
        engine = ("apscheduler", "celery")[index % 2]
        tz = rng.choice(ZONES)
        trigger = random_trigger(rng, seconds=engine == "apscheduler")
        out.append(Case(trigger, tz, random_start(rng, tz), engine))
    return out

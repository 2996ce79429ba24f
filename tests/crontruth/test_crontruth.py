"""Differential harness: schedsync's fire times against the real engines.

A seeded sample of random specs (every field form, five zones, start times biased to
DST change days) must give exactly the fire times the real engines give, for both
APScheduler and Celery, and the canonical form must survive each engine's round trip.
``bench/crontruth.py`` runs the same comparison on 10,000 specs.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger
from celery.schedules import crontab
from crontruth_cases import FIRES, Case, cases
from crontruth_drivers import django_celery_beat_truth, truth

from schedsync.engine.cron import (
    canonical_cron,
    dst_findings,
    from_apscheduler,
    from_celery,
    next_fire_times,
    to_apscheduler,
    to_celery,
)
from schedsync.engine.cron.dst import _affected, _fires_between
from schedsync.engine.cron.fire import steady_or_none
from schedsync.engine.cron.walls import cron_sets
from schedsync.engine.cron.zones import transitions

SAMPLE = 2400
SEED = 20261129


@pytest.fixture(scope="module")
def sample() -> list[Case]:
    return cases(SEED, SAMPLE)


def _disagreements(sample: list[Case]) -> list[str]:
    out = []
    for case in sample:
        ours = next_fire_times("cron", case.trigger, case.tz, case.engine, case.start, FIRES)
        theirs = truth(case.engine, case.trigger, case.tz, case.start, FIRES)
        if ours != theirs:
            out.append(f"{case}\n  schedsync {ours}\n  engine    {theirs}")
    return out


def test_sample_covers_every_engine_zone_and_form(sample: list[Case]) -> None:
    assert len(sample) >= 2000
    assert Counter(c.engine for c in sample).keys() == {"apscheduler", "celery"}
    assert len({c.tz for c in sample}) == 5
    texts = " ".join(" ".join(c.trigger.values()) for c in sample)
    for form in ("*/", "-", ",", "/", "mon", "jan", "7"):
        assert form in texts
    assert any("second" in c.trigger for c in sample)
    assert any(
        c.trigger["day_of_month"] != "*" and c.trigger["day_of_week"] != "*" for c in sample
    )


def test_both_paths_are_exercised(sample: list[Case]) -> None:
    """Fast (value sets) and engine (near DST) answers must both be under test."""
    steady = sum(
        steady_or_none(c.trigger, c.tz, c.start, FIRES) is not None for c in sample
    )
    assert 0.25 * len(sample) < steady < 0.9 * len(sample)


def test_fire_times_agree_with_the_engines(sample: list[Case]) -> None:
    wrong = _disagreements(sample)
    assert not wrong, f"{len(wrong)} of {len(sample)} disagree:\n" + "\n".join(wrong[:10])


def test_canonical_form_survives_each_engine(sample: list[Case]) -> None:
    for case in sample[:600]:
        canonical = canonical_cron(case.trigger)
        if case.engine == "apscheduler":
            real = CronTrigger(**to_apscheduler(case.trigger), timezone="UTC")
            fields = {f.name: str(f) for f in real.fields}
            assert from_apscheduler(fields) == canonical, case
        else:
            if "second" in case.trigger:
                continue
            real_crontab = crontab(**to_celery(case.trigger))
            fields = {
                "minute": real_crontab._orig_minute,
                "hour": real_crontab._orig_hour,
                "day_of_week": real_crontab._orig_day_of_week,
                "day_of_month": real_crontab._orig_day_of_month,
                "month_of_year": real_crontab._orig_month_of_year,
            }
            assert from_celery(fields) == canonical, case


def _window_truth(case: Case, low: datetime, high: datetime) -> list[datetime]:
    fires = truth(case.engine, case.trigger, case.tz, low - timedelta(seconds=1), 5)
    return [f for f in fires if low <= f < high]


def test_dst_findings_use_the_engines_real_fires(sample: list[Case]) -> None:
    """What a DST warning says an engine does is what the engine does."""
    checked = 0
    for case in sample[:1200]:
        sets = cron_sets(case.trigger)
        items = tuple(sorted(case.trigger.items()))
        for change in transitions(case.tz, case.start.date(), 200):
            if not _affected(sets, change):
                continue
            low, high = change.window
            width = high - low
            span = (
                (change.at, change.at + width) if change.kind == "gap"
                else (change.at - width, change.at + width)
            )
            shown = _fires_between(items, case.tz, case.engine, *span)
            assert shown == _window_truth(case, *span)[: len(shown)], case
            assert len(dst_findings(case.trigger, case.tz, case.engine, case.start, 200)) >= 1
            checked += 1
    assert checked > 100


def test_django_celery_beat_rows_follow_their_own_zone(sample: list[Case]) -> None:
    """A crontab row's zone, not the app's (UTC here), decides; the same truth as Celery."""
    rows = [c for c in sample if c.engine == "celery"][:600]
    wrong = []
    for case in rows:
        ours = next_fire_times("cron", case.trigger, case.tz, "celery", case.start, FIRES)
        theirs = django_celery_beat_truth(case.trigger, case.tz, case.start, FIRES)
        if ours != theirs:
            wrong.append(f"{case}\n  schedsync {ours}\n  row       {theirs}")
    assert not wrong, f"{len(wrong)} of {len(rows)} disagree:\n" + "\n".join(wrong[:10])

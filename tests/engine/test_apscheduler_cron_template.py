"""Cron trigger parts spliced from a template per shape are ``pickle.dumps``'s bytes."""

from __future__ import annotations

import pickle
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger

from schedsync.engine.adapters import apscheduler_pickle
from schedsync.engine.adapters.apscheduler_jobs import cron_trigger, tzinfo_for
from schedsync.engine.adapters.apscheduler_pickle import dumps_job_state
from schedsync.engine.cron import to_apscheduler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crontruth"))
from crontruth_cases import ZONES, random_start, random_trigger

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _usual_form(rng: random.Random) -> dict[str, str]:
    """Crons of a few shapes with random values, so that shapes repeat (as in a real
    repository) and most parts are spliced: plain values, ranges, steps, lists, names,
    'last' and 'Nth weekday' expressions, years (two-byte ints)."""
    fields = to_apscheduler({"minute": str(rng.randrange(60)), "hour": str(rng.randrange(24))})
    form = rng.randrange(7)
    if form == 1:
        fields["day_of_week"] = f"{rng.choice(_DAYS[:3])}-{rng.choice(_DAYS[3:])}"
    elif form == 2:
        first = rng.randrange(30)
        last = rng.randrange(first + 29, 60)
        fields["minute"] = f"{first}-{last}/{rng.randrange(1, last - first + 1)}"
    elif form == 3:
        fields["hour"] = ",".join(str(h) for h in sorted(rng.sample(range(24), 3)))
    elif form == 4:
        fields["day"] = rng.choice(("last", f"{rng.choice(('1st', '2nd', 'last'))} fri"))
    elif form == 5:
        first = rng.randrange(1970, 2300)
        fields["year"] = f"{first}-{rng.randrange(first, 9999)}"
    elif form == 6:
        fields["second"] = f"*/{rng.randrange(1, 60)}"
    return fields


def _zone(rng: random.Random) -> Any:
    return tzinfo_for(rng.choice(ZONES))


def test_cron_parts_spliced_from_a_template_are_pickles_bytes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    spliced: list[int] = []
    splice = apscheduler_pickle._CronTemplate.splice

    def counted(self: Any, payloads: list[bytes]) -> bytes:
        spliced.append(1)
        return splice(self, payloads)

    monkeypatch.setattr(apscheduler_pickle._CronTemplate, "splice", counted)
    rng = random.Random(23)
    checked = 0
    for index in range(3000):
        fields = _usual_form(rng) if index % 3 else to_apscheduler(
            random_trigger(rng, seconds=index % 2 == 0))
        zone = _zone(rng)
        trigger = cron_trigger(fields, zone)
        start = random_start(rng, "UTC" if zone is UTC else zone.key)
        fire = trigger.get_next_fire_time(None, start)
        if fire is None:
            continue
        checked += 1
        made = CronTrigger(timezone=zone, **fields)
        expected = apscheduler_pickle._pickled_items(made, fire)
        assert expected is not None
        assert apscheduler_pickle._cron_items(trigger, fire) == expected, (fields, fire)
        if index % 50 == 0:
            state = {
                "version": 1, "id": "j", "func": "app.tasks:work", "trigger": trigger,
                "executor": "default", "args": (index,), "kwargs": {"k": "v"}, "name": "j",
                "misfire_grace_time": 30, "coalesce": True, "max_instances": 1,
                "next_run_time": fire,
            }
            ours = pickle.loads(dumps_job_state(state))
            plain = pickle.loads(pickle.dumps(state, pickle.HIGHEST_PROTOCOL))
            loaded = ours.pop("trigger")
            plain.pop("trigger")
            assert ours == plain
            assert repr(loaded) == repr(made)
            assert pickle.dumps(loaded, 5) == pickle.dumps(made, 5)
            assert loaded.get_next_fire_time(None, start) == fire
    assert checked > 2500
    assert len(spliced) > 1500  # most parts came from a template


def test_a_fold_one_next_run_time_is_spliced_with_its_fold() -> None:
    zone = ZoneInfo("Europe/Berlin")
    fields = to_apscheduler({"minute": "30", "hour": "2"})
    trigger = cron_trigger(fields, zone)
    first = datetime(2026, 10, 25, 2, 30, tzinfo=zone)
    second = first.replace(fold=1)
    for moment in (first, second, first, second, second):
        assert apscheduler_pickle._cron_items(trigger, moment) == (
            apscheduler_pickle._pickled_items(trigger, moment))
        state = {"version": 1, "id": "j", "trigger": trigger, "next_run_time": moment}
        loaded = pickle.loads(dumps_job_state(state))["next_run_time"]
        assert (loaded, loaded.fold, loaded.tzinfo) == (moment, moment.fold, zone)


def test_triggers_on_fields_not_registered_are_pickled_whole() -> None:
    zone = ZoneInfo("Europe/Berlin")
    made = CronTrigger(timezone=zone, minute="5", hour="3")
    fire = made.get_next_fire_time(None, datetime(2026, 1, 1, tzinfo=UTC))
    assert apscheduler_pickle._cron_items(made, fire) is None
    part = apscheduler_pickle._shared_part(made, fire)
    assert part is not None
    assert part.items == apscheduler_pickle._pickled_items(made, fire)
    # Another zone object, a next run time in another zone, a start date: pickled whole.
    fields = to_apscheduler({"minute": "5", "hour": "3"})
    trigger = cron_trigger(fields, zone)
    assert apscheduler_pickle._cron_items(trigger, fire.astimezone(UTC)) is None
    dated = cron_trigger(fields, zone)
    dated.start_date = fire
    assert apscheduler_pickle._cron_items(dated, fire) is None

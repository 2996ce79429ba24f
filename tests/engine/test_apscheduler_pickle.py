"""The allow-list unpickler: APScheduler job states load, nothing else runs."""

from __future__ import annotations

import os
import pickle
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.calendarinterval import CalendarIntervalTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedsync.engine.adapters import apscheduler_pickle
from schedsync.engine.adapters.apscheduler import read_job
from schedsync.engine.adapters.apscheduler_jobs import build_trigger, cron_trigger
from schedsync.engine.adapters.apscheduler_pickle import (
    dumps_job_state,
    is_opaque,
    restricted_loads,
)
from schedsync.engine.cron import to_apscheduler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "crontruth"))
from crontruth_cases import ZONES, random_start, random_trigger


def _state(trigger: Any, **over: Any) -> dict[str, Any]:
    state = {
        "version": 1, "id": "j", "func": "app.tasks:work", "trigger": trigger,
        "executor": "default", "args": (1, "a", [2.5, None]), "kwargs": {"k": {"n": True}},
        "name": "j", "misfire_grace_time": 1, "coalesce": True, "max_instances": 1,
        "next_run_time": datetime(2026, 12, 1, 9, tzinfo=ZoneInfo("Europe/Berlin")),
    }
    state.update(over)
    return state


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.system, (f"touch {self.marker}",))


class _GetattrEvil:
    def __reduce__(self) -> Any:
        # getattr(datetime, "__class__") would be the first step out of the allow-list.
        return (getattr, (datetime, "__class__"))


def test_apscheduler_triggers_and_zones_load_equal() -> None:
    zone = ZoneInfo("Europe/Berlin")
    for trigger in (
        CronTrigger(minute="*/5", hour="9-17", day_of_week="mon-fri", timezone=zone),
        CronTrigger(day="last", month="jan-mar", timezone=UTC),
        IntervalTrigger(minutes=5, timezone=zone),
        DateTrigger(datetime(2026, 12, 24, 18, tzinfo=zone)),
    ):
        loaded = restricted_loads(pickle.dumps(_state(trigger), pickle.HIGHEST_PROTOCOL))
        assert type(loaded["trigger"]) is type(trigger)
        assert loaded["trigger"].__getstate__() == trigger.__getstate__()
        assert loaded["next_run_time"].tzinfo is zone
        assert loaded["args"] == (1, "a", [2.5, None])


def test_every_pickle_protocol_loads() -> None:
    trigger = CronTrigger(hour="9", timezone=ZoneInfo("Europe/Berlin"))
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        loaded = restricted_loads(pickle.dumps(_state(trigger), protocol))
        assert str(loaded["trigger"]) == str(trigger), protocol


def test_a_pickle_that_would_run_a_command_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    loaded = restricted_loads(pickle.dumps(_state(DateTrigger(datetime.now(UTC)),
                                                  args=(_Evil(marker),))))
    assert not marker.exists()
    assert is_opaque(loaded["args"][0])
    assert "posix.system" in repr(loaded["args"][0]) or "os.system" in repr(loaded["args"][0])


def test_getattr_reaches_only_zoneinfo_unpickle() -> None:
    loaded = restricted_loads(pickle.dumps({"x": _GetattrEvil()}))
    assert is_opaque(loaded["x"])


def test_unknown_trigger_class_is_a_problem_naming_the_class() -> None:
    trigger = CalendarIntervalTrigger(months=1, timezone=UTC)
    job = read_job("cal", pickle.dumps(_state(trigger)), 1.0)
    assert job.problem is not None
    assert "CalendarIntervalTrigger" in job.problem
    assert job.entry().problem == job.problem


def test_args_of_a_user_class_are_a_problem_not_an_import() -> None:
    blob = pickle.dumps(_state(DateTrigger(datetime.now(UTC)), args=(Path("/x"),)))
    job = read_job("p", blob, None)
    assert job.problem is not None
    assert "PosixPath" in job.problem


def test_garbage_is_a_problem_entry() -> None:
    job = read_job("broken", b"\x80\x05not a pickle", 12.0)
    assert job.problem is not None
    assert "cannot be read" in job.problem
    entry = job.entry()
    assert entry.next_run_at == datetime.fromtimestamp(12.0, UTC)


def _restored(blob: bytes, loads: Any) -> dict[str, Any]:
    state: dict[str, Any] = loads(blob)
    return {**state, "trigger": (type(state["trigger"]), state["trigger"].__getstate__())}


def test_job_pickles_that_reuse_the_trigger_restore_as_plain_pickles_do() -> None:
    zone = ZoneInfo("Europe/Berlin")
    cron = CronTrigger(minute="*/5", hour="9-17", day_of_week="mon-fri", timezone=zone)
    shared = [1, "x"]
    states = [
        _state(cron),
        _state(cron, id="k", name="k", args=(shared, shared), kwargs={"k": shared}),
        _state(cron, next_run_time=None),
        _state(IntervalTrigger(minutes=5, timezone=zone)),
        _state(DateTrigger(datetime(2026, 12, 24, 18, tzinfo=UTC)),
               next_run_time=datetime(2026, 12, 24, 18, tzinfo=UTC)),
        _state(cron, kwargs={f"k{i}": i for i in range(2000)}),
    ]
    for state in states:
        plain = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
        for _ in range(2):  # the second one reuses the cached trigger part
            blob = dumps_job_state(state)
            for loads in (pickle.loads, restricted_loads):
                assert _restored(blob, loads) == _restored(plain, pickle.loads)
            assert len(blob) <= len(plain) + 16
    again = pickle.loads(dumps_job_state(states[1]))
    assert again["args"][0] is again["args"][1] is again["kwargs"]["k"]
    assert again["next_run_time"].tzinfo is again["trigger"].timezone


def test_states_of_any_other_shape_load_equal() -> None:
    for state in ({"version": 1}, {**_state(None), "extra": list(range(3))},
                  {**{f"k{i}": i for i in range(600)}, **_state(None)}):
        assert pickle.loads(dumps_job_state(state)) == state


def test_crons_read_one_after_another_keep_their_own_fields() -> None:
    hours = ["3", "3-5", "*/3", "3,5", "0-12"]
    for hour in [*hours, *hours]:  # the second time from the cache
        trigger = CronTrigger(hour=hour, minute="0", timezone=UTC)
        job = read_job("c", pickle.dumps(_state(trigger)), 1.0)
        assert job.problem is None
        assert job.spec["trigger"]["hour"] == hour
    for _ in range(2):
        job = read_job("l", pickle.dumps(_state(CronTrigger(day="last", timezone=UTC))), 1.0)
        assert job.problem is not None
        assert "'last'" in job.problem


def test_own_fields_pickled_without_a_memo_restore_exactly() -> None:
    # The job's own fields are pickled without a memo unless an object occurs twice:
    # deep nesting, and a list shared by args and kwargs, still restore as plain pickles.
    cron = CronTrigger(minute="0", hour="3", timezone=ZoneInfo("Europe/Berlin"))
    deep: Any = "leaf"
    for _ in range(120):
        deep = [deep, {"n": 1}]
    shared = ["s"]
    for state in (_state(cron, args=(deep,)), _state(cron, args=(shared,), kwargs={"k": shared})):
        blob = dumps_job_state(state)
        assert _restored(blob, pickle.loads) == _restored(pickle.dumps(state), pickle.loads)
    again = pickle.loads(dumps_job_state(_state(cron, args=(shared,), kwargs={"k": shared})))
    assert again["args"][0] is again["kwargs"]["k"]


def test_usual_states_skip_the_walk_and_pickle_as_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The states schedsync writes (scalars; args and kwargs of scalars) take a shortcut
    # past _plain_tree; the bytes are those of the walk, and restore as plain pickles do.
    cron = CronTrigger(minute="7", hour="3", timezone=ZoneInfo("Europe/Berlin"))
    usual = [
        _state(cron, args=(), kwargs={}),
        _state(cron, args=(1, "a", 2.5, None, True, b"x"), kwargs={"k": "v", "n": 3}),
        _state(IntervalTrigger(minutes=5, timezone=UTC), args=("ü",), kwargs={"ß": None},
               next_run_time=None),
    ]
    # Not usual: a list inside args, a thirteenth key, a missing key, a list as args.
    unusual = [_state(cron), {**_state(cron, args=()), "extra": 1},
               {k: v for k, v in _state(cron, args=()).items() if k != "coalesce"},
               _state(cron, args=[1])]
    for state in usual:
        assert apscheduler_pickle._usual_own_items(state) is not None
    for state in unusual:
        assert apscheduler_pickle._usual_own_items(state) is None
    shortcut = [dumps_job_state(state) for state in usual + unusual]
    monkeypatch.setattr(apscheduler_pickle, "_usual_own_items", lambda state: None)
    walked = [dumps_job_state(state) for state in usual + unusual]
    assert shortcut == walked
    for state, blob in zip(usual + unusual, shortcut, strict=True):
        plain = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
        assert _restored(blob, pickle.loads) == _restored(plain, pickle.loads)


def test_cron_triggers_on_shared_fields_are_the_constructors_to_the_byte() -> None:
    # Every field form (names, ranges, steps, lists, seconds), five zones, starts near
    # DST changes: same pickle, same text, same first fire (and its pickle) as
    # CronTrigger(...) itself.
    rng = random.Random(11)
    for index in range(800):
        zone = ZoneInfo(rng.choice(ZONES))
        fields = to_apscheduler(random_trigger(rng, seconds=index % 2 == 0))
        fast, made = cron_trigger(fields, zone), CronTrigger(timezone=zone, **fields)
        assert pickle.dumps(fast, 5) == pickle.dumps(made, 5), fields
        assert repr(fast) == repr(made)
        start = random_start(rng, zone.key)
        fire = fast.get_next_fire_time(None, start)
        assert pickle.dumps(fire, 5) == pickle.dumps(made.get_next_fire_time(None, start), 5)
        if fire is not None:
            later = fast.get_next_fire_time(fire, fire)
            assert later == made.get_next_fire_time(fire, fire)


def test_cron_triggers_not_given_every_field_as_text_are_constructed() -> None:
    zone = ZoneInfo("Europe/Berlin")
    for fields in ({"minute": "5", "hour": "3"}, {**to_apscheduler({"minute": "5"}), "hour": 3}):
        fast, made = cron_trigger(fields, zone), CronTrigger(timezone=zone, **fields)
        assert pickle.dumps(fast, 5) == pickle.dumps(made, 5)
    with pytest.raises(ValueError, match="higher than the maximum"):
        cron_trigger({**to_apscheduler({"minute": "5"}), "hour": "25"}, zone)


def test_anchored_interval_parts_spliced_from_a_template_are_pickles_bytes() -> None:
    # Same intervals and zones over and over at new moments (fold-1 times of a DST
    # overlap included): the part spliced from the first pickle of each shape is the
    # part pickle.dumps makes, and the job pickle restores as a plain one.
    rng = random.Random(5)
    zones = [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")]
    overlap = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # Berlin repeats 02:00-03:00
    spliced = 0
    for index in range(600):
        zone = rng.choice(zones)
        seconds = rng.choice((1, 60, 90, 3600, 86400, 604800, 7 * 3600 + 3))
        base = overlap if index % 3 == 0 else datetime(2026, 1, 1, tzinfo=UTC)
        now = base + timedelta(seconds=rng.randint(0, 5400), microseconds=rng.randint(0, 999))
        trigger = build_trigger(
            {"trigger_type": "interval", "trigger": {"every": seconds, "period": "seconds"},
             "timezone": None if zone is UTC else str(zone)}, now)
        fire = trigger.get_next_fire_time(None, now)
        part = apscheduler_pickle._shared_part(trigger, fire)
        assert part is not None
        assert part.items == apscheduler_pickle._pickled_items(trigger, fire)
        spliced += apscheduler_pickle._anchored_shape(trigger, fire) is not None
        state = _state(trigger, next_run_time=fire)
        blob = dumps_job_state(state)
        assert _restored(blob, pickle.loads) == _restored(
            pickle.dumps(state, pickle.HIGHEST_PROTOCOL), pickle.loads)
    assert spliced == 600
    # A next run time that is the start date itself (a memo reference) is pickled whole.
    trigger = IntervalTrigger(seconds=5, start_date=datetime(2027, 1, 1, tzinfo=UTC),
                              timezone=UTC)
    assert apscheduler_pickle._anchored_shape(trigger, trigger.start_date) is None
    part = apscheduler_pickle._shared_part(trigger, trigger.start_date)
    assert part is not None
    assert part.items == apscheduler_pickle._pickled_items(trigger, trigger.start_date)

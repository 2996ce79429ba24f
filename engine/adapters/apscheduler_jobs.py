"""Canonical specs <-> APScheduler 3.x job state dicts, without the user's code.

The state dict is exactly what ``apscheduler.job.Job.__getstate__`` produces (version 1),
so the user's running scheduler restores and runs the jobs we write. Functions are kept
as their textual ``module:qualname`` reference and never imported.
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from schedsync.engine.adapters.apscheduler_pickle import (
    is_opaque,
    opaque_name,
    register_cron_field,
)
from schedsync.engine.adapters.recent import Recent
from schedsync.engine.cron import (
    UnrepresentableCron,
    from_apscheduler,
    to_apscheduler,
)
from schedsync.engine.errors import FatalError, UnsupportedOperation
from schedsync.engine.spec import Spec, canonical_instant, make_spec

JobState = dict[str, Any]
# APScheduler ships no type hints: a CronTrigger, IntervalTrigger or DateTrigger.
Trigger: TypeAlias = Any

STATE_KEYS: tuple[str, ...] = (
    "version", "id", "func", "trigger", "executor", "args", "kwargs", "name",
    "misfire_grace_time", "coalesce", "max_instances", "next_run_time",
)
# Largest unit first: an interval reads back in the largest unit that divides it.
_PERIODS: tuple[tuple[str, int], ...] = (
    ("weeks", 604800), ("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1),
)
_PERIOD_SECONDS = dict(_PERIODS)
# APScheduler's ``add_job`` default is 1 s, but a job written from outside is first
# seen at the scheduler's next wake-up (the integration's heartbeat, 2 s by default):
# a first run due before that would be reported MISSED (SCHEDULERS.md).
DEFAULT_MISFIRE_GRACE = 30
MANUAL_MISFIRE_GRACE = 3600


class Unrepresentable(Exception):
    """A live job that no spec can describe; it is reported and never touched."""


# --- spec -> APScheduler -------------------------------------------------------------

def func_ref(task: str) -> str:
    """``pkg.mod:func`` stays; ``pkg.mod.func`` -> ``pkg.mod:func``."""
    if ":" in task:
        return task
    module, _, name = task.rpartition(".")
    if not module:
        raise UnsupportedOperation(
            f"task {task!r} is not an APScheduler function reference: write it as "
            "'package.module:function' (or 'package.module.function')"
        )
    return f"{module}:{name}"


def tzinfo_for(name: str | None) -> _dt.tzinfo:
    """The zone object APScheduler itself would build (``astimezone``): "UTC" is
    ``datetime.timezone.utc``; no zone means UTC (the loader resolves defaults)."""
    if name is None or name == "UTC":
        return UTC
    return zoneinfo.ZoneInfo(name)


@functools.lru_cache(maxsize=4096)
def _cached_trigger(trigger_type: str, items: tuple[tuple[str, Any], ...],
                    timezone: str | None) -> Trigger:
    trigger = dict(items)
    zone = tzinfo_for(timezone)
    if trigger_type == "cron":
        return cron_trigger(to_apscheduler(trigger), zone)
    if trigger_type == "clocked":
        moment = datetime.fromisoformat(str(trigger["run_at"]).replace("Z", "+00:00"))
        return DateTrigger(run_date=moment.astimezone(zone))
    raise AssertionError(trigger_type)  # pragma: no cover - callers check the type


_CRON_FIELD_NAMES: tuple[str, ...] = CronTrigger.FIELD_NAMES


@functools.lru_cache(maxsize=4096)
def _cron_field(name: str, exprs: str) -> Any:
    # Never changed once made: its pickled ints can be kept (``register_cron_field``).
    return register_cron_field(CronTrigger.FIELDS_MAP[name](name, exprs, False))


def cron_trigger(fields: Mapping[str, Any], zone: _dt.tzinfo) -> Trigger:
    """``CronTrigger(timezone=zone, **fields)``. When ``fields`` gives every one of its
    eight fields as text (``to_apscheduler`` does), the trigger is restored from the
    state its constructor would make (APScheduler's own ``__setstate__``, as unpickling
    does) around field objects shared by all triggers: parsing the eight fields is
    ~35 of the constructor's ~40 us, and 10k schedules hold ~1.4k distinct crons whose
    fields repeat. The fields are never changed once made; a test proves the pickles
    and fire times equal the constructor's."""
    if len(fields) != len(_CRON_FIELD_NAMES) or not all(
            type(fields.get(name)) is str for name in _CRON_FIELD_NAMES):
        return CronTrigger(timezone=zone, **fields)
    trigger = CronTrigger.__new__(CronTrigger)
    trigger.__setstate__({
        "version": 2, "timezone": zone, "start_date": None, "end_date": None,
        "fields": [_cron_field(name, fields[name]) for name in _CRON_FIELD_NAMES],
        "jitter": None,
    })
    return trigger


def build_trigger(spec: Spec, now: datetime | None = None) -> Trigger:
    """The APScheduler trigger of ``spec``. Cron and date triggers hold no clock
    reading and are shared; interval triggers anchor one interval after ``now`` (the
    moment of the write), and are shared by the jobs written at that moment."""
    kind = spec["trigger_type"]
    trigger = spec["trigger"]
    if kind == "interval":
        seconds = int(trigger["every"]) * _PERIOD_SECONDS[trigger.get("period", "seconds")]
        return _interval_trigger(seconds, spec.get("timezone"), now or datetime.now(UTC))
    if kind in ("cron", "clocked"):
        return _cached_trigger(kind, tuple(sorted(trigger.items())), spec.get("timezone"))
    raise UnsupportedOperation(
        f"schedule {spec.get('name')!r}: APScheduler has no {kind!r} trigger; use cron, "
        "interval or clocked, or move the schedule to a celery-beat scheduler"
    )


@functools.lru_cache(maxsize=1024)
def _interval_trigger(seconds: int, timezone: str | None, now: datetime) -> Trigger:
    zone = tzinfo_for(timezone)
    # What ``IntervalTrigger`` does without a start date, at the write's own ``now``.
    start = now.astimezone(zone) + timedelta(seconds=seconds)
    return IntervalTrigger(seconds=seconds, timezone=zone, start_date=start)


# Shared trigger -> (the trigger, when its next fire time was computed, that time, and
# both as timestamps: comparing aware datetimes of two zones costs ~1 us).
_NEXT_FIRES: Recent[int, tuple[Trigger, float, datetime | None, float]] = Recent(8192)


# The last ``now`` asked about and its timestamp: the jobs of a batch share one ``now``.
_LAST_NOW: tuple[datetime | None, float] = (None, 0.0)


def _timestamp(now: datetime) -> float:
    global _LAST_NOW
    last, stamp = _LAST_NOW
    if last is not now:
        stamp = now.timestamp()
        _LAST_NOW = (now, stamp)
    return stamp


def first_run(trigger: Trigger, now: datetime) -> datetime | None:
    """``trigger``'s first fire time from ``now``. Many jobs share a trigger, and the
    time found at an earlier ``then`` still holds at ``now`` while ``now`` has not
    passed it (no fire lies between ``then`` and it)."""
    moment = _timestamp(now)
    known = _NEXT_FIRES.get(id(trigger))
    if known is not None and known[0] is trigger and known[1] <= moment <= known[3]:
        return known[2]
    next_time: datetime | None = trigger.get_next_fire_time(None, now)
    until = math.inf if next_time is None else next_time.timestamp()
    _NEXT_FIRES.put(id(trigger), (trigger, moment, next_time, until))
    return next_time


def _job_state(key: str, spec: Spec, trigger: Trigger, executor: str, name: str,
               next_run_time: datetime | None, misfire_grace_time: int) -> JobState:
    # Key for key what ``apscheduler.job.Job.__getstate__`` returns, in its order.
    return {
        "version": 1,
        "id": key,
        "func": func_ref(spec["task"]),
        "trigger": trigger,
        "executor": executor,
        "args": tuple(spec.get("args") or ()),
        "kwargs": dict(spec.get("kwargs") or {}),
        "name": name,
        "misfire_grace_time": misfire_grace_time,
        "coalesce": True,
        "max_instances": 1,
        "next_run_time": next_run_time,
    }


def new_state(key: str, spec: Spec, executor: str, now: datetime) -> JobState:
    """The state of a job schedsync creates; its ``name`` is the schedule name, which is
    what APScheduler's log lines show."""
    trigger = build_trigger(spec, now)
    next_run = first_run(trigger, now) if spec.get("enabled", True) else None
    return _job_state(key, spec, trigger, executor, key, next_run, DEFAULT_MISFIRE_GRACE)


def _same_trigger(old: Spec, new: Spec) -> bool:
    return all(old.get(f) == new.get(f) for f in ("trigger_type", "trigger", "timezone"))


def updated_state(old_state: JobState, old_spec: Spec, spec: Spec, now: datetime) -> JobState:
    """``old_state`` changed to ``spec``; what the spec does not describe (executor,
    misfire grace, coalesce, max instances, name) stays, and so does the next run when
    the trigger is unchanged."""
    state = dict(old_state)
    state["func"] = func_ref(spec["task"])
    state["args"] = tuple(spec.get("args") or ())
    state["kwargs"] = dict(spec.get("kwargs") or {})
    if not _same_trigger(old_spec, stored_spec(spec)):
        state["trigger"] = build_trigger(spec, now)
        state["next_run_time"] = None
    enabled = bool(spec.get("enabled", True))
    return with_enabled(state, enabled, now)


def with_enabled(state: JobState, enabled: bool, now: datetime) -> JobState:
    """Pause = next run NULL (as ``Job.pause``); resume recomputes it from now (as
    ``Job.resume``); an already running job keeps its next run."""
    state = dict(state)
    if not enabled:
        state["next_run_time"] = None
    elif state.get("next_run_time") is None:
        state["next_run_time"] = first_run(state["trigger"], now)
    return state


def manual_state(run_id: str, spec: Spec, executor: str, now: datetime) -> JobState:
    """A one-off job the live scheduler runs at once (``trigger``); a generous grace time
    because a run requested from outside is never "due" to the second (SCHEDULERS.md)."""
    name = spec.get("name") or run_id
    return _job_state(run_id, spec, DateTrigger(run_date=now), executor, name, now,
                      MANUAL_MISFIRE_GRACE)


# --- APScheduler -> spec -------------------------------------------------------------

def zone_name(zone: Any) -> str:
    if zone is UTC or (isinstance(zone, _dt.timezone) and zone.utcoffset(None) == timedelta(0)):
        return "UTC"
    if isinstance(zone, zoneinfo.ZoneInfo):
        return str(zone.key)
    pytz_zone = getattr(zone, "zone", None)  # pytz, when it is installed
    if isinstance(pytz_zone, str):
        return pytz_zone
    if is_opaque(zone):
        raise Unrepresentable(f"its time zone is a {opaque_name(zone)} object")
    raise Unrepresentable(f"its time zone {zone!r} is not an IANA zone")


def _cron_part(trigger: CronTrigger) -> tuple[dict[str, str], str]:
    # Many jobs share a cron: translate each distinct one once (a copy per caller).
    key: tuple[Any, ...] | None = None
    found = None
    try:
        key = _cron_key(trigger.fields)
        found = _CRONS.get(key)
    except (AttributeError, TypeError):  # not APScheduler's own field objects
        key = None
    if found is None:
        found = _cron_fields(tuple((field.name, str(field)) for field in trigger.fields))
        if key is not None:
            if len(_CRONS) >= 8192:
                _CRONS.clear()
            _CRONS[key] = found
    return dict(found), zone_name(trigger.timezone)


# Cron fields, by what their string forms derive from -> the spec's cron fields.
_CRONS: dict[tuple[Any, ...], dict[str, str]] = {}


def _cron_key(fields: list[Any]) -> tuple[Any, ...]:
    """The classes and attributes of the fields' expressions, which their strings are
    made of: half the cost of those strings, and as unambiguous (counts included)."""
    key: list[Any] = []
    add, add_all = key.append, key.extend
    for field in fields:
        expressions = field.expressions
        add(field.name)
        add(len(expressions))
        for expression in expressions:
            attributes = expression.__dict__
            add(expression.__class__)
            add(len(attributes))
            add_all(attributes)
            add_all(attributes.values())
    return tuple(key)


@functools.lru_cache(maxsize=8192)
def _cron_fields(fields: tuple[tuple[str, str], ...]) -> dict[str, str]:
    try:
        return from_apscheduler(dict(fields))
    except UnrepresentableCron as exc:
        raise Unrepresentable(str(exc)) from None


def _interval_part(trigger: IntervalTrigger) -> tuple[dict[str, Any], str]:
    seconds = trigger.interval.total_seconds()
    if seconds != int(seconds) or seconds <= 0:
        raise Unrepresentable(f"its interval {trigger.interval} is not whole seconds")
    for period, size in _PERIODS:
        if int(seconds) % size == 0:
            return {"every": int(seconds) // size, "period": period}, zone_name(trigger.timezone)
    raise AssertionError(seconds)  # pragma: no cover - seconds divides everything


def _date_part(trigger: DateTrigger) -> tuple[dict[str, Any], str]:
    run_date = trigger.run_date
    return {"run_at": canonical_instant(run_date)}, zone_name(run_date.tzinfo)


def trigger_part(trigger: Any) -> tuple[str, dict[str, Any], str]:
    """(trigger_type, spec trigger, timezone) of a live trigger."""
    if getattr(trigger, "jitter", None):
        raise Unrepresentable("its trigger has jitter, which schedules cannot express")
    if isinstance(trigger, CronTrigger):
        if trigger.start_date is not None or trigger.end_date is not None:
            raise Unrepresentable("its cron trigger has a start or end date")
        return ("cron", *_cron_part(trigger))
    if isinstance(trigger, IntervalTrigger):
        if trigger.end_date is not None:
            raise Unrepresentable("its interval trigger has an end date")
        return ("interval", *_interval_part(trigger))
    if isinstance(trigger, DateTrigger):
        return ("clocked", *_date_part(trigger))
    name = opaque_name(trigger) if is_opaque(trigger) else type(trigger).__qualname__
    raise Unrepresentable(f"its trigger class {name} is not supported (cron, interval, date)")


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _json_value(value: Any, where: str) -> Any:
    """Job args back as JSON data; tuples become lists (YAML has no tuples)."""
    if type(value) in _PLAIN:
        return value
    if type(value) in (list, tuple) and all(type(item) in _PLAIN for item in value):
        return list(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item, where) for item in value]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _json_value(v, where) for k, v in value.items()}
    kind = opaque_name(value) if is_opaque(value) else type(value).__qualname__
    raise Unrepresentable(f"its {where} hold a {kind} value, which YAML cannot express")


def _task(ref: Any) -> str:
    if not isinstance(ref, str) or ":" not in ref:
        raise Unrepresentable(f"its function reference {ref!r} is not 'module:name'")
    return ref


@dataclass(frozen=True, slots=True)
class ReadJob:
    key: str
    state: JobState
    spec: Spec


def state_to_spec(key: str, state: Mapping[str, Any]) -> Spec:
    """The canonical spec of a restored-without-code job state."""
    if not isinstance(state, Mapping) or state.get("version", 1) != 1:
        raise Unrepresentable("its state is not an APScheduler 3.x version 1 job")
    missing = [k for k in STATE_KEYS if k != "version" and k not in state]
    if missing:
        raise Unrepresentable(f"its state lacks {', '.join(missing)}")
    trigger_type, trigger, timezone = trigger_part(state["trigger"])
    return make_spec(
        name=key,
        trigger_type=trigger_type,
        trigger=trigger,
        task=_task(state["func"]),
        args=_json_value(list(state["args"]), "args"),
        kwargs=_json_value(dict(state["kwargs"]), "kwargs"),
        enabled=state["next_run_time"] is not None,
        timezone=timezone,
    )


def canonical_task(task: str) -> str:
    """The form in which a task reads back from the store (``module:qualname``)."""
    return func_ref(task)


def run_time_timestamp(moment: datetime | None) -> float | None:
    """``apscheduler.util.datetime_to_utc_timestamp``."""
    return None if moment is None else moment.timestamp()


def from_timestamp(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def stored_spec(spec: Spec) -> Spec:
    """``spec`` as it reads back once written: task as ``module:qualname``, interval in
    its largest whole unit, no zone as UTC. Fields a job cannot hold are kept as given;
    a spec that cannot be written is returned unchanged (apply reports why)."""
    try:
        trigger_type, trigger, timezone = _stored_trigger(
            spec["trigger_type"], tuple(sorted(spec["trigger"].items())), spec.get("timezone"))
        task = func_ref(spec["task"])
    except (FatalError, Unrepresentable, ValueError, LookupError, TypeError, AttributeError):
        return spec
    expires = spec.get("expires")
    # ``make_spec`` field for field; the trigger was made canonical by it, once.
    return {
        **spec,
        "trigger_type": trigger_type,
        "trigger": dict(trigger),
        "task": task,
        "args": list(spec.get("args") or ()),
        "kwargs": dict(spec.get("kwargs") or {}),
        "enabled": bool(spec.get("enabled", True)),
        "timezone": timezone,
        "queue": spec.get("queue"),
        "priority": spec.get("priority"),
        "expires": float(expires) if expires is not None else None,
        "description": spec.get("description"),
    }


# Interval triggers anchor at a moment; how they read back does not depend on it.
_ANY_MOMENT = datetime(2000, 1, 1, tzinfo=UTC)


@functools.lru_cache(maxsize=8192)
def _stored_trigger(
    trigger_type: str, items: tuple[tuple[str, Any], ...], timezone: str | None
) -> tuple[str, dict[str, Any], str]:
    """(trigger_type, canonical trigger, timezone) as a trigger reads back; many
    schedules share one, so each is built and read back once (callers copy the dict)."""
    spec = {"trigger_type": trigger_type, "trigger": dict(items), "timezone": timezone}
    kind, trigger, zone = trigger_part(build_trigger(spec, _ANY_MOMENT))
    canonical = make_spec(name="", trigger_type=kind, trigger=trigger, task="")["trigger"]
    return kind, canonical, zone

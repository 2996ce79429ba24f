"""A Celery app's static ``beat_schedule``, read-only (for ``import`` and ``diff``).

The schedule lives in the user's code, so schedsync can read it (by importing the app,
``app: module:attr``, with the repository root on ``sys.path``) but never change it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn

from schedsync.engine.adapters import celery_common as cc
from schedsync.engine.adapters.base import Expectation, LiveEntry, Operation, OpResult
from schedsync.engine.capabilities import capabilities_for
from schedsync.engine.errors import ConfigError, UnsupportedOperation
from schedsync.engine.spec import Spec, make_spec
from schedsync.schemas.config import CeleryBeatScheduler

READ_ONLY = (
    "beat-schedule is read-only: schedsync cannot change a beat_schedule written in "
    "code ({what} {key!r}). To let schedsync manage these schedules, switch the "
    "scheduler's store to redbeat or django-celery-beat, or edit beat_schedule in code."
)


class BeatScheduleAdapter(cc.CeleryStoreAdapter):
    def __init__(
        self, config: CeleryBeatScheduler, repo_root: Path, *, project: str | None = None
    ) -> None:
        if not config.app:
            raise ConfigError(
                "the celery-beat scheduler with store beat-schedule has no 'app': set it "
                "to the module:attribute of your Celery app, e.g. app: acme.celery:app."
            )
        super().__init__(config, repo_root, project)
        self.app = self._app = cc.load_app(config.app, repo_root)
        zone = config.timezone or self.app.conf.timezone or "UTC"
        self.capabilities = replace(capabilities_for(config), fixed_timezone=str(zone))

    def list_entries(
        self, expect: Expectation | None = None, *, digests: bool = False
    ) -> list[LiveEntry]:
        schedule = self.app.conf.beat_schedule or {}
        return [_entry(str(key), value) for key, value in schedule.items()]

    # -- refused writes --------------------------------------------------------------

    def create(self, key: str, spec: Spec) -> NoReturn:
        raise UnsupportedOperation(READ_ONLY.format(what="create", key=key))

    def update(self, key: str, spec: Spec) -> NoReturn:
        raise UnsupportedOperation(READ_ONLY.format(what="update", key=key))

    def delete(self, key: str) -> NoReturn:
        raise UnsupportedOperation(READ_ONLY.format(what="delete", key=key))

    def set_enabled(self, key: str, enabled: bool) -> NoReturn:
        what = "enable" if enabled else "disable"
        raise UnsupportedOperation(READ_ONLY.format(what=what, key=key))

    def apply(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        if ops:
            first = ops[0]
            raise UnsupportedOperation(READ_ONLY.format(what=first.kind.value, key=first.key))
        return iter(())


def _entry(key: str, value: Any) -> LiveEntry:
    try:
        spec = entry_spec(key, value)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        return LiveEntry(key, {"name": key}, problem=f"beat_schedule[{key!r}]: {exc}")
    return LiveEntry(key, spec)


def entry_spec(key: str, value: Any) -> Spec:
    """One ``beat_schedule`` value -> a spec."""
    if not isinstance(value, dict):
        raise TypeError(f"expected a dict with 'task' and 'schedule', found {type(value)}")
    options = dict(value.get("options") or {})
    name, _project = cc.managed_name(options.get("headers"))
    trigger_type, trigger = schedule_trigger(value["schedule"])
    return make_spec(
        name=name or key,
        trigger_type=trigger_type,
        trigger=trigger,
        task=value["task"],
        args=value.get("args") or (),
        kwargs=value.get("kwargs") or {},
        **cc.spec_options(options),
    )


def schedule_trigger(schedule: Any) -> tuple[str, dict[str, Any]]:
    """A beat ``schedule`` value (seconds, timedelta, schedule, crontab, solar) -> trigger."""
    from celery.schedules import crontab, solar
    from celery.schedules import schedule as interval_schedule

    if isinstance(schedule, crontab):
        fields = {f: getattr(schedule, f"_orig_{f}") for f in cc.CRON_FIELDS}
        return "cron", cc.cron_from_celery(fields)
    if isinstance(schedule, solar):
        return "solar", {"event": schedule.event, "latitude": float(schedule.lat),
                         "longitude": float(schedule.lon)}
    every: Any = schedule
    if isinstance(schedule, interval_schedule):
        every = getattr(schedule, "run_every", None)
    if isinstance(every, timedelta):
        every = every.total_seconds()
    if isinstance(every, int | float) and not isinstance(every, bool):
        return "interval", cc.interval_trigger(every)
    raise TypeError(f"schedule {schedule!r} is not seconds, timedelta, schedule, crontab or solar")

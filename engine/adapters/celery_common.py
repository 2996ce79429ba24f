"""What the three Celery beat stores share: schedule mapping, options, app loading,
trigger, and their adapter base (batched writes, crons as Celery reads them back).

Celery beat entries carry ``options`` (queue, priority, expires, headers) next to the
schedule. schedsync puts ``headers.schedsync_name`` / ``headers.schedsync_project`` on
every entry it writes: that is how the fire-recording integration
(``schedsync.integrations.celery``) knows which schedule a task message belongs to, and
it doubles as the store-side mark of entries schedsync manages.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedsync.engine.adapters.base import AdapterBase, Operation, OpResult
from schedsync.engine.errors import ConfigError, SchedulerUnavailable
from schedsync.engine.spec import Spec, make_spec

if TYPE_CHECKING:
    from celery import Celery

    from schedsync.schemas.config import CeleryBeatScheduler

NAME_HEADER = "schedsync_name"
PROJECT_HEADER = "schedsync_project"
DJANGO_NAME_HEADER = "periodic_task_name"
CRON_FIELDS: tuple[str, ...] = (
    "minute",
    "hour",
    "day_of_week",
    "day_of_month",
    "month_of_year",
)
PERIOD_SECONDS: dict[str, int] = {
    "weeks": 604800,
    "days": 86400,
    "hours": 3600,
    "minutes": 60,
    "seconds": 1,
}


# -- schedules -----------------------------------------------------------------------


def cron_to_celery(trigger: dict[str, Any]) -> dict[str, str]:
    """A spec's cron trigger -> Celery ``crontab`` keyword arguments."""
    key = tuple(str(trigger.get(f, "*")) for f in CRON_FIELDS)
    return dict(zip(CRON_FIELDS, _to_celery(key), strict=True))


def cron_from_celery(fields: dict[str, Any]) -> dict[str, Any]:
    """Celery crontab fields (as written: text, ints or sets) -> a spec's cron trigger."""
    return dict(_from_celery(tuple(_field_text(fields.get(f)) for f in CRON_FIELDS)))


# Stores hold thousands of entries but few distinct crons: translate each once.
@lru_cache(maxsize=4096)
def _to_celery(fields: tuple[str, ...]) -> tuple[str, ...]:
    from schedsync.engine.cron.translate import to_celery

    out = to_celery(dict(zip(CRON_FIELDS, fields, strict=True)))
    return tuple(str(out[f]) for f in CRON_FIELDS)


@lru_cache(maxsize=4096)
def _from_celery(fields: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    from schedsync.engine.cron.translate import from_celery

    return tuple(from_celery(dict(zip(CRON_FIELDS, fields, strict=True))).items())


def _field_text(value: Any) -> str:
    if value is None:
        return "*"
    if isinstance(value, str | int):
        return str(value)
    return ",".join(str(item) for item in sorted(value))


def interval_seconds(trigger: dict[str, Any]) -> int:
    return int(trigger["every"]) * PERIOD_SECONDS[str(trigger.get("period", "seconds"))]


def interval_trigger(seconds: float, hint: str | None = None) -> dict[str, Any]:
    """Seconds -> ``{every, period}``; ``hint`` is the period the entry was written with.

    Stores that keep only seconds (RedBeat, static schedules) lose the period; the hint
    restores it so that ``every: 60, period: seconds`` reads back as written. Without a
    usable hint the largest whole period is used (what a person would write).
    """
    whole = int(seconds)
    if whole != seconds or whole <= 0:
        raise ValueError(f"an interval of {seconds} seconds is not a whole number of seconds")
    if hint in PERIOD_SECONDS and whole % PERIOD_SECONDS[hint] == 0:
        return {"every": whole // PERIOD_SECONDS[hint], "period": hint}
    for period, size in PERIOD_SECONDS.items():
        if whole % size == 0:
            return {"every": whole // size, "period": period}
    raise AssertionError("unreachable: every whole number is a multiple of one second")


def spec_template(trigger_type: str, trigger: dict[str, Any]) -> Spec:
    """A spec holding ``trigger`` canonically (the costly part of ``make_spec``),
    computed once per distinct trigger; ``live_spec`` fills in the rest."""
    return _spec_template(trigger_type, tuple(sorted(trigger.items())))


def live_spec(
    template: Spec,
    *,
    name: str,
    task: str,
    args: Any,
    kwargs: Any,
    enabled: Any,
    timezone: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    expires: float | None = None,
    description: str | None = None,
) -> Spec:
    """``make_spec`` for thousands of live entries sharing few triggers: every field
    but the trigger is normalised exactly as ``make_spec`` does, without copying what
    a JSON decoder just made (a fresh list or dict)."""
    return {
        "name": name,
        "trigger_type": template["trigger_type"],
        "trigger": dict(template["trigger"]),
        "task": task,
        "args": args if type(args) is list else list(args),
        "kwargs": kwargs if type(kwargs) is dict else dict(kwargs or {}),
        "enabled": bool(enabled),
        "timezone": timezone,
        "queue": queue,
        "priority": priority,
        "expires": float(expires) if expires is not None else None,
        "description": description,
    }


def normalize_cron(spec: Spec) -> Spec:
    """``spec`` with its cron trigger as it reads back from a Celery store (written as
    Celery crontab text, read back through Celery's parser); ``spec`` itself when that
    changes nothing (the usual case: no copy per schedule)."""
    if spec.get("trigger_type") != "cron":
        return spec
    trigger = spec["trigger"]
    key = tuple(map(trigger.get, _NORMAL_KEY))
    read_back = _normalized.get(key, _UNSEEN)  # one look-up: it runs once per schedule
    if read_back is _UNSEEN:
        found = _celery_cron(trigger)
        read_back = _normalized[key] = None if found == trigger else found
    return spec if read_back is None else {**spec, "trigger": dict(read_back)}


_NORMAL_KEY = (*CRON_FIELDS, "second")
# Few distinct crons per store: a plain dict is the cheapest memo (bounded by the number
# of distinct triggers a repository holds). None: the trigger reads back unchanged (or
# does not parse, which validation reports).
_normalized: dict[tuple[Any, ...], dict[str, Any] | None] = {}
_UNSEEN: Any = object()


def _celery_cron(trigger: dict[str, Any]) -> dict[str, Any] | None:
    try:
        read_back = cron_from_celery(cron_to_celery(trigger))
    except ValueError:
        return None  # validation reports a cron that does not parse
    return dict(spec_template("cron", read_back)["trigger"])


@lru_cache(maxsize=4096)
def _spec_template(trigger_type: str, trigger: tuple[tuple[str, Any], ...]) -> Spec:
    return make_spec(name="", trigger_type=trigger_type, trigger=dict(trigger), task="")


# -- options -------------------------------------------------------------------------


def entry_headers(name: str, project: str | None) -> dict[str, str]:
    headers = {NAME_HEADER: name}
    if project:
        headers[PROJECT_HEADER] = project
    return headers


def options_from_spec(spec: Spec, project: str | None) -> dict[str, Any]:
    """A spec -> Celery entry ``options`` (what ``apply_async`` receives)."""
    options: dict[str, Any] = {}
    for field in ("queue", "priority", "expires"):
        if spec.get(field) is not None:
            options[field] = spec[field]
    options["headers"] = entry_headers(str(spec["name"]), project)
    return options


def spec_options(options: dict[str, Any]) -> dict[str, Any]:
    """Celery entry ``options`` -> the spec fields they hold."""
    expires = options.get("expires")
    if expires is not None and not isinstance(expires, int | float):
        raise ValueError(f"expires is {expires!r}, not a number of seconds")
    return {
        "queue": options.get("queue") or None,
        "priority": options.get("priority"),
        "expires": float(expires) if expires is not None else None,
    }


def managed_name(headers: Any) -> tuple[str | None, str | None]:
    """(schedule name, project) from an entry's headers; (None, None) when unmarked."""
    if not isinstance(headers, dict) or not isinstance(headers.get(NAME_HEADER), str):
        return None, None
    project = headers.get(PROJECT_HEADER)
    return headers[NAME_HEADER], project if isinstance(project, str) else None


# -- next run --------------------------------------------------------------------------


def next_due(
    trigger_type: str,
    trigger: dict[str, Any],
    timezone: str,
    last_run_at: datetime | None,
    now: datetime,
) -> datetime | None:
    """When beat will next consider the entry due (RedBeat's ``due_at``): the first fire
    after the last run, or now when that is overdue; None when it never fires again.

    Cron fire times come from ``schedsync.engine.cron`` in Celery's convention (proven
    against Celery's own ``crontab``, DST included), which is much faster than building
    a ``crontab`` per entry.
    """
    start = last_run_at or now
    if trigger_type == "interval":
        due: datetime | None = start + timedelta(seconds=interval_seconds(trigger))
    elif trigger_type == "cron":
        from schedsync.engine.cron.fire import cron_fire_times

        fires = cron_fire_times(trigger, timezone, "celery", start, 1)
        due = fires[0] if fires else None
    else:
        raise ValueError(f"Celery beat has no due time for a {trigger_type} trigger here")
    return None if due is None else max(due, now)


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- the adapter base of the three stores ------------------------------------------

BATCH = 1000


def batches(ops: Sequence[Operation], size: int = BATCH) -> Iterator[Sequence[Operation]]:
    """``ops`` in slices of ``size``: one store round trip (pipeline, transaction) each."""
    for start in range(0, len(ops), size):
        yield ops[start : start + size]


class CeleryStoreAdapter(AdapterBase):
    """What the Celery beat stores do alike: the project named in the headers of the
    entries they write, the managed marks seen by the last listing, batched writes,
    crons read back through Celery's parser, and "trigger now" through the configured
    app (or a bare one on the broker)."""

    def __init__(self, config: CeleryBeatScheduler, repo_root: Path, project: str | None
                 ) -> None:
        self.config = config
        self.repo_root = repo_root
        self.project = project
        self._managed: dict[str, str | None] = {}
        self._app: Celery | None = None

    def managed_keys(self) -> dict[str, str | None]:
        """Keys of entries carrying schedsync's header mark (from the last listing),
        mapped to the project named in the mark."""
        return dict(self._managed)

    def apply(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        self._apply_started()
        for batch in batches(ops):
            yield from self._apply_batch(batch)

    def _apply_started(self) -> None:
        """Called once per ``apply`` before the first batch."""

    def _apply_batch(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        """Write ``ops`` in one round trip; yields each result once durable."""
        raise NotImplementedError

    def normalize(self, spec: Spec) -> Spec:
        """``spec`` as it reads back: cron fields as Celery's parser reads them."""
        return normalize_cron(spec)

    def trigger(self, key: str, spec: Spec) -> str:
        if self._app is None:
            self._app = sending_app(self.config, self.repo_root)
        return send_now(self._app, spec, self.project)


# -- the Celery app ------------------------------------------------------------------


def load_app(reference: str, repo_root: Path) -> Celery:
    """``module:attr`` -> the user's Celery app, importable from the repository root."""
    module_name, _, attr = reference.partition(":")
    if not module_name or not attr:
        raise ConfigError(
            f"app {reference!r} in schedsync.yaml is not 'module:attribute' "
            "(e.g. 'acme.celery:app'): fix the scheduler's app setting."
        )
    root = str(repo_root)
    if root not in sys.path:
        sys.path.insert(0, root)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to fix
        raise ConfigError(
            f"cannot import the Celery app module {module_name!r} (app: {reference}): "
            f"{type(exc).__name__}: {exc}. Make it importable from {root} or fix 'app'."
        ) from None
    app: Celery | None = getattr(module, attr, None)
    if app is None or not hasattr(app, "send_task"):
        raise ConfigError(
            f"{module_name} has no Celery app named {attr!r} (app: {reference}): "
            "point 'app' at the module attribute holding your Celery() instance."
        )
    return app


def sending_app(config: CeleryBeatScheduler, repo_root: Path) -> Celery:
    """The app used to send tasks: the configured one, else a bare one on the broker."""
    if config.app:
        return load_app(config.app, repo_root)
    if not config.broker_url:
        raise ConfigError(
            f"the celery-beat scheduler (store {config.store}) has neither 'app' nor "
            "'broker_url': set one of them in schedsync.yaml so tasks can be sent."
        )
    from celery import Celery

    return Celery("schedsync", broker=config.broker_url, set_as_current=False)


def send_now(app: Celery, spec: Spec, project: str | None) -> str:
    """Send the schedule's task once, now; returns the task id."""
    options = options_from_spec(spec, project)
    headers = options.pop("headers")
    try:
        result = app.send_task(
            str(spec["task"]),
            args=list(spec.get("args") or []),
            kwargs=dict(spec.get("kwargs") or {}),
            headers=headers,
            **options,
        )
    except Exception as exc:  # noqa: BLE001 - broker errors of every kind
        raise SchedulerUnavailable(
            f"could not send task {spec['task']!r} for schedule {spec['name']!r}: "
            f"{type(exc).__name__}: {exc}. Check that the Celery broker is reachable."
        ) from None
    return str(result.id)

"""What each configured scheduler store can hold (SCHEDULERS.md).

Validation rejects what a store cannot honour, the planner compares only the fields a
store keeps, and the Celery adapters take their capabilities from here (one source).
The facts behind each choice:
- APScheduler 3: cron (with a seconds field), interval and date (clocked) triggers, each
  trigger with its own zone; no solar trigger.
- RedBeat: crontab and interval only (no clocked, no solar); its ``definition`` JSON
  holds name, task, args, kwargs, options (queue, priority, expires) and enabled: no
  zone (every entry runs in the Celery app's ``timezone``) and no description.
- django-celery-beat: crontab (with a zone column), interval, clocked and solar; every
  field has a column (``description`` included).
- A static ``beat_schedule`` (read-only, for import): crontab, interval (timedelta) and
  solar, all in the app's zone; an entry is task, schedule, args, kwargs and options:
  no description and no way to be disabled (every entry runs).
"""

from __future__ import annotations

from functools import lru_cache

from schedsync.engine.adapters.base import Capabilities
from schedsync.engine.spec import SPEC_FIELDS
from schedsync.schemas.config import APSchedulerScheduler, CeleryBeatScheduler

_APSCHEDULER = Capabilities(
    trigger_types=frozenset({"cron", "interval", "clocked"}),
    cron_engine="apscheduler",
    seconds_field=True,
)
_DJANGO_CELERY_BEAT = Capabilities(
    trigger_types=frozenset({"cron", "interval", "clocked", "solar"}),
    cron_engine="celery",
)
# Fields a store keeps nowhere: the planner never sees them differ. Validation rejects
# a schedule that needs one (a zone other than the app's, ``enabled: false``); a
# ``description`` stays documentation in the repository (``engine.validate.context``).
REDBEAT_LACKS = frozenset({"timezone", "description"})
BEAT_SCHEDULE_LACKS = frozenset({"timezone", "description", "enabled"})


@lru_cache(maxsize=256)  # configs are frozen (hashable); validation asks once per schedule
def capabilities_for(config: APSchedulerScheduler | CeleryBeatScheduler) -> Capabilities:
    """The capabilities of the store a scheduler entry of ``schedsync.yaml`` names.

    The zone of RedBeat and static schedules is the scheduler's ``timezone`` here (else
    UTC); their adapters replace it with the Celery app's when the app sets one.
    """
    if isinstance(config, APSchedulerScheduler):
        return _APSCHEDULER
    if config.store == "django-celery-beat":
        return _DJANGO_CELERY_BEAT
    zone = config.timezone or "UTC"
    if config.store == "redbeat":
        return Capabilities(
            trigger_types=frozenset({"cron", "interval"}),
            cron_engine="celery",
            per_schedule_timezone=False,
            fixed_timezone=zone,
            fields=frozenset(SPEC_FIELDS) - REDBEAT_LACKS,
        )
    return Capabilities(
        trigger_types=frozenset({"cron", "interval", "solar"}),
        cron_engine="celery",
        per_schedule_timezone=False,
        fixed_timezone=zone,
        writable=False,
        fields=frozenset(SPEC_FIELDS) - BEAT_SCHEDULE_LACKS,
    )


@lru_cache(maxsize=256)
def describe_store(config: APSchedulerScheduler | CeleryBeatScheduler) -> str:
    """``'apscheduler'``, ``'celery-beat (redbeat)'``: how messages name a store."""
    if isinstance(config, APSchedulerScheduler):
        return f"apscheduler ({config.jobstore})"
    return f"celery-beat ({config.store})"

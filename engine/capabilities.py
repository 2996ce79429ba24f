"""What each configured scheduler store can hold (SCHEDULERS.md).

Validation rejects what a store cannot honour; the facts behind each choice:
- APScheduler 3: cron (with a seconds field), interval and date (clocked) triggers, each
  trigger with its own zone; no solar trigger.
- RedBeat: crontab and interval only (no clocked, no solar); its JSON has no zone, so
  every entry runs in the Celery app's ``timezone``.
- django-celery-beat: crontab (with a zone column), interval, clocked and solar.
- A static ``beat_schedule`` (read-only, for import): crontab, interval (timedelta) and
  solar, all in the app's zone.
"""

from __future__ import annotations

from functools import lru_cache

from schedsync.engine.adapters.base import Capabilities
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


@lru_cache(maxsize=256)  # configs are frozen (hashable); validation asks once per schedule
def capabilities_for(config: APSchedulerScheduler | CeleryBeatScheduler) -> Capabilities:
    """The capabilities of the store a scheduler entry of ``schedsync.yaml`` names."""
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
        )
    return Capabilities(
        trigger_types=frozenset({"cron", "interval", "solar"}),
        cron_engine="celery",
        per_schedule_timezone=False,
        fixed_timezone=zone,
        writable=False,
    )


@lru_cache(maxsize=256)
def describe_store(config: APSchedulerScheduler | CeleryBeatScheduler) -> str:
    """``'apscheduler'``, ``'celery-beat (redbeat)'``: how messages name a store."""
    if isinstance(config, APSchedulerScheduler):
        return f"apscheduler ({config.jobstore})"
    return f"celery-beat ({config.store})"

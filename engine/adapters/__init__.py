"""Scheduler store adapters; ``open_adapter`` picks one by configuration.

Adapter modules are imported only when a store of their kind is used, so a user
without Celery installed can still run APScheduler-only repositories.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from schedsync.engine.adapters.base import SchedulerAdapter
from schedsync.engine.errors import ConfigError
from schedsync.schemas.config import APSchedulerScheduler, CeleryBeatScheduler

_ADAPTERS: dict[tuple[str, str], tuple[str, str]] = {
    ("apscheduler", "sqlalchemy"): ("apscheduler", "APSchedulerAdapter"),
    ("apscheduler", "redis"): ("apscheduler", "APSchedulerAdapter"),
    ("celery-beat", "redbeat"): ("redbeat", "RedBeatAdapter"),
    ("celery-beat", "django-celery-beat"): ("django_celery_beat", "DjangoCeleryBeatAdapter"),
    ("celery-beat", "beat-schedule"): ("beat_schedule", "BeatScheduleAdapter"),
}


def open_adapter(
    config: APSchedulerScheduler | CeleryBeatScheduler, repo_root: Path
) -> SchedulerAdapter:
    kind = config.jobstore if isinstance(config, APSchedulerScheduler) else config.store
    module_name, class_name = _ADAPTERS[(config.type, kind)]
    try:
        module = importlib.import_module(f"schedsync.engine.adapters.{module_name}")
    except ImportError as exc:
        raise ConfigError(
            f"the {config.type} store {kind!r} needs a package that is not installed "
            f"({exc.name}): install it with pip install 'schedsync[celery]'"
        ) from None
    adapter: SchedulerAdapter = getattr(module, class_name)(config, repo_root)
    return adapter

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
    config: APSchedulerScheduler | CeleryBeatScheduler,
    repo_root: Path,
    *,
    project: str | None = None,
) -> SchedulerAdapter:
    """The adapter of one configured scheduler of ``project``.

    Celery stores put the project in the headers of every entry they write (that is
    how fires land on the right project), so pass it. Without it the project is looked
    up in ``schedsync.yaml`` (kept for callers that do not pass it yet).
    """
    kind = config.jobstore if isinstance(config, APSchedulerScheduler) else config.store
    module_name, class_name = _ADAPTERS[(config.type, kind)]
    try:
        module = importlib.import_module(f"schedsync.engine.adapters.{module_name}")
    except ImportError as exc:
        raise ConfigError(
            f"the {config.type} store {kind!r} needs a package that is not installed "
            f"({exc.name}): install it with pip install 'schedsync[celery]'"
        ) from None
    cls = getattr(module, class_name)
    if isinstance(config, APSchedulerScheduler):
        adapter: SchedulerAdapter = cls(config, repo_root)
    else:
        adapter = cls(config, repo_root, project=project or project_of(config, repo_root))
    return adapter


def project_of(config: CeleryBeatScheduler, repo_root: Path) -> str | None:
    """The project whose ``schedsync.yaml`` entry is ``config`` (None if not exactly one)."""
    try:
        import yaml

        from schedsync.engine.config import CONFIG_NAME, expand_env
        from schedsync.schemas.config import RepoConfig

        raw = yaml.safe_load((repo_root / CONFIG_NAME).read_text(encoding="utf-8"))
        repo = RepoConfig.model_validate(expand_env(raw))
    except Exception:  # noqa: BLE001 - no readable config: the headers carry no project
        return None
    found = [
        slug
        for slug, project in repo.projects.items()
        if any(other == config for other in project.schedulers.values())
    ]
    return found[0] if len(found) == 1 else None

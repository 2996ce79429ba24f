"""A loaded repository flattened into review entries keyed by (project, name)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from schedsync.engine.review.model import Entry

if TYPE_CHECKING:
    from schedsync.engine.repository import LoadedRepository
    from schedsync.schemas.config import RepoConfig

EntryKey = tuple[str, str]
# Which cron meaning a scheduler type uses (SCHEDULERS.md: the engines differ on DST).
ENGINE_BY_TYPE = {"apscheduler": "apscheduler", "celery-beat": "celery"}
DEFAULT_ENGINE = "celery"


def engine_for(config: RepoConfig | None, project: str, scheduler: str) -> str:
    project_config = config.projects.get(project) if config is not None else None
    if project_config is None or scheduler not in project_config.schedulers:
        return DEFAULT_ENGINE
    return ENGINE_BY_TYPE.get(project_config.schedulers[scheduler].type, DEFAULT_ENGINE)


def entries_of(repo: LoadedRepository, prefix: str = "") -> dict[EntryKey, Entry]:
    """Every valid schedule of ``repo``; ``prefix`` places its files inside the git repo."""
    out: dict[EntryKey, Entry] = {}
    engines: dict[tuple[str, str], str] = {}
    for project, schedules in repo.schedules.items():
        for rs in schedules:
            schedule = rs.schedule
            where = (project, schedule.scheduler)
            if where not in engines:
                engines[where] = engine_for(repo.config, project, schedule.scheduler)
            out[(project, schedule.name)] = Entry(
                project=project,
                name=schedule.name,
                scheduler=schedule.scheduler,
                engine=engines[where],
                spec=rs.spec,
                renamed_from=schedule.renamed_from,
                file=prefix + rs.file,
                line=rs.line,
                index=rs.index,
            )
    return out

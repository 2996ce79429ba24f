"""``schedsync.yaml`` (SPEC section 2) as pydantic models.

``${VAR}`` and ``${VAR:-default}`` are expanded from the environment before these
models see the data (``schedsync.engine.config``), so secrets never live in the file.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from schedsync.schemas.schedule import check_timezone

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
SCHEDULER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
SchedulerName = Annotated[str, StringConstraints(pattern=SCHEDULER_NAME_PATTERN)]

_FORBID = ConfigDict(extra="forbid", frozen=True)


def parse_duration(value: Any) -> int:
    """``30``, ``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` -> seconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError("a number of seconds or a duration such as '30s', '5m', '1h', '1d'")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]


class CeleryBeatScheduler(BaseModel):
    model_config = _FORBID

    type: Literal["celery-beat"]
    store: Literal["redbeat", "django-celery-beat", "beat-schedule"]
    url: str | None = Field(default=None, description="Redis URL (redbeat) or database URL")
    app: str | None = Field(default=None, description="module:attribute of the Celery app")
    key_prefix: str | None = Field(default=None, description="redbeat_key_prefix")
    timezone: str | None = Field(default=None, description="the Celery app's timezone")
    broker_url: str | None = Field(default=None, description="broker used to send tasks")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)


class APSchedulerScheduler(BaseModel):
    model_config = _FORBID

    type: Literal["apscheduler"]
    jobstore: Literal["sqlalchemy", "redis"] = "sqlalchemy"
    url: str
    tablename: str = "apscheduler_jobs"
    jobs_key: str = "apscheduler.jobs"
    run_times_key: str = "apscheduler.run_times"
    executor: str = "default"


SchedulerConfig = Annotated[
    CeleryBeatScheduler | APSchedulerScheduler, Field(discriminator="type")
]


class ReviewConfig(BaseModel):
    """Thresholds for findings in ``schedsync diff``."""

    model_config = _FORBID

    max_same_minute: Annotated[int, Field(ge=1)] = 20


class ProjectConfig(BaseModel):
    model_config = _FORBID

    timezone: str = "UTC"
    min_interval: int | None = Field(
        default=None, description="warn when a schedule fires more often (seconds or '5m')"
    )
    schedulers: dict[SchedulerName, SchedulerConfig] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("min_interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return None if value is None else parse_duration(value)


class RepoConfig(BaseModel):
    model_config = _FORBID

    version: Literal[1]
    state: str = ".schedsync/state.db"
    projects: dict[Slug, ProjectConfig] = Field(default_factory=dict)
    review: ReviewConfig = Field(default_factory=ReviewConfig)

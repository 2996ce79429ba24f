"""The schedule file format (SPEC section 1) as pydantic models.

The models check shape and types; semantic checks that need the project's config or a
cron engine (unknown schedulers, impossible crons, store capabilities, DST) live in
``schedsync.engine.validate``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

MAX_ARGS_BYTES = 65_536
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$"
# Celery task names are dotted; APScheduler references may be ``module:qualname``.
_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*"
TASK_PATTERN = rf"^{_DOTTED}(:{_DOTTED})?$"

TriggerType = Literal["cron", "interval", "clocked", "solar"]
TRIGGER_TYPES: tuple[str, ...] = ("cron", "interval", "clocked", "solar")
Period = Literal["seconds", "minutes", "hours", "days", "weeks"]
PERIOD_SECONDS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400, "weeks": 604800}
SolarEvent = Literal[
    "sunrise",
    "sunset",
    "solar_noon",
    "dawn_astronomical",
    "dawn_nautical",
    "dawn_civil",
    "dusk_astronomical",
    "dusk_nautical",
    "dusk_civil",
]

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NAME_PATTERN)]
TaskName = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=TASK_PATTERN)]


def _int_to_text(value: Any) -> Any:
    # ``minute: 0`` is what people write; Celery accepts ints too.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


CronField = Annotated[
    str,
    BeforeValidator(_int_to_text),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
]

_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)
CRON_FIELDS: tuple[str, ...] = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")


class CronTrigger(BaseModel):
    """Celery's field names; day-of-week 0 and 7 are Sunday, names accepted."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    minute: CronField = "*"
    hour: CronField = "*"
    day_of_week: CronField = "*"
    day_of_month: CronField = "*"
    month_of_year: CronField = "*"
    second: CronField | None = Field(default=None, description="APScheduler only")

    @classmethod
    def from_crontab(cls, text: str) -> CronTrigger:
        """``"0 9 * * 1"`` -> minute hour day_of_month month_of_year day_of_week."""
        parts = text.split()
        if len(parts) != 5:
            raise ValueError(
                f"a cron string has 5 fields (minute hour day-of-month month day-of-week), "
                f"found {len(parts)}"
            )
        return cls(**dict(zip(CRON_FIELDS, parts, strict=True)))


class IntervalTrigger(BaseModel):
    model_config = _STRICT

    every: Annotated[int, Field(gt=0, le=10**9)]
    period: Period = "seconds"

    @property
    def seconds(self) -> int:
        return self.every * PERIOD_SECONDS[self.period]


_FIRST_RUN_AT, _LAST_RUN_AT = 1970, 9998


class ClockedTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    run_at: datetime = Field(description="RFC 3339 timestamp with an offset")

    @field_validator("run_at", mode="before")
    @classmethod
    def _needs_offset(cls, value: Any) -> Any:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise ValueError(
                    "an RFC 3339 timestamp such as 2026-12-24T18:00:00+01:00"
                ) from None
        else:
            raise ValueError("an RFC 3339 timestamp string")
        if moment.tzinfo is None:
            raise ValueError(
                "a UTC offset: add 'Z' or '+01:00' so the moment is not ambiguous"
            )
        # Schedulers and the state file keep the moment in UTC: it must exist there.
        try:
            in_utc = moment.astimezone(UTC)
        except OverflowError:
            in_utc = None
        if in_utc is None or not _FIRST_RUN_AT <= in_utc.year <= _LAST_RUN_AT:
            raise ValueError(
                f"a moment between the years {_FIRST_RUN_AT} and {_LAST_RUN_AT} in UTC"
            )
        return moment


class SolarTrigger(BaseModel):
    model_config = _STRICT

    event: SolarEvent
    latitude: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    longitude: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]

    @field_validator("latitude", "longitude", mode="before")
    @classmethod
    def _ints_are_numbers(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value


TRIGGER_MODELS: dict[str, type[BaseModel]] = {
    "cron": CronTrigger,
    "interval": IntervalTrigger,
    "clocked": ClockedTrigger,
    "solar": SolarTrigger,
}
Trigger = CronTrigger | IntervalTrigger | ClockedTrigger | SolarTrigger


class NotJson(ValueError):
    """A value that has no JSON form (schedulers send args and kwargs as JSON)."""


def json_size(value: Any) -> int:
    """Bytes of compact UTF-8 JSON, the measure of the 64 KiB cap (SPEC section 1).

    Raises ``NotJson`` for what JSON cannot carry: NaN and Infinity (orjson would
    silently write ``null``), integers beyond 64 bits, nesting deeper than 254 levels,
    non-string keys.
    """
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise NotJson(
            f"values JSON can carry: at most 254 levels deep, string keys, integers "
            f"within 64 bits ({exc})"
        ) from None
    if b"null" in encoded and _has_non_finite(value):
        raise NotJson("finite numbers only (NaN and Infinity are not JSON)")
    return len(encoded)


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, list):
        return any(_has_non_finite(item) for item in value)
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    return False


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"an IANA time zone such as 'Europe/Berlin' or 'UTC', found {value!r}"
        ) from None
    return value


TimeZone = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Schedule(BaseModel):
    """One schedule as written in a file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    scheduler: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    trigger_type: TriggerType
    trigger: Trigger | str
    task: TaskName
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    enabled: Annotated[bool, Field(strict=True)] = True
    timezone: TimeZone | None = None
    queue: Annotated[
        str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    ] | None = None
    priority: Annotated[int, Field(strict=True, ge=0, le=255)] | None = None
    expires: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = Field(
        default=None, description="seconds"
    )
    description: Annotated[str, StringConstraints(max_length=2000)] | None = None
    renamed_from: Name | None = None

    @field_validator("trigger", mode="wrap")
    @classmethod
    def _trigger_by_type(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        # Validate against the model ``trigger_type`` names, so errors name that model's
        # fields (a plain union would report every alternative's complaints).
        model = TRIGGER_MODELS.get(info.data.get("trigger_type", ""))
        if model is None:
            return handler(value)
        if isinstance(value, model):
            return value
        if model is CronTrigger and isinstance(value, str):
            return CronTrigger.from_crontab(value)
        return model.model_validate(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("args", "kwargs")
    @classmethod
    def _capped(cls, value: Any) -> Any:
        size = json_size(value)
        if size > MAX_ARGS_BYTES:
            raise ValueError(
                f"at most {MAX_ARGS_BYTES} bytes of compact JSON, found {size} bytes; "
                "pass a reference (an id or a URL) instead of the data itself"
            )
        return value

    @model_validator(mode="after")
    def _trigger_matches_type(self) -> Schedule:
        expected = TRIGGER_MODELS[self.trigger_type]
        if not isinstance(self.trigger, expected):
            raise ValueError(
                f"trigger_type {self.trigger_type!r} needs a trigger with the fields of "
                f"{expected.__name__}"
            )
        return self


class ScheduleFile(BaseModel):
    """A file under ``schedules/<project>/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schedules: list[Schedule] = Field(default_factory=list)

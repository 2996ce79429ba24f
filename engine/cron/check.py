"""Validation of a canonical cron trigger: every problem, each with its fix."""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass

from schedsync.engine.cron.fields import (
    FIELD_ORDER,
    MONTH_NAMES,
    RULES,
    FieldError,
    full_set,
    parse_field,
)

# Day counts of a leap year: a spec for Feb 29 fires in leap years, so it can fire.
_DAYS_IN_MONTH = {month: calendar.monthrange(2024, month)[1] for month in range(1, 13)}


@dataclass(frozen=True)
class CronProblem:
    field: str
    message: str
    expected: str
    found: str
    fix: str


def field_text(trigger: Mapping[str, object], name: str) -> str:
    value = trigger.get(name)
    return "*" if value is None else str(value)


def _field_problem(trigger: Mapping[str, object], name: str) -> CronProblem | None:
    try:
        parse_field(name, field_text(trigger, name))
    except FieldError as error:
        return CronProblem(name, error.message, RULES[name].expected, error.found, error.fix)
    return None


def _never_fires(trigger: Mapping[str, object]) -> CronProblem | None:
    days = parse_field("day_of_month", field_text(trigger, "day_of_month"))
    months = parse_field("month_of_year", field_text(trigger, "month_of_year"))
    if any(day <= _DAYS_IN_MONTH[month] for month in months for day in days):
        return None
    names = ", ".join(MONTH_NAMES[m - 1] for m in sorted(months))
    return CronProblem(
        "day_of_month",
        f"this cron can never fire: no day {field_text(trigger, 'day_of_month')!r} "
        f"exists in {names}",
        "a day of month that exists in at least one selected month",
        f"day_of_month {field_text(trigger, 'day_of_month')!r} with "
        f"month_of_year {field_text(trigger, 'month_of_year')!r}",
        "pick a day every selected month has (1-28 always exists), or add a month "
        "with that many days",
    )


def check_cron(trigger: Mapping[str, str], *, allow_seconds: bool) -> list[CronProblem]:
    """All problems of one cron trigger (empty list: valid)."""
    names = (*FIELD_ORDER, "second") if "second" in trigger else FIELD_ORDER
    problems = [p for name in names if (p := _field_problem(trigger, name)) is not None]
    if "second" in trigger and not allow_seconds:
        problems.append(CronProblem(
            "second",
            "this scheduler has no seconds field (only APScheduler has one)",
            "no 'second' field",
            f"second: {field_text(trigger, 'second')!r}",
            "remove 'second', or move the schedule to an APScheduler scheduler",
        ))
    if not problems:
        never = _never_fires(trigger)
        if never is not None:
            problems.append(never)
    return problems


def _restricted(trigger: Mapping[str, str], name: str) -> bool:
    try:
        return parse_field(name, field_text(trigger, name)) != full_set(name)
    except FieldError:
        return field_text(trigger, name).strip() != "*"


def dom_dow_ambiguous(trigger: Mapping[str, str]) -> bool:
    """True when day_of_month and day_of_week are both restricted.

    Celery and APScheduler then need both to match (AND); classic cron fires when
    either matches (OR), so a reader used to crontab may expect more fires.
    """
    return _restricted(trigger, "day_of_month") and _restricted(trigger, "day_of_week")

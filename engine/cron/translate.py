"""Canonical cron <-> each engine's own field text.

Translation goes through value sets, so every engine receives text that means exactly
the canonical set in its own convention: APScheduler counts weekdays from Monday, so
day_of_week is written with names (``mon-fri``), which no engine misreads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schedsync.engine.cron.check import field_text
from schedsync.engine.cron.fields import (
    FIELD_ORDER,
    FieldError,
    compact,
    parse_field,
)
from schedsync.engine.errors import UnsupportedOperation

_APS_DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# canonical (Celery) field -> APScheduler CronTrigger argument
_TO_APS_NAME = {
    "minute": "minute",
    "hour": "hour",
    "day_of_month": "day",
    "month_of_year": "month",
    "day_of_week": "day_of_week",
}


class UnrepresentableCron(UnsupportedOperation, ValueError):
    """A live entry's cron uses something the canonical form cannot hold."""


def canonical_cron(trigger: Mapping[str, Any]) -> dict[str, str]:
    """One text per meaning: ``{"day_of_week": "mon-fri"}`` and ``"1-5"`` both give ``"1-5"``.

    Fields that do not parse are kept as written (validation reports them), so this
    never raises. ``second`` is kept only when it is not just ``0``.
    """
    out = {name: _canonical_field(name, field_text(trigger, name)) for name in FIELD_ORDER}
    second = trigger.get("second")
    if second is not None and _canonical_field("second", str(second)) != "0":
        out["second"] = _canonical_field("second", str(second))
    return out


def _canonical_field(name: str, text: str) -> str:
    try:
        return compact(name, parse_field(name, text))
    except FieldError:
        return "".join(text.split()).lower()


def _sets(trigger: Mapping[str, Any]) -> dict[str, frozenset[int]]:
    names = (*FIELD_ORDER, "second") if trigger.get("second") is not None else FIELD_ORDER
    return {name: parse_field(name, field_text(trigger, name)) for name in names}


def to_apscheduler(trigger: Mapping[str, str]) -> dict[str, str]:
    """CronTrigger keyword arguments with the same meaning (all fields explicit).

    >>> to_apscheduler({"minute": "0", "hour": "9", "day_of_week": "1-5"})["day_of_week"]
    'mon-fri'
    """
    sets = _sets(trigger)
    out = {"year": "*", "week": "*", "second": "0"}
    for name, aps_name in _TO_APS_NAME.items():
        out[aps_name] = compact(name, sets[name])
    if "second" in sets:
        out["second"] = compact("second", sets["second"])
    monday_based = frozenset((day + 6) % 7 for day in sets["day_of_week"])
    out["day_of_week"] = compact("day_of_week", monday_based, dict(enumerate(_APS_DAYS)))
    return out


def _aps_field(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    return "*" if value is None else str(value)


def from_apscheduler(fields: Mapping[str, Any]) -> dict[str, str]:
    """APScheduler CronTrigger field text -> canonical trigger (day_of_week 0 = Sunday)."""
    for unsupported in ("year", "week"):
        if _aps_field(fields, unsupported).strip() != "*":
            raise UnrepresentableCron(
                f"APScheduler cron field {unsupported}={fields[unsupported]!r} has no "
                "canonical equivalent; schedsync cron triggers have no year or week field. "
                "Change the job to use month/day fields, or leave it unmanaged"
            )
    try:
        trigger = {name: _aps_field(fields, aps) for name, aps in _TO_APS_NAME.items()}
        days = _parse_aps_dow(_aps_field(fields, "day_of_week"))
        trigger["day_of_week"] = ",".join(str((day + 1) % 7) for day in sorted(days))
        trigger["second"] = _aps_field(fields, "second")
        return canonical_cron(_check_parse(trigger))
    except FieldError as error:
        raise UnrepresentableCron(
            f"APScheduler cron field {error.field} {error.found!r}: {error.message}; "
            "schedsync cannot express it (e.g. 'last' or '2nd mon'). Rewrite the job with "
            "plain values, ranges, steps or lists"
        ) from error


def _parse_aps_dow(text: str) -> frozenset[int]:
    return parse_field("apscheduler_day_of_week", text)


def _check_parse(trigger: dict[str, str]) -> dict[str, str]:
    for name, text in trigger.items():
        parse_field(name, text)
    return trigger


def to_celery(trigger: Mapping[str, str]) -> dict[str, str]:
    """``celery.schedules.crontab`` keyword arguments with the same meaning."""
    sets = _sets(trigger)
    return {name: compact(name, sets[name]) for name in FIELD_ORDER}


def _celery_text(value: Any) -> str:
    if value is None:
        return "*"
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, Iterable):
        return ",".join(str(item) for item in sorted(value))
    return str(value)


_CELERY_BOUNDS = {
    "minute": (60, 0),
    "hour": (24, 0),
    "day_of_week": (7, 0),
    "day_of_month": (31, 1),
    "month_of_year": (12, 1),
}


def from_celery(fields: Mapping[str, Any]) -> dict[str, str]:
    """Celery crontab fields (text, ints or sets, as in ``_orig_*``) -> canonical trigger.

    Celery's own parser reads the text, so Celery-only forms (wrap-around ranges such
    as ``fri-mon``, full day names) mean what they mean to Celery.
    """
    from celery.schedules import ParseException, crontab_parser

    out: dict[str, str] = {}
    for name in FIELD_ORDER:
        text = _celery_text(fields.get(name))
        try:
            values = frozenset(crontab_parser(*_CELERY_BOUNDS[name]).parse(text))
        except (ParseException, ValueError) as error:
            raise UnrepresentableCron(
                f"Celery crontab field {name} {text!r} cannot be read: {error}. "
                "Fix the entry in the scheduler, or leave it unmanaged"
            ) from error
        out[name] = compact(name, values)
    return out

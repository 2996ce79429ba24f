"""Turning pydantic's errors into diagnostics a person can act on.

Each pydantic error becomes: where (file, line, column and the path in the document),
what was expected, what was found, and how to fix it. Unknown fields point at the key,
everything else at the value.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from schedsync.engine.diagnostics import Diagnostic, Severity, format_path
from schedsync.engine.loader import Document, Path
from schedsync.schemas.schedule import MAX_ARGS_BYTES, TRIGGER_MODELS, NotJson, Schedule

# What a correct value looks like, per field name (the last part of the path).
EXPECTED: dict[str, str] = {
    "name": "1-200 characters: letters, digits and . _ : @ -, starting with a letter or digit",
    "scheduler": "the name of a scheduler configured for the project in schedsync.yaml",
    "trigger_type": "one of 'cron', 'interval', 'clocked', 'solar'",
    "trigger": "a mapping whose fields depend on trigger_type (or a 5-field cron string)",
    "task": "a dotted task name such as 'email.send_digest' or 'package.module:function'",
    "args": f"a list, at most {MAX_ARGS_BYTES} bytes as compact JSON",
    "kwargs": f"a mapping, at most {MAX_ARGS_BYTES} bytes as compact JSON",
    "enabled": "true or false",
    "timezone": "an IANA time zone such as 'Europe/Berlin' or 'UTC'",
    "queue": "a queue name (1-200 characters, no control characters)",
    "priority": "a whole number from 0 to 255",
    "expires": "a number of seconds greater than 0",
    "description": "free text, at most 2000 characters",
    "renamed_from": "the schedule's previous name",
    "every": "a whole number greater than 0",
    "period": "one of 'seconds', 'minutes', 'hours', 'days', 'weeks'",
    "run_at": "an RFC 3339 timestamp with an offset, e.g. 2026-12-24T18:00:00+01:00",
    "event": "a solar event such as 'sunrise', 'sunset', 'solar_noon', 'dawn_civil'",
    "latitude": "a number from -90 to 90",
    "longitude": "a number from -180 to 180",
    "minute": "a cron field such as '0', '*/15', '0,30' (0-59)",
    "hour": "a cron field such as '9', '*/2', '9-17' (0-23)",
    "day_of_week": "a cron field such as '*', '1-5', 'mon-fri' (0 and 7 are Sunday)",
    "day_of_month": "a cron field such as '*', '1', '1,15' (1-31)",
    "month_of_year": "a cron field such as '*', '1', 'jan-mar' (1-12)",
    "second": "a cron field such as '0', '*/10' (0-59; APScheduler only)",
}
_TYPE_NAMES = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "datetime_type": "a timestamp",
    "datetime_parsing": "an RFC 3339 timestamp",
    "datetime_from_date_parsing": "an RFC 3339 timestamp",
}
_VALUE_CODES = {"timezone": "invalid-timezone", "args": "too-large", "kwargs": "too-large"}


def describe(value: Any) -> str:
    """A short, safe rendering of what was found (never a whole 64 KiB list)."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"string {shown!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        keys = ", ".join(list(map(str, value))[:5])
        return f"a mapping ({keys})" if keys else "an empty mapping"
    return type(value).__name__


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def _model_at(item: Mapping[str, Any], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose fields are valid at ``loc`` (for unknown-field suggestions)."""
    if not loc:
        return Schedule
    if loc[0] == "trigger" and len(loc) == 1:
        model = TRIGGER_MODELS.get(str(item.get("trigger_type")))
        return model
    return None


def _found(error: ErrorDetails) -> str:
    return describe(error.get("input"))


def pydantic_diagnostic(
    doc: Document, base: Path, item: Mapping[str, Any], error: ErrorDetails
) -> Diagnostic:
    """One pydantic error on the schedule at ``base`` (``("schedules", i)``)."""
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_field(doc, base, item, loc, error)
    if kind == "missing":
        return _missing(doc, base, loc)
    path = (*base, *loc)
    line, column = doc.position(path)
    name = str(loc[-1]) if loc else "schedule"
    where = format_path(path)
    expected = EXPECTED.get(name)
    if kind in _TYPE_NAMES:
        wanted = _TYPE_NAMES[kind]
        return Diagnostic(
            Severity.ERROR,
            "wrong-type",
            doc.file,
            line,
            column,
            where,
            f"{name} must be {wanted}",
            expected or wanted,
            _found(error),
            _type_fix(name, wanted, error.get("input")),
        )
    if kind == "value_error":
        return _value_error(doc.file, (line, column), where, name, loc, error)
    if kind == "literal_error":
        allowed = str(error.get("ctx", {}).get("expected", ""))
        options = [part.strip(" '") for part in allowed.replace(" or ", ",").split(",")]
        hint = did_you_mean(str(error.get("input")), options)
        return Diagnostic(
            Severity.ERROR,
            "invalid-value",
            doc.file,
            line,
            column,
            where,
            f"{name} must be one of {allowed}",
            expected or allowed,
            _found(error),
            hint or f"use one of {allowed}",
        )
    return Diagnostic(
        Severity.ERROR,
        "invalid-value",
        doc.file,
        line,
        column,
        where,
        f"{name}: {error['msg'][:1].lower()}{error['msg'][1:]}",
        expected or error["msg"],
        _found(error),
        _constraint_fix(name, kind),
    )


def _unknown_field(
    doc: Document,
    base: Path,
    item: Mapping[str, Any],
    loc: tuple[Any, ...],
    error: ErrorDetails,
) -> Diagnostic:
    key = str(loc[-1])
    parent = loc[:-1]
    path = (*base, *loc)
    line, column = doc.position(path, key=True)
    model = _model_at(item, parent)
    known = list(model.model_fields) if model is not None else []
    hint = did_you_mean(key, known)
    where = "the trigger" if parent == ("trigger",) else "a schedule"
    fix = hint or f"remove {key!r}"
    if hint is None and parent == ("trigger",):
        fix = f"remove {key!r}; a {item.get('trigger_type')} trigger has {', '.join(known)}"
    return Diagnostic(
        Severity.ERROR,
        "unknown-field",
        doc.file,
        line,
        column,
        format_path(path),
        f"unknown field {key!r} in {where}",
        f"one of: {', '.join(known)}" if known else "no such field",
        repr(key),
        fix,
    )


def _missing(doc: Document, base: Path, loc: tuple[Any, ...]) -> Diagnostic:
    name = str(loc[-1])
    parent = (*base, *loc[:-1])
    line, column = doc.position(parent)
    where = "the trigger" if loc[:-1] == ("trigger",) else "this schedule"
    return Diagnostic(
        Severity.ERROR,
        "missing-field",
        doc.file,
        line,
        column,
        format_path((*base, *loc)),
        f"missing required field {name!r} in {where}",
        EXPECTED.get(name, name),
        "nothing",
        f"add '{name}: ...' ({EXPECTED.get(name, 'see docs/schedule-format.md')})",
    )


def _value_error(
    file: str,
    position: tuple[int, int],
    where: str,
    name: str,
    loc: tuple[Any, ...],
    error: ErrorDetails,
) -> Diagnostic:
    cause = error.get("ctx", {}).get("error")
    text = str(cause) if cause is not None else error["msg"]
    code = _VALUE_CODES.get(name, "invalid-value")
    found = _found(error)
    message = f"{name}: {text}"
    expected = EXPECTED.get(name, text)
    fix = "see docs/schedule-format.md"
    if code == "invalid-timezone":
        message = f"unknown time zone {error.get('input')!r}"
        fix = "use a name from the IANA database (e.g. 'Europe/Berlin', 'America/New_York')"
    elif code == "too-large" and isinstance(cause, NotJson):
        code = "not-json"
        message = f"{name} is not JSON: it must hold {text}"
        fix = "write plain JSON values: strings, finite numbers, booleans, null, lists, mappings"
    elif code == "too-large":
        size, _, advice = text.partition(";")
        message = f"{name} is too large: {size.strip()}"
        found = size.split("found")[-1].strip() if "found" in size else found
        fix = advice.strip() or "store the data elsewhere and pass a reference"
    elif name == "run_at":
        code = "clocked-no-offset" if "offset" in text else "invalid-timestamp"
        message = (
            "run_at has no UTC offset: the moment is ambiguous"
            if code == "clocked-no-offset"
            else f"run_at is not a valid timestamp: {text}"
        )
        fix = "write it like 2026-12-24T18:00:00+01:00 (or ...Z for UTC)"
    elif loc == ("trigger",):
        code = "invalid-cron"
        message = f"invalid cron string: {text}"
        expected = "'minute hour day-of-month month day-of-week', e.g. \"0 9 * * 1-5\""
        fix = "write 5 space-separated fields, or use the mapping form (minute: ..., hour: ...)"
    elif not loc:
        message = text
    return Diagnostic(
        Severity.ERROR, code, file, position[0], position[1], where, message, expected, found, fix
    )


def _type_fix(name: str, wanted: str, value: Any) -> str:
    if wanted == "a string" and isinstance(value, int | float) and not isinstance(value, bool):
        return f'quote the value: {name}: "{value}"'
    if wanted == "true or false":
        return f"write {name}: true or {name}: false (without quotes)"
    if wanted == "a whole number" and isinstance(value, str):
        return f"write the number without quotes: {name}: {value}"
    return f"write {name} as {wanted}"


def _constraint_fix(name: str, kind: str) -> str:
    if kind == "string_pattern_mismatch" and name in ("name", "renamed_from"):
        return "use letters, digits and . _ : @ - only, e.g. email.daily-digest"
    if kind == "string_pattern_mismatch" and name == "task":
        return "use the task's dotted name, e.g. email.send_digest or pkg.module:func"
    if kind in ("string_too_short", "string_too_long"):
        return f"change the length of {name} ({EXPECTED.get(name, 'see the docs')})"
    return f"change {name} to {EXPECTED.get(name, 'a valid value')}"

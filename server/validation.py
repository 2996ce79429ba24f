"""Checking write bodies before anything is locked or written.

Order matters for the error a caller sees: a body over the 64 KiB args/kwargs cap is
a 413 naming the field (before pydantic would call it a 422), then every field error
of the schedule model at once as one 422.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from pydantic import ValidationError

from schedsync.engine.yamledit import ENTRY_ORDER
from schedsync.schemas.schedule import MAX_ARGS_BYTES, NotJson, Schedule, json_size
from schedsync.server.errors import ApiError

EXTRA_CREATE_FIELDS = frozenset({"file"})
MAX_FILE_CHARS = 200


def check_caps(body: dict[str, Any]) -> None:
    for field in ("args", "kwargs"):
        if field in body:
            try:
                size = json_size(body[field])
            except NotJson as exc:
                raise validation_error(
                    [{"field": field, "message": str(exc), "type": "not_json"}]
                ) from None
            if size > MAX_ARGS_BYTES:
                raise ApiError(
                    "payload_too_large",
                    f"{field} is {size} bytes of compact JSON; the limit is {MAX_ARGS_BYTES}. "
                    "Pass a reference (an id or a URL) instead of the data itself.",
                    {"field": field, "size": size, "limit": MAX_ARGS_BYTES},
                )


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def field_errors(exc: ValidationError) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for err in exc.errors(include_url=False, include_input=False):
        # Errors of the trigger sub-model point through the union/function wrappers.
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        errors.append({
            "field": _field_path(loc) or "body",
            "message": err["msg"],
            "type": err["type"],
        })
    return errors


def validation_error(errors: list[dict[str, Any]], what: str = "the schedule") -> ApiError:
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return ApiError(
        "validation_error",
        f"{what} is not valid ({len(errors)} problem(s): {fields}); fix every listed field",
        {"errors": errors},
    )


def validate_schedule(entry: dict[str, Any]) -> Schedule:
    try:
        return Schedule.model_validate(entry)
    except ValidationError as exc:
        raise validation_error(field_errors(exc)) from None


def entry_of(body: dict[str, Any]) -> dict[str, Any]:
    """The schedule-file entry for a body: the fields as sent, in the file's order."""
    return {key: body[key] for key in ENTRY_ORDER if key in body and body[key] is not None}


def validate_create(body: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the entry to write, the requested file or None)."""
    check_caps(body)
    file = body.get("file")
    if file is not None and not isinstance(file, str):
        raise validation_error([{"field": "file", "message": "a path relative to "
                                 "schedules/<project>/, e.g. 'email.yaml'", "type": "string_type"}])
    if file is not None and (len(file) > MAX_FILE_CHARS or not PurePosixPath(file).parts):
        # The writer checks where the path leads; these two never name a file at all
        # (an empty path, or one longer than file systems allow).
        raise validation_error([{"field": "file", "message": f"a file name of 1-{MAX_FILE_CHARS} "
                                 "characters such as 'email.yaml'", "type": "string_length"}])
    schedule_body = {k: v for k, v in body.items() if k not in EXTRA_CREATE_FIELDS}
    validate_schedule({k: v for k, v in schedule_body.items() if v is not None})
    return entry_of(schedule_body), file


def validate_patch(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The changes to make (None deletes an optional field); the merge must validate."""
    check_caps(body)
    if "file" in body:
        raise validation_error([{
            "field": "file",
            "message": "a schedule's file is chosen when it is created; to move it, edit "
                       "the repository",
            "type": "not_patchable",
        }])
    if not body:
        raise validation_error([{"field": "body", "message": "send at least one field to "
                                 "change", "type": "missing"}])
    merged = dict(current)
    for key, value in body.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    validate_schedule(merged)
    return {key: body[key] for key in ENTRY_ORDER if key in body}

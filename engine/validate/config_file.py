"""Validation of ``schedsync.yaml``: syntax, ``${VAR}`` expansion and the config model."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from schedsync.engine.config import CONFIG_NAME, MissingVariable, expand_env
from schedsync.engine.diagnostics import Diagnostic, Severity, format_path
from schedsync.engine.loader import Document, Path
from schedsync.engine.redact import redacted
from schedsync.engine.validate.messages import describe, did_you_mean
from schedsync.schemas.config import (
    APSchedulerScheduler,
    CeleryBeatScheduler,
    ProjectConfig,
    RepoConfig,
)

_SCHEDULER_TYPES = ("celery-beat", "apscheduler")
_FIELDS_AT: dict[str, list[str]] = {
    "": list(RepoConfig.model_fields),
    "project": list(ProjectConfig.model_fields),
    "celery-beat": list(CeleryBeatScheduler.model_fields),
    "apscheduler": list(APSchedulerScheduler.model_fields),
}


def check_config(
    doc: Document, environ: dict[str, str] | None = None
) -> tuple[RepoConfig | None, list[Diagnostic]]:
    """The validated, env-expanded config (None when unusable) and its diagnostics."""
    out = list(doc.diagnostics)
    if doc.data is None and not doc.ok:
        return None, out
    if not isinstance(doc.data, dict):
        line, column = doc.position(())
        out.append(
            Diagnostic(
                Severity.ERROR,
                "wrong-type",
                doc.file,
                line,
                column,
                "",
                f"{CONFIG_NAME} must be a mapping (version: 1, projects: ...)",
                "a mapping",
                describe(doc.data),
                "start from the example in docs/schedule-format.md",
            )
        )
        return None, out
    missing: list[MissingVariable] = []
    data = expand_env(doc.data, environ, (), missing)
    for variable in missing:
        line, column = doc.position(variable.path)
        out.append(
            Diagnostic(
                Severity.ERROR,
                "missing-env",
                doc.file,
                line,
                column,
                format_path(variable.path),
                f"the environment variable {variable.name} is not set "
                f"(used by {format_path(variable.path)})",
                f"{variable.name} set in the environment",
                f"{variable.name} unset",
                f"export {variable.name}=..., or give a default: ${{{variable.name}:-value}}",
            )
        )
    try:
        config = RepoConfig.model_validate(data)
    except ValidationError as exc:
        out.extend(redacted(_config_error(doc, data, error), "message", "expected", "found")
                   for error in exc.errors(include_url=False))  # may quote a ${VAR} value
        return None, out
    return config, out


def _doc_path(loc: tuple[Any, ...]) -> Path:
    """Drop the discriminator pydantic inserts: projects.a.schedulers.s.<type>.url."""
    parts = list(loc)
    if len(parts) > 4 and parts[2] == "schedulers" and parts[4] in _SCHEDULER_TYPES:
        del parts[4]
    return tuple(parts)


def _fields_at(data: Any, path: Path) -> list[str]:
    if len(path) == 1:
        return _FIELDS_AT[""]
    if len(path) == 3 and path[0] == "projects":
        return _FIELDS_AT["project"]
    if len(path) == 5 and path[2] == "schedulers":
        try:
            kind = data["projects"][path[1]]["schedulers"][path[3]].get("type", "")
        except (KeyError, TypeError, AttributeError):
            kind = ""
        return _FIELDS_AT.get(str(kind), [])
    return []


def _config_error(doc: Document, data: Any, error: ErrorDetails) -> Diagnostic:
    path = _doc_path(tuple(error["loc"]))
    where = format_path(path)
    kind = error["type"]
    if kind == "extra_forbidden":
        key = str(path[-1])
        known = _fields_at(data, path)
        line, column = doc.position(path, key=True)
        return Diagnostic(
            Severity.ERROR,
            "unknown-field",
            doc.file,
            line,
            column,
            where,
            f"unknown field {key!r} in {CONFIG_NAME}",
            f"one of: {', '.join(known)}" if known else "no such field",
            repr(key),
            did_you_mean(key, known) or f"remove {key!r}",
        )
    if kind == "missing":
        line, column = doc.position(path[:-1])
        return Diagnostic(
            Severity.ERROR,
            "missing-field",
            doc.file,
            line,
            column,
            where,
            f"missing required field {path[-1]!r} in {CONFIG_NAME}",
            str(path[-1]),
            "nothing",
            f"add '{path[-1]}: ...' (see docs/schedule-format.md)",
        )
    line, column = doc.position(path)
    cause = error.get("ctx", {}).get("error")
    text = str(cause) if cause is not None else error["msg"]
    code = (
        "invalid-timezone"
        if path[-1:] == ("timezone",) and cause is not None
        else ("invalid-value")
    )
    message = f"{where or CONFIG_NAME}: {text[:1].lower()}{text[1:]}"
    if kind == "union_tag_invalid":
        message = f"{where}: unknown scheduler type"
    elif kind == "union_tag_not_found":
        message = f"{where}: a scheduler needs 'type: celery-beat' or 'type: apscheduler'"
    return Diagnostic(
        Severity.ERROR,
        code,
        doc.file,
        line,
        column,
        where,
        message,
        text,
        describe(error.get("input")) if kind not in ("union_tag_not_found",) else "no type",
        "see the schedsync.yaml reference in docs/schedule-format.md",
    )

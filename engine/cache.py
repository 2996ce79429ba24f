"""Content-hash cache of file-local validation results under ``.schedsync/cache/``.

A re-run of ``validate`` after editing one file should cost a fraction of the first
run: every unchanged schedule file is answered from here (keyed by its path, its bytes
and the tool version), and only the contextual checks run again. The cache is plain
JSON, never pickle: a cache folder committed by someone else must not be able to run
code. Writes are atomic (temp file + ``os.replace``), so concurrent runs never read a
torn entry; an unreadable or foreign entry is simply a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from schedsync import __version__
from schedsync.engine.diagnostics import Diagnostic, Severity
from schedsync.engine.spec import Spec, canonical_parts
from schedsync.engine.validate.context import CronMemo
from schedsync.engine.validate.schedule_file import (
    FileResult,
    ParsedSchedule,
    pack_positions,
)
from schedsync.schemas.schedule import TRIGGER_MODELS, Schedule

CACHE_DIR = Path(".schedsync") / "cache"
# Bump when the cached shape or the meaning of a file-local check changes.
FORMAT = 6
_SALT = f"{FORMAT}:{__version__}".encode()


def content_hash(content: bytes) -> str:
    return hashlib.blake2b(content, digest_size=16).hexdigest()


class FileCache:
    """Cached ``FileResult``s of one repository, plus the memoised cron results."""

    def __init__(self, root: Path) -> None:
        self.folder = root / CACHE_DIR
        self.usable = True

    def key(self, file: str, content: bytes) -> str:
        digest = hashlib.blake2b(_SALT, digest_size=20)
        digest.update(file.encode())
        digest.update(b"\0")
        digest.update(content)
        return digest.hexdigest()

    def get(self, key: str) -> FileResult | None:
        try:
            raw = (self.folder / "files" / f"{key}.json").read_bytes()
            return _decode(orjson.loads(raw))
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            return None

    def put(self, key: str, result: FileResult) -> None:
        self._write(self.folder / "files" / f"{key}.json", orjson.dumps(_encode(result)))

    def load_memo(self) -> CronMemo:
        try:
            data = orjson.loads((self.folder / "cron.json").read_bytes())
            if data.get("salt") != _SALT.decode():
                return CronMemo()
            return CronMemo.from_json(data)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
            return CronMemo()

    def save_memo(self, memo: CronMemo) -> None:
        if memo.changed:
            payload = {"salt": _SALT.decode(), **memo.to_json()}
            self._write(self.folder / "cron.json", orjson.dumps(payload))

    def _write(self, path: Path, data: bytes) -> None:
        if not self.usable:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(temp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temp)
                raise
        except OSError:
            # A read-only checkout still validates; it just is not faster next time.
            self.usable = False


def _encode(result: FileResult) -> dict[str, Any]:
    return {
        "file": result.file,
        "diagnostics": [
            [
                d.severity.value,
                d.code,
                d.file,
                d.line,
                d.column,
                d.path,
                d.message,
                d.expected,
                d.found,
                d.fix,
            ]
            for d in result.diagnostics
        ],
        "schedules": [
            [
                p.index,
                p.line,
                pack_positions(p.table),
                *dump_schedule(p.schedule),
                _spec_without_data(p.spec),
                canonical_parts(p.spec),
            ]
            for p in result.schedules
        ],
    }


def _decode(data: dict[str, Any]) -> FileResult:
    diagnostics = [
        Diagnostic(Severity(d[0]), d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9])
        for d in data["diagnostics"]
    ]
    schedules = []
    for index, line, packed, values, fields_set, trigger_set, spec, parts in data["schedules"]:
        # args and kwargs are stored once (in the values), not twice
        spec["args"] = list(values["args"])
        spec["kwargs"] = dict(values["kwargs"])
        schedule = rebuild_schedule(values, fields_set, trigger_set)
        canonical = (parts[0], parts[1]) if parts else None
        schedules.append(ParsedSchedule(index, schedule, packed, spec, line, canonical))
    return FileResult(data["file"], schedules, diagnostics)


def _spec_without_data(spec: Spec) -> Spec:
    return {k: v for k, v in spec.items() if k not in ("args", "kwargs")}


def dump_schedule(schedule: Schedule) -> tuple[dict[str, Any], list[str], list[str]]:
    """Every field's value and which fields the file set explicitly.

    The values are the validated ones as they sit in the models (orjson writes the one
    non-JSON type, ``run_at``, as RFC 3339): 10x cheaper than ``model_dump``.
    """
    trigger = schedule.trigger
    assert not isinstance(trigger, str)  # validated schedules hold trigger models
    values = dict(schedule.__dict__)
    values["trigger"] = trigger.__dict__
    return values, sorted(schedule.model_fields_set), sorted(trigger.model_fields_set)


def rebuild_schedule(
    values: dict[str, Any], fields_set: list[str], trigger_set: list[str]
) -> Schedule:
    """A ``Schedule`` from ``dump_schedule``'s output, without validating again.

    Only values that passed validation are ever cached, so skipping validation is
    safe; it is what pydantic's ``model_construct`` does, minus its per-field default
    handling (every field is present), which makes it 5x faster and lets a warm run
    rebuild 10k schedules in a few tens of milliseconds. The one non-JSON value,
    ``run_at``, is restored.
    """
    # ``values`` is freshly parsed JSON, owned by nobody else: completed in place.
    trigger_values = values["trigger"]
    if values["trigger_type"] == "clocked":
        trigger_values["run_at"] = datetime.fromisoformat(trigger_values["run_at"])
    model = TRIGGER_MODELS[values["trigger_type"]]
    values["trigger"] = _constructed(model, trigger_values, set(trigger_set))
    return _constructed(Schedule, values, set(fields_set))


_M = TypeVar("_M", bound=BaseModel)


def _constructed(model: type[_M], values: dict[str, Any], fields_set: set[str]) -> _M:
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", values)
    object.__setattr__(instance, "__pydantic_fields_set__", fields_set)
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance

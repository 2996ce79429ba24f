"""File-local validation of schedule files: shape, types and per-schedule rules.

Everything here depends only on the bytes of one file, so its result can be cached by
content hash (``schedsync.engine.cache``). Checks that need the configuration or other
files (unknown schedulers, store capabilities, duplicate names, ``min_interval``, DST)
live in ``schedsync.engine.validate.context``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from schedsync.engine.cron import CronProblem, check_cron, dom_dow_ambiguous
from schedsync.engine.diagnostics import Diagnostic, Severity, format_path
from schedsync.engine.loader import Document, Path, Position
from schedsync.engine.spec import CanonicalParts, Spec, make_spec
from schedsync.engine.validate.messages import describe, did_you_mean, pydantic_diagnostic
from schedsync.schemas.schedule import CRON_FIELDS, CronTrigger, Schedule

# Positions kept per schedule for the contextual checks (relative to the list item).
KEPT_FIELDS = ("name", "scheduler", "trigger_type", "trigger", "timezone", "renamed_from")


@dataclass
class ParsedSchedule:
    """A schedule that passed the file-local checks."""

    index: int
    schedule: Schedule
    # "" is the list item itself, then KEPT_FIELDS and "trigger.<field>". The cache
    # hands over a packed string ("name=3:11;..."), unpacked only when a diagnostic
    # needs a place: most schedules never do.
    positions: dict[str, Position] | str
    # The canonical spec with ``timezone`` None: the zone comes from the config.
    spec: Spec
    # 1-based line of the list item (taken from ``positions`` when not given).
    line: int = 0
    # ``spec``'s canonical text around its zone (``spec.canonical_parts``), when the
    # file cache had it: the planner then need not serialise the spec again.
    canonical: CanonicalParts | None = None
    # The cron fields as text (empty for other trigger types) and as a hashable key:
    # the contextual checks ask for them several times per schedule.
    cron: dict[str, str] = field(init=False, repr=False, compare=False)
    cron_items: tuple[tuple[str, str], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.line:
            self.line = self.table[""][0]
        self.cron = cron_fields(self.schedule) if self.schedule.trigger_type == "cron" else {}
        self.cron_items = tuple(sorted(self.cron.items()))

    @property
    def table(self) -> dict[str, Position]:
        if isinstance(self.positions, str):
            self.positions = unpack_positions(self.positions)
        return self.positions

    def position(self, name: str) -> Position:
        table = self.table
        return table.get(name) or table.get(name.split(".")[0]) or table[""]


def pack_positions(positions: dict[str, Position]) -> str:
    return ";".join(f"{name}={line}:{column}" for name, (line, column) in positions.items())


def unpack_positions(packed: str) -> dict[str, Position]:
    table: dict[str, Position] = {}
    for part in packed.split(";"):
        name, _, where = part.partition("=")
        line, _, column = where.partition(":")
        table[name] = (int(line), int(column))
    return table


@dataclass
class FileResult:
    """What one schedule file yields on its own: valid schedules and diagnostics."""

    file: str
    schedules: list[ParsedSchedule] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def check_schedule_file(doc: Document) -> FileResult:
    """Validate a parsed schedule file; never raises for bad input."""
    result = FileResult(doc.file, diagnostics=list(doc.diagnostics))
    if doc.data is None:  # unparsable (diagnosed) or empty (no schedules, fine)
        return result
    items = _schedule_list(doc, result)
    for index, item in enumerate(items):
        parsed = _check_item(doc, index, item, result.diagnostics)
        if parsed is not None:
            result.schedules.append(parsed)
    return result


def _schedule_list(doc: Document, result: FileResult) -> list[Any]:
    data = doc.data
    if not isinstance(data, dict):
        line, column = doc.position(())
        result.diagnostics.append(
            Diagnostic(
                Severity.ERROR,
                "wrong-type",
                doc.file,
                line,
                column,
                "",
                "a schedule file must be a mapping with a 'schedules' list",
                "schedules: [...]",
                describe(data),
                "start the file with 'schedules:'",
            )
        )
        return []
    for key in data:
        if key != "schedules":
            line, column = doc.position((key,), key=True)
            result.diagnostics.append(
                Diagnostic(
                    Severity.ERROR,
                    "unknown-field",
                    doc.file,
                    line,
                    column,
                    key,
                    f"unknown top-level field {key!r}",
                    "only 'schedules'",
                    repr(key),
                    did_you_mean(key, ["schedules"])
                    or "remove it; a file holds a 'schedules' list",
                )
            )
    items = data.get("schedules")
    if items is None:
        return []
    if not isinstance(items, list):
        line, column = doc.position(("schedules",))
        result.diagnostics.append(
            Diagnostic(
                Severity.ERROR,
                "wrong-type",
                doc.file,
                line,
                column,
                "schedules",
                "'schedules' must be a list of schedules",
                "a list ('- name: ...' items)",
                describe(items),
                "write each schedule as a list item starting with '- '",
            )
        )
        return []
    return items


def _check_item(
    doc: Document, index: int, item: Any, out: list[Diagnostic]
) -> ParsedSchedule | None:
    base: Path = ("schedules", index)
    if base in doc.poisoned:
        return None
    # A duplicate key or refused tag inside it was reported by the loader: check the
    # rest, but such a schedule is never valid.
    tainted = any(path[: len(base)] == base for path in doc.poisoned)
    if not isinstance(item, dict):
        line, column = doc.position(base)
        out.append(
            Diagnostic(
                Severity.ERROR,
                "wrong-type",
                doc.file,
                line,
                column,
                format_path(base),
                "each entry of 'schedules' must be a mapping",
                "name: ..., scheduler: ...",
                describe(item),
                "write the schedule's fields as 'key: value' lines",
            )
        )
        return None
    try:
        schedule = Schedule.model_validate(item)
    except ValidationError as exc:
        out.extend(_schedule_errors(doc, base, item, exc))
        _cron_of_invalid(doc, base, item, exc, out)
        return None
    problems = _cron_checks(doc, base, schedule, out)
    if problems or tainted:
        return None
    return ParsedSchedule(index, schedule, _positions(doc, base, item), spec_of(schedule))


def _schedule_errors(
    doc: Document, base: Path, item: Mapping[str, Any], exc: ValidationError
) -> list[Diagnostic]:
    errors = exc.errors(include_url=False)
    trigger_type_bad = any(e["loc"][:1] == ("trigger_type",) for e in errors) or (
        "trigger_type" not in item
    )
    out: list[Diagnostic] = []
    for error in errors:
        loc = tuple(error["loc"])
        if trigger_type_bad and loc[:1] == ("trigger",):
            continue  # the trigger's shape is unknowable while its type is wrong
        path = (*base, *loc)
        if any(path[: len(p)] == p for p in doc.poisoned):
            continue
        out.append(pydantic_diagnostic(doc, base, item, error))
    return out


def _cron_of_invalid(
    doc: Document,
    base: Path,
    item: Mapping[str, Any],
    exc: ValidationError,
    out: list[Diagnostic],
) -> None:
    """A schedule failing elsewhere still gets its cron checked: report everything."""
    if item.get("trigger_type") != "cron" or any(
        e["loc"][:1] in (("trigger",), ("trigger_type",)) for e in exc.errors()
    ):
        return
    raw = item.get("trigger")
    try:
        trigger = (
            CronTrigger.from_crontab(raw)
            if isinstance(raw, str)
            else CronTrigger.model_validate(raw)
        )
    except (ValueError, ValidationError):
        return
    _check_cron_fields(doc, base, _fields_of(trigger), out)


def _cron_checks(doc: Document, base: Path, schedule: Schedule, out: list[Diagnostic]) -> bool:
    """Cron field and never-fires checks; True when an error was found."""
    if schedule.trigger_type != "cron":
        return False
    return _check_cron_fields(doc, base, cron_fields(schedule), out)


@lru_cache(maxsize=8192)
def _cron_verdict(items: tuple[tuple[str, str], ...]) -> tuple[list[CronProblem], bool]:
    """Repositories repeat the same few crons: parse each distinct one once."""
    trigger = dict(items)
    problems = check_cron(trigger, allow_seconds=True)
    return problems, not problems and dom_dow_ambiguous(trigger)


def _check_cron_fields(
    doc: Document, base: Path, trigger: dict[str, str], out: list[Diagnostic]
) -> bool:
    failed = False
    # ``second`` is allowed here; whether the scheduler has one is a contextual check.
    problems, ambiguous = _cron_verdict(tuple(sorted(trigger.items())))
    for problem in problems:
        failed = True
        path = _trigger_path(doc, base, problem.field)
        line, column = doc.position(path)
        code = "cron-never-fires" if "never fire" in problem.message else "invalid-cron"
        out.append(
            Diagnostic(
                Severity.ERROR,
                code,
                doc.file,
                line,
                column,
                format_path(path),
                problem.message,
                problem.expected,
                problem.found,
                problem.fix,
            )
        )
    if not failed and ambiguous:
        path = _trigger_path(doc, base, "day_of_week")
        line, column = doc.position(path)
        out.append(
            Diagnostic(
                Severity.WARNING,
                "dom-and-dow",
                doc.file,
                line,
                column,
                format_path(path),
                "day_of_month and day_of_week are both restricted: Celery and APScheduler "
                "fire only when BOTH match, classic cron when EITHER matches",
                "at most one of day_of_month / day_of_week restricted",
                f"day_of_month {trigger['day_of_month']!r}, day_of_week {trigger['day_of_week']!r}",
                "keep one of the two as '*' (or split into two schedules) so the meaning is "
                "the same everywhere",
            )
        )
    return failed


def _trigger_path(doc: Document, base: Path, name: str) -> Path:
    path = (*base, "trigger", name)
    # The string shorthand ("0 9 * * *") has no per-field positions.
    return path if path in doc.values else (*base, "trigger")


def spec_of(schedule: Schedule, timezone: str | None = None) -> Spec:
    trigger = schedule.trigger
    assert not isinstance(trigger, str)  # validation turned cron strings into fields
    return make_spec(
        name=schedule.name,
        trigger_type=schedule.trigger_type,
        trigger=trigger.model_dump(exclude_none=True),
        task=schedule.task,
        args=schedule.args,
        kwargs=schedule.kwargs,
        enabled=schedule.enabled,
        timezone=timezone,
        queue=schedule.queue,
        priority=schedule.priority,
        expires=schedule.expires,
        description=schedule.description,
    )


def cron_fields(schedule: Schedule) -> dict[str, str]:
    """The cron fields of a cron schedule as plain strings (``second`` only if set)."""
    trigger = schedule.trigger
    assert isinstance(trigger, CronTrigger)  # the model turned the shorthand into fields
    return _fields_of(trigger)


def _fields_of(trigger: CronTrigger) -> dict[str, str]:
    data = trigger.__dict__  # the field values; model_dump would copy them (slower)
    fields = {name: str(data[name]) for name in CRON_FIELDS}
    if data.get("second") is not None:
        fields["second"] = str(data["second"])
    return fields


def _positions(doc: Document, base: Path, item: Mapping[str, Any]) -> dict[str, Position]:
    values = doc.values
    positions = {"": values[base]}
    schedules, index = base
    for name in KEPT_FIELDS:
        found = values.get((schedules, index, name))
        if found is not None:
            positions[name] = found
    trigger = item.get("trigger")
    if isinstance(trigger, dict):
        for key in trigger:
            found = values.get((schedules, index, "trigger", key))
            if found is not None:
                positions[f"trigger.{key}"] = found
    return positions

"""Checks that need the configuration or several files together.

These run on every ``validate`` (they are cheap), on top of the cached file-local
results: unknown projects and schedulers, what each store can honour, duplicate names
within a project, ``renamed_from``, ``min_interval`` and DST findings. The two costly
cron computations (DST transitions, smallest gap between fires) are memoised in a
``CronMemo`` that the cache persists.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from schedsync.engine.adapters.base import Capabilities
from schedsync.engine.capabilities import capabilities_for, describe_store
from schedsync.engine.cron import dst_findings, min_gap_seconds
from schedsync.engine.diagnostics import Diagnostic, Severity
from schedsync.engine.validate.messages import did_you_mean
from schedsync.engine.validate.schedule_file import FileResult, ParsedSchedule
from schedsync.schemas.config import ProjectConfig, RepoConfig, SchedulerConfig
from schedsync.schemas.schedule import PERIOD_SECONDS, IntervalTrigger

DST_DAYS = 365


CronItems = tuple[tuple[str, str], ...]


@dataclass
class CronMemo:
    """Memoised cron results: ``dst`` keyed by (cron, zone, engine, day), ``gap``
    by (cron, zone, engine). ``to_json`` / ``from_json`` for the cache file."""

    dst: dict[tuple[CronItems, str, str, str], list[list[str]]] = field(default_factory=dict)
    gap: dict[tuple[CronItems, str, str], float | None] = field(default_factory=dict)
    changed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "dst": [[[list(map(list, k[0])), *k[1:]], v] for k, v in self.dst.items()],
            "gap": [[[list(map(list, k[0])), *k[1:]], v] for k, v in self.gap.items()],
        }

    def forget_other_days(self, today: date) -> None:
        """DST findings are relative to a day: keep the cache file from growing daily."""
        day = today.isoformat()
        kept = {key: value for key, value in self.dst.items() if key[3] == day}
        if len(kept) != len(self.dst):
            self.dst = kept
            self.changed = True

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CronMemo:
        def items(raw: list[list[str]]) -> CronItems:
            return tuple((str(a), str(b)) for a, b in raw)

        return cls(
            dst={(items(k[0]), k[1], k[2], k[3]): v for k, v in data["dst"]},
            gap={(items(k[0]), k[1], k[2]): v for k, v in data["gap"]},
        )


@dataclass(frozen=True)
class Accepted:
    """A schedule that passed every check, with the zone it is evaluated in."""

    project: str
    file: str
    parsed: ParsedSchedule
    timezone: str


@dataclass
class _Entry:
    project: str
    file: str
    parsed: ParsedSchedule
    failed: bool = False


def project_of(file: str) -> str | None:
    """``schedules/acme/email.yaml`` -> ``acme``; files elsewhere have no project."""
    parts = file.split("/")
    return parts[1] if len(parts) == 3 and parts[0] == "schedules" else None


def check_context(
    config: RepoConfig,
    files: dict[str, FileResult],
    today: date,
    memo: CronMemo,
) -> tuple[list[Accepted], list[Diagnostic]]:
    out: list[Diagnostic] = []
    entries: list[_Entry] = []
    unknown: dict[str, str] = {}
    for file in sorted(files):
        project = project_of(file)
        if project is None:
            continue
        if project not in config.projects:
            unknown.setdefault(project, file)
            continue
        entries.extend(_Entry(project, file, p) for p in files[file].schedules)
    out.extend(_unknown_projects(config, unknown))
    by_project: dict[str, list[_Entry]] = defaultdict(list)
    for entry in entries:
        by_project[entry.project].append(entry)
    accepted: list[Accepted] = []
    day = today.isoformat()
    for project, members in by_project.items():
        settings = config.projects[project]
        stores = {name: _store(cfg) for name, cfg in settings.schedulers.items()}
        _check_names(members, out)
        for entry in members:
            checked = _check_store(entry, settings, stores, out)
            if checked is None or entry.failed:
                continue
            zone, caps = checked
            _warnings(entry, settings, zone, caps, (today, day), memo, out)
            # The spec keeps the zone the file asks for; the store's zone only decides
            # what the warnings compute (they differ only where that is an error).
            wanted = entry.parsed.schedule.timezone or settings.timezone
            accepted.append(Accepted(project, entry.file, entry.parsed, wanted))
    return accepted, out


def _diag(
    entry: _Entry,
    field_name: str,
    severity: Severity,
    code: str,
    message: str,
    expected: str,
    found: str,
    fix: str,
) -> Diagnostic:
    line, column = entry.parsed.position(field_name)
    path = f"schedules[{entry.parsed.index}]" + (f".{field_name}" if field_name else "")
    if severity is Severity.ERROR:
        entry.failed = True
    return Diagnostic(severity, code, entry.file, line, column, path, message, expected, found, fix)


def _unknown_projects(config: RepoConfig, unknown: dict[str, str]) -> list[Diagnostic]:
    known = sorted(config.projects)
    out = []
    for project, file in sorted(unknown.items()):
        hint = did_you_mean(project, known)
        out.append(
            Diagnostic(
                Severity.ERROR,
                "unknown-project",
                file,
                1,
                1,
                "",
                f"the folder schedules/{project}/ is not a project in schedsync.yaml",
                f"one of: {', '.join(known) or '(no projects configured)'}",
                repr(project),
                (f"{hint} Or " if hint else "")
                + f"add 'projects: {{{project}: ...}}' to schedsync.yaml, or rename the folder",
            )
        )
    return out


def _check_names(members: list[_Entry], out: list[Diagnostic]) -> None:
    by_name: dict[str, list[_Entry]] = defaultdict(list)
    for entry in members:
        by_name[entry.parsed.schedule.name].append(entry)
    for name, same in by_name.items():
        if len(same) < 2:
            continue
        for entry in same:
            others = ", ".join(f"{o.file}:{o.parsed.line}" for o in same if o is not entry)
            out.append(
                _diag(
                    entry,
                    "name",
                    Severity.ERROR,
                    "duplicate-name",
                    f"the name {name!r} is used more than once in project {entry.project!r} "
                    f"(also at {others})",
                    "a name unique within the project",
                    f"{name!r} {len(same)} times",
                    "rename one of them (names identify schedules across all files of a project)",
                )
            )
    for entry in members:
        old = entry.parsed.schedule.renamed_from
        if old is not None and old in by_name:
            other = by_name[old][0]
            out.append(
                _diag(
                    entry,
                    "renamed_from",
                    Severity.ERROR,
                    "renamed-from-exists",
                    f"renamed_from {old!r} names a schedule that still exists "
                    f"({other.file}:{other.parsed.line})",
                    "the old name of a schedule that no longer exists",
                    repr(old),
                    "remove the old schedule, or drop renamed_from if both should exist",
                )
            )


# Per scheduler: its capabilities, how messages name it, the fields it cannot keep.
_Store = tuple[Capabilities, str, tuple[str, ...]]


def _store(config: SchedulerConfig) -> _Store:
    caps = capabilities_for(config)
    return caps, describe_store(config), _lacking(caps)


def _check_store(
    entry: _Entry,
    settings: ProjectConfig,
    stores: dict[str, _Store],
    out: list[Diagnostic],
) -> tuple[str, Capabilities] | None:
    """Scheduler and capability checks; returns the zone the schedule runs in and the
    store's capabilities (None: unknown scheduler)."""
    schedule = entry.parsed.schedule
    found = stores.get(schedule.scheduler)
    if found is None:
        known = sorted(settings.schedulers)
        hint = did_you_mean(schedule.scheduler, known)
        out.append(
            _diag(
                entry,
                "scheduler",
                Severity.ERROR,
                "unknown-scheduler",
                f"project {entry.project!r} has no scheduler {schedule.scheduler!r}",
                f"one of: {', '.join(known) or '(none configured)'}",
                repr(schedule.scheduler),
                hint
                or f"use one of the configured schedulers, or add {schedule.scheduler!r} "
                f"under projects.{entry.project}.schedulers in schedsync.yaml",
            )
        )
        return None
    caps, store, lacking = found
    if schedule.trigger_type not in caps.trigger_types:
        out.append(
            _diag(
                entry,
                "trigger_type",
                Severity.ERROR,
                "unsupported-by-store",
                f"scheduler {schedule.scheduler!r} ({store}) cannot run "
                f"{schedule.trigger_type} triggers",
                f"one of: {', '.join(sorted(caps.trigger_types))}",
                repr(schedule.trigger_type),
                _move_hint(schedule.trigger_type),
            )
        )
    if (
        schedule.trigger_type == "cron"
        and "second" in entry.parsed.cron
        and (not caps.seconds_field)
    ):
        out.append(
            _diag(
                entry,
                "trigger.second",
                Severity.ERROR,
                "unsupported-by-store",
                f"scheduler {schedule.scheduler!r} ({store}) has no seconds field in its crons",
                "no 'second' field",
                f"second: {entry.parsed.cron['second']!r}",
                "remove 'second', or move the schedule to an APScheduler scheduler",
            )
        )
    if lacking:
        out.extend(_unheld_diag(entry, name, store) for name in lacking
                   if getattr(schedule, name) != _HELD_DEFAULTS[name])
    return _zone(entry, settings, caps, store, out), caps


# Fields a schedule may set that some store cannot keep, with their defaults. Not here:
# ``timezone`` (``_zone`` compares it with the store's fixed zone) and ``description``
# (documentation: it stays in the repository where a store has no place for it).
_HELD_DEFAULTS: dict[str, object] = {
    "enabled": True, "queue": None, "priority": None, "expires": None,
}


def _lacking(caps: Capabilities) -> tuple[str, ...]:
    """The fields of ``_HELD_DEFAULTS`` a store cannot keep (none for most stores)."""
    return tuple(name for name in _HELD_DEFAULTS if name not in caps.fields)


def _unheld_diag(entry: _Entry, name: str, store: str) -> Diagnostic:
    schedule = entry.parsed.schedule
    value = getattr(schedule, name)
    if name == "enabled":
        message = (f"scheduler {schedule.scheduler!r} ({store}) cannot hold a disabled "
                   "schedule: every entry of a static beat_schedule runs")
        fix = ("remove 'enabled: false' (to stop it, delete the entry from beat_schedule in "
               "code), or move the schedule to a redbeat or django-celery-beat scheduler")
    else:
        message = f"scheduler {schedule.scheduler!r} ({store}) has no place for {name}"
        fix = f"remove {name!r}, or move the schedule to a scheduler whose store keeps it"
    return _diag(entry, name, Severity.ERROR, "unsupported-by-store", message,
                 f"no {name!r} (default {_HELD_DEFAULTS[name]!r})",
                 f"{name}: {json.dumps(value)}", fix)


def _move_hint(trigger_type: str) -> str:
    if trigger_type == "solar":
        return "solar triggers need a celery-beat scheduler with store django-celery-beat"
    if trigger_type == "clocked":
        return "use an apscheduler or django-celery-beat scheduler for one-off runs"
    return "use a scheduler whose store supports this trigger type"


def _zone(
    entry: _Entry,
    settings: ProjectConfig,
    caps: Capabilities,
    store: str,
    out: list[Diagnostic],
) -> str:
    schedule = entry.parsed.schedule
    wanted = schedule.timezone or settings.timezone
    if caps.per_schedule_timezone or caps.fixed_timezone is None:
        return wanted
    fixed = caps.fixed_timezone
    if schedule.trigger_type in ("cron", "solar") and wanted != fixed:
        own = schedule.timezone is not None
        out.append(
            _diag(
                entry,
                "timezone" if own else "scheduler",
                Severity.ERROR,
                "unsupported-by-store",
                f"scheduler {schedule.scheduler!r} ({store}) cannot hold a per-schedule time "
                f"zone: it runs every schedule in the Celery app's zone {fixed}, but this "
                f"schedule's zone is {wanted}" + ("" if own else " (the project's timezone)"),
                f"timezone {fixed} (the scheduler's)",
                wanted,
                f"set 'timezone: {wanted}' on the scheduler in schedsync.yaml if that is the "
                f"Celery app's zone, or write the cron in {fixed}"
                + (" and remove 'timezone'" if own else ""),
            )
        )
    return fixed


def _warnings(
    entry: _Entry,
    settings: ProjectConfig,
    zone: str,
    caps: Capabilities,
    today: tuple[date, str],
    memo: CronMemo,
    out: list[Diagnostic],
) -> None:
    schedule = entry.parsed.schedule
    engine = caps.cron_engine
    if settings.min_interval is not None:
        gap = _gap(entry, zone, engine, memo, settings.min_interval)
        if gap is not None and gap < settings.min_interval:
            out.append(
                _diag(
                    entry,
                    "trigger",
                    Severity.WARNING,
                    "too-frequent",
                    f"fires every {_duration(gap)}, more often than the project's min_interval "
                    f"of {_duration(settings.min_interval)}",
                    f"at least {_duration(settings.min_interval)} between fires",
                    f"{_duration(gap)}",
                    "fire less often, or lower min_interval for the project in schedsync.yaml",
                )
            )
    if schedule.trigger_type == "cron":
        for kind, local, message in _dst(entry, zone, engine, today, memo):
            field_name = "trigger.hour" if "trigger.hour" in entry.parsed.table else "trigger"
            out.append(
                _diag(
                    entry,
                    field_name,
                    Severity.WARNING,
                    f"dst-{kind}",
                    message,
                    "a time that exists exactly once every day",
                    f"{local} {zone}",
                    "move the schedule outside 02:00-03:00 local time, or use timezone: UTC"
                    if kind == "gap"
                    else "move the schedule outside the repeated hour, or use timezone: UTC",
                )
            )


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _gap_at_least(trigger: dict[str, str]) -> int:
    """A lower bound on the time between two fires, read off the field texts alone:
    no second field -> 1 minute; one fixed minute -> 1 hour; fixed minute and hour
    -> 1 day (a fixed wall time happens at most once a day... except in a DST
    overlap, which the DST warning reports)."""
    if "second" in trigger:
        return 0
    if not trigger["minute"].isdigit():
        return 60
    if not trigger["hour"].isdigit():
        return 3600
    return 86400


def _gap(entry: _Entry, zone: str, engine: str, memo: CronMemo, min_interval: int) -> float | None:
    schedule = entry.parsed.schedule
    if isinstance(schedule.trigger, IntervalTrigger):
        return float(schedule.trigger.every * PERIOD_SECONDS[schedule.trigger.period])
    if schedule.trigger_type != "cron":
        return None
    trigger = entry.parsed.cron
    if _gap_at_least(trigger) >= min_interval:
        return None  # cannot be too frequent: skip the costly exact computation
    key = (entry.parsed.cron_items, zone, engine)
    if key not in memo.gap:
        found = min_gap_seconds("cron", trigger, zone, engine)
        memo.gap[key] = None if found is None else float(found)
        memo.changed = True
    return memo.gap[key]


def _dst(
    entry: _Entry, zone: str, engine: str, today: tuple[date, str], memo: CronMemo
) -> list[list[str]]:
    trigger = entry.parsed.cron
    key = (entry.parsed.cron_items, zone, engine, today[1])
    if key not in memo.dst:
        start = datetime.combine(today[0], time(0), tzinfo=ZoneInfo(zone))
        findings = dst_findings(trigger, zone, engine, start, DST_DAYS)
        memo.dst[key] = [[f.kind, f.local.strftime("%Y-%m-%d %H:%M"), f.message] for f in findings]
        memo.changed = True
    return memo.dst[key]

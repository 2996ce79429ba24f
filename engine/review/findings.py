"""Findings about one change, each pinned to the YAML line that causes it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from schedsync.engine.cron import dom_dow_ambiguous, dst_findings
from schedsync.engine.diagnostics import Diagnostic
from schedsync.engine.review.model import Change, Entry, Finding, Kind, Level

DST_DAYS = 365
_MOVING = ("trigger", "trigger_type", "timezone", "scheduler", "enabled")


def _finding(entry: Entry, level: Level, code: str, field: str, title: str, message: str,
             *, side: str = "head") -> Finding:
    return Finding(level, code, entry.project, entry.name, entry.file, entry.line_of(field),
                   title, message, side)


def _deleted(change: Change) -> Finding:
    before = change.before
    assert before is not None  # a removal always has a base side
    message = (
        f"{change.key} (task {before.spec.get('task')} on {before.scheduler}) is deleted: "
        "apply removes it from the scheduler and it stops firing"
    )
    if change.timing is not None and change.timing.runs_before:
        message += f"; {change.timing.runs_before} runs in the next 7 days are lost"
    history = change.history
    if history is not None and history.last:
        last = history.last[0]
        message += (
            f"; it ends a recorded history of {history.total_shown}"
            f"{'+' if history.total_shown >= 50 else ''} fires, the last at "
            f"{last.fired_at:%Y-%m-%d %H:%M} UTC ({last.status})"
        )
    message += ". If the schedule was renamed, keep it and set renamed_from instead."
    return _finding(before, Level.WARNING, "deleted", "", "Schedule deleted", message,
                    side="base")


def _moved(change: Change, before: Entry, after: Entry) -> Finding:
    message = (
        f"{change.key} moves from scheduler {before.scheduler!r} to {after.scheduler!r}: "
        f"apply deletes the entry in {before.scheduler!r} and creates a new one in "
        f"{after.scheduler!r}; its live run state (last run, run count) does not move"
    )
    if before.engine != after.engine:
        message += (
            f", and the cron is read the {after.engine} way from now on (day-of-week "
            "numbers and DST handling differ between Celery and APScheduler)"
        )
    return _finding(after, Level.WARNING, "moved-scheduler", "scheduler",
                    "Schedule moved to another scheduler", message + ".")


def _touches_trigger(change: Change) -> bool:
    if change.kind is Kind.ADDED:
        return True
    return any(f.path.split(".")[0] in _MOVING for f in change.fields)


def _dst(after: Entry, now: datetime) -> list[Finding]:
    out = []
    for found in dst_findings(after.spec["trigger"], after.zone, after.engine, now, DST_DAYS):
        code = "dst-gap" if found.kind == "gap" else "dst-overlap"
        title = "Fire time in a DST gap" if found.kind == "gap" else "Fire time in a DST overlap"
        out.append(_finding(after, Level.WARNING, code, "trigger.hour", title,
                            f"{after.project}/{after.name}: {found.message}."))
    return out


def _dom_dow(after: Entry) -> Finding:
    trigger = after.spec["trigger"]
    return _finding(
        after, Level.WARNING, "dom-dow", "trigger.day_of_week", "Day of month AND day of week",
        f"{after.project}/{after.name} restricts both day_of_month "
        f"({trigger.get('day_of_month')!r}) and day_of_week ({trigger.get('day_of_week')!r}): "
        "Celery and APScheduler fire only on days matching BOTH, classic cron on days "
        "matching EITHER. Keep one of them '*' unless AND is what you mean.",
    )


def _too_often(after: Entry, warning: Diagnostic) -> Finding:
    # The repository validator already measured the gap (cached across runs): reuse its
    # verdict rather than computing it again.
    return Finding(
        Level.WARNING, "min-interval", after.project, after.name, after.file,
        after.line_of("trigger"),
        "Fires more often than min_interval",
        f"{after.project}/{after.name} {warning.message}; {warning.fix or ''}".rstrip("; "),
    )


def change_findings(change: Change, now: datetime,
                    too_frequent: Mapping[tuple[str, int], Diagnostic]) -> list[Finding]:
    """Deletion, scheduler move, DST, DOM/DOW and min_interval findings of one change."""
    if change.kind is Kind.REMOVED:
        return [_deleted(change)]
    after = change.after
    assert after is not None  # only removals lack a head side
    out: list[Finding] = []
    if change.before is not None and change.before.scheduler != after.scheduler:
        out.append(_moved(change, change.before, after))
    if not _touches_trigger(change) or not after.spec.get("enabled"):
        return out
    kind = after.spec.get("trigger_type")
    if kind == "cron":
        out.extend(_dst(after, now))
        if dom_dow_ambiguous(after.spec["trigger"]):
            out.append(_dom_dow(after))
    warning = too_frequent.get((after.file, after.index))
    if warning is not None:
        out.append(_too_often(after, warning))
    return out

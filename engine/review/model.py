"""What a review is made of: the schedules of each side, their changes and findings.

A review is a frozen value computed once (``schedsync.engine.review.build``) and shown by
several renderers (text, JSON, markdown, GitHub annotations); none of them computes
anything of its own.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schedsync.engine.diagnostics import Diagnostic
from schedsync.engine.spec import Spec

NEXT_FIRES = 5
WINDOW_DAYS = 7


class Kind(enum.StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    RENAMED = "renamed"
    CHANGED = "changed"


class Level(enum.StrEnum):
    """GitHub's annotation levels, most severe first."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


@dataclass(frozen=True, slots=True)
class Entry:
    """One schedule on one side, with the lines of the YAML that hold it.

    ``file`` is relative to the git repository's top (what GitHub annotations need);
    ``lines`` maps a field (``"scheduler"``, ``"trigger"``, ``"trigger.hour"``) to its
    line, ``line`` is the list item's own line.
    """

    project: str
    name: str
    scheduler: str
    engine: str  # "apscheduler" | "celery": whose cron meaning applies
    spec: Spec
    renamed_from: str | None
    file: str
    line: int
    index: int = 0  # position in the file's ``schedules:`` list
    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, name: str) -> int:
        """The line of field ``name``, else of its parent field, else the item's."""
        return self.lines.get(name) or self.lines.get(name.split(".")[0]) or self.line

    @property
    def zone(self) -> str:
        return str(self.spec.get("timezone") or "UTC")

    @property
    def timed(self) -> bool:
        """Fire times can be computed (solar depends on the sky, not on a clock)."""
        return self.spec.get("trigger_type") in ("cron", "interval", "clocked")


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str  # "trigger.hour", "scheduler", "kwargs"
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Timing:
    """Fire times before and after the change, in the schedule's zone.

    ``runs_*`` count the fires in the next ``WINDOW_DAYS`` days; ``gained`` and ``lost``
    are the fire instants only one side has (a move from 09:00 to 10:00 gains 7 and
    loses 7 while the count stays 7). ``capped`` says a count hit the limit.
    """

    zone_before: str | None
    zone_after: str | None
    words_before: str | None
    words_after: str | None
    next_before: tuple[datetime, ...]
    next_after: tuple[datetime, ...]
    runs_before: int
    runs_after: int
    gained: int
    lost: int
    capped: bool = False

    @property
    def moved(self) -> bool:
        return self.next_before != self.next_after or self.gained > 0 or self.lost > 0


@dataclass(frozen=True, slots=True)
class PastFire:
    fired_at: datetime
    status: str
    source: str


@dataclass(frozen=True, slots=True)
class History:
    """The recorded fires of a schedule that a deletion ends (from the state file)."""

    total_shown: int
    last: tuple[PastFire, ...]


@dataclass(slots=True)
class Change:
    kind: Kind
    project: str
    name: str
    before: Entry | None
    after: Entry | None
    fields: tuple[FieldChange, ...] = ()
    timing: Timing | None = None
    history: History | None = None
    next_run: datetime | None = None  # the head side's next fire, also when unchanged

    @property
    def key(self) -> str:
        return f"{self.project}/{self.name}"

    @property
    def label(self) -> str:
        """The one word a summary table shows (enable/disable win over "changed")."""
        if self.kind is Kind.CHANGED:
            paths = {f.path for f in self.fields}
            if "enabled" in paths and self.after is not None:
                return "enabled" if self.after.spec.get("enabled") else "disabled"
        return self.kind.value

    @property
    def line(self) -> int:
        """The line a reader should look at: the first changed field's, else the item's."""
        entry = self.where
        if self.after is not None and self.fields:
            return entry.line_of(self.fields[0].path)
        return entry.line

    @property
    def where(self) -> Entry:
        """The side a reader should look at: the head, or the base for a removal."""
        entry = self.after or self.before
        assert entry is not None  # every change has at least one side
        return entry


@dataclass(frozen=True, slots=True)
class Finding:
    """Something a reviewer must look at, pinned to the YAML line that causes it."""

    level: Level
    code: str  # "deleted", "moved-scheduler", "dst-gap", "dst-overlap", "dom-dow", ...
    project: str
    name: str
    file: str
    line: int
    title: str
    message: str
    side: str = "head"  # "base" when the line is in the base version (a deletion)

    @property
    def key(self) -> str:
        return f"{self.project}/{self.name}"


@dataclass(frozen=True, slots=True)
class SideInfo:
    label: str  # "origin/main", "working tree"
    commit: str | None
    diagnostics: tuple[Diagnostic, ...] = ()  # errors of this side (prefixed file paths)


@dataclass(slots=True)
class Review:
    base: SideInfo
    head: SideInfo
    now: datetime
    changes: list[Change] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "no state file: history skipped"

    @property
    def head_errors(self) -> list[Diagnostic]:
        return [d for d in self.head.diagnostics if d.is_error]

    @property
    def base_errors(self) -> list[Diagnostic]:
        return [d for d in self.base.diagnostics if d.is_error]

    @property
    def failed(self) -> bool:
        return bool(self.head_errors)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def counts(self) -> dict[str, int]:
        out = {label: 0 for label in ("added", "removed", "renamed", "changed",
                                      "enabled", "disabled")}
        for change in self.changes:
            out[change.label] += 1
        return out

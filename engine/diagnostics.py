"""Diagnostics: problems found in the repository, collected rather than raised."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem, pinned to the YAML that causes it.

    ``path`` is the location inside the document, e.g. ``schedules[3].trigger.hour``;
    ``line`` and ``column`` are 1-based (0 when the problem has no place in a file,
    e.g. a missing ``schedsync.yaml``).
    """

    severity: Severity
    code: str
    file: str
    line: int
    column: int
    path: str
    message: str
    expected: str | None = None
    found: str | None = None
    fix: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.column, self.code)


@dataclass
class Diagnostics:
    """An ordered collection with the two questions every caller asks."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, diagnostic: Diagnostic) -> None:
        self.items.append(diagnostic)

    def extend(self, diagnostics: list[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if not d.is_error]

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self.items)

    def sorted(self) -> list[Diagnostic]:
        return sorted(self.items, key=Diagnostic.sort_key)


def format_path(parts: tuple[str | int, ...]) -> str:
    """``("schedules", 3, "trigger", "hour")`` -> ``schedules[3].trigger.hour``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out

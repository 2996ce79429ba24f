"""The YAML line of each field of a changed schedule, so findings point at the cause.

The repository loader keeps one line per schedule; a review needs the line of the
``scheduler:`` or ``hour:`` that changed. Only files holding changes are parsed again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from schedsync.engine.loader import Document, load_document
from schedsync.engine.review.model import Change, Entry

_FIELDS = ("name", "scheduler", "trigger_type", "trigger", "task", "args", "kwargs",
           "enabled", "timezone", "queue", "priority", "expires", "description",
           "renamed_from")

Reader = Callable[[str], bytes | None]


class LineFinder:
    """Parses each file once and answers field lines for entries of one side."""

    def __init__(self, read: Reader, prefix: str) -> None:
        self._read = read
        self._prefix = prefix
        self._docs: dict[str, Document | None] = {}

    def _doc(self, file: str) -> Document | None:
        if file not in self._docs:
            content = self._read(file.removeprefix(self._prefix))
            self._docs[file] = None if content is None else load_document(content, file)
        return self._docs[file]

    def with_lines(self, entry: Entry) -> Entry:
        doc = self._doc(entry.file)
        if doc is None or doc.data is None:
            return entry
        base = ("schedules", entry.index)
        lines: dict[str, int] = {}
        for name in _FIELDS:
            position = doc.keys.get((*base, name))
            if position is not None:
                lines[name] = position[0]
        for key in entry.spec.get("trigger") or {}:
            position = doc.keys.get((*base, "trigger", key))
            if position is not None:
                lines[f"trigger.{key}"] = position[0]
        return replace(entry, lines=lines)


def attach_lines(changes: list[Change], base: LineFinder, head: LineFinder) -> None:
    for change in changes:
        if change.before is not None:
            change.before = base.with_lines(change.before)
        if change.after is not None:
            change.after = head.with_lines(change.after)

"""Validating a write that changed the lines of one schedule only.

PATCH, enable and disable change one list item. Every other line of its file is byte
for byte what the loaded repository was built from, so their results stand; only the
item is parsed (at its own lines, so positions and paths are the file's) and checked
with the repository config and against the other schedules' names. ~1 ms instead of
re-validating a 100-schedule file (~30 ms).

Only the clean case is decided here: anything else (an error, an anchor, a change
outside the item, a file that is not what was loaded) returns None and the caller
runs the whole-file ``revalidate``, which gives the authoritative answer and message.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import date
from typing import TYPE_CHECKING

from schedsync.engine.cache import content_hash
from schedsync.engine.diagnostics import Diagnostic, Diagnostics
from schedsync.engine.loader import load_document
from schedsync.engine.repository import LoadedRepository, RepoSchedule
from schedsync.engine.validate.context import CronMemo, check_context
from schedsync.engine.validate.schedule_file import FileResult, check_schedule_file
from schedsync.engine.yamledit import item_span
from schedsync.server import names

if TYPE_CHECKING:
    from schedsync.engine.validate.context import Accepted

# A block scalar ('|', '>') last in an item reads the blank lines after it ('|+'):
# the item alone would not mean what it means in the file.
_BLOCK_SCALAR = re.compile(r"[|>][-+0-9]*[ \t]*(#.*)?\r?$", re.MULTILINE)
_memo = CronMemo()  # DST and gap results for this process (the writer thread only)


@dataclasses.dataclass(frozen=True)
class _Place:
    """Where a schedule's list item is: its file, index in the list and first line."""

    project: str
    file: str
    index: int
    line: int


@dataclasses.dataclass(frozen=True)
class _Cut:
    start: int  # where the item starts, in both texts
    old_end: int
    new_end: int


def revalidate_item(
    old: LoadedRepository, before: str, after: str, item: RepoSchedule
) -> LoadedRepository | None:
    """The repository with ``item``'s file changed from ``before`` to ``after``, or None."""
    path = item.file
    if old.config is None or old.file_hashes.get(path) != content_hash(before.encode()):
        return None
    if any(d.file == path and d.is_error for d in old.diagnostics.items):
        return None
    position = names.positions(old, item.project).get(item.schedule.name)
    if position is None or old.project(item.project)[position] is not item:
        return None
    cut = _cut(before, after, item.line)
    if cut is None:
        return None
    place = _Place(item.project, path, item.index, item.line)
    accepted = _check(old, after[cut.start : cut.new_end], place)
    if accepted is None:
        return None
    fresh, found = accepted
    if _name_clash(old, item, fresh):
        return None
    return _swapped(old, item, position, fresh, found, (before, after, cut))


def revalidate_added(
    old: LoadedRepository, slug: str, path: str, before: str, after: str
) -> LoadedRepository | None:
    """The repository with one schedule appended to ``path`` (``yamledit.add_schedule``
    verified the whole new file), or None."""
    if old.config is None or old.file_hashes.get(path) != content_hash(before.encode()):
        return None
    if any(d.file == path and d.is_error for d in old.diagnostics.items):
        return None  # then the file's valid schedules are not all of its items
    inserted = _insertion(before, after)
    if inserted is None:
        return None
    start, end = inserted
    lines = after[start:end]
    # Not a '- ' item first: an ambiguous insertion was found shifted (or is no item).
    if not lines.lstrip(" ").startswith("-") or "&" in lines or _BLOCK_SCALAR.search(lines):
        return None
    items = old.project(slug)
    place = _Place(slug, path, sum(rs.file == path for rs in items),
                   after.count("\n", 0, start) + 1)
    accepted = _check(old, lines, place)
    if accepted is None:
        return None
    fresh, found = accepted
    schedule = fresh.schedule
    if any(names.find(old, slug, name) is not None
           for name in (schedule.name, schedule.renamed_from) if name is not None):
        return None
    shift = after.count("\n", start, end) + (0 if lines.endswith("\n") else 1)
    diagnostics = [*found, *(
        dataclasses.replace(d, line=d.line + shift)
        if d.file == path and d.line >= place.line else d for d in old.diagnostics.items)]
    hashes = {**old.file_hashes, path: content_hash(after.encode())}
    new = LoadedRepository(old.root, old.config, {**old.schedules, slug: [*items, fresh]},
                           Diagnostics(diagnostics), hashes)
    names.carry(old, new, slug, {schedule.name: len(items)})
    return new


def _insertion(before: str, after: str) -> tuple[int, int] | None:
    """``after`` is ``before`` with whole lines inserted: their span in ``after``
    (leading blank separator lines left out), else None."""
    size = len(after) - len(before)
    at = _common_prefix(before, after)
    if size <= 0 or after[at + size :] != before[at:]:
        return None
    if at == len(before) and before and not before.endswith("\n"):
        at += 1  # the file had no final newline: the insertion starts by adding one
    start, end = at, at + size - (1 if at > len(before) else 0)
    if start and after[start - 1] != "\n":
        return None
    while after.startswith("\n", start) or after.startswith("\r\n", start):
        start = after.index("\n", start) + 1
    return (start, end) if start < end else None


def _common_prefix(a: str, b: str) -> int:
    """Length of the common prefix, by halving (slice comparisons run in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _cut(before: str, after: str, line: int) -> _Cut | None:
    span = item_span(before, line)
    if span is None:
        return None
    start, old_end = span
    new_end = len(after) - (len(before) - old_end)
    if new_end < start or after[:start] != before[:start] or after[new_end:] != before[old_end:]:
        return None  # the write changed lines outside the item
    for text in (before[start:old_end], after[start:new_end]):
        # An anchor here may be used elsewhere; an alias of one outside fails to parse.
        if "&" in text or _BLOCK_SCALAR.search(text):
            return None
    return _Cut(start, old_end, new_end)


def _check(
    old: LoadedRepository, lines: str, place: _Place
) -> tuple[RepoSchedule, list[Diagnostic]] | None:
    """The item's lines parsed where they stand: blank lines and null items before them
    give it its own line numbers and list index (``schedules[7].trigger.hour``)."""
    assert old.config is not None  # checked by the caller
    blank = place.line - 2 - place.index
    if blank < 0:
        return None
    dash = " " * (len(lines) - len(lines.lstrip(" ")))
    text = "schedules:\n" + "\n" * blank + f"{dash}-\n" * place.index + lines
    result = check_schedule_file(load_document(text.encode("utf-8"), place.file))
    mine = [d for d in result.diagnostics if d.line >= place.line]
    parsed = [p for p in result.schedules if p.index == place.index]
    if len(parsed) != 1 or any(d.is_error for d in mine):
        return None
    accepted, found = check_context(
        old.config, {place.file: FileResult(place.file, parsed, mine)}, date.today(), _memo
    )
    if len(accepted) != 1 or any(d.is_error for d in found):
        return None
    return _repo_schedule(accepted[0], place), [*mine, *found]


def _repo_schedule(accepted: Accepted, place: _Place) -> RepoSchedule:
    spec = accepted.parsed.spec
    spec["timezone"] = accepted.timezone  # as the loader completes it
    return RepoSchedule(place.project, accepted.parsed.schedule, spec, place.file,
                        place.index, place.line)


def _name_clash(old: LoadedRepository, item: RepoSchedule, fresh: RepoSchedule) -> bool:
    """Names are unique per project; renamed_from must not name a living schedule."""
    slug, schedule = item.project, fresh.schedule
    wanted = [schedule.name] if schedule.name != item.schedule.name else []
    if schedule.renamed_from is not None:
        wanted.append(schedule.renamed_from)
    others = (names.find(old, slug, name) for name in wanted)
    return any(other is not None and other is not item for other in others)


def _swapped(
    old: LoadedRepository, item: RepoSchedule, position: int, fresh: RepoSchedule,
    found: list[Diagnostic], change: tuple[str, str, _Cut],
) -> LoadedRepository:
    """``old`` with the item replaced and the file's later lines moved by the change."""
    before, after, cut = change
    path, slug = item.file, item.project
    old_lines = _line_count(before[cut.start : cut.old_end])
    shift = _line_count(after[cut.start : cut.new_end]) - old_lines
    first_after = item.line + old_lines
    schedules = list(old.project(slug))
    schedules[position] = fresh
    if shift:
        for position, rs in enumerate(schedules):
            if rs.file == path and rs.line >= first_after:
                schedules[position] = dataclasses.replace(rs, line=rs.line + shift)
    diagnostics = [*found]
    for d in old.diagnostics.items:
        if d.file != path or d.line < item.line:
            diagnostics.append(d)
        elif d.line >= first_after:
            diagnostics.append(dataclasses.replace(d, line=d.line + shift) if shift else d)
    hashes = {**old.file_hashes, path: content_hash(after.encode())}
    new = LoadedRepository(old.root, old.config, {**old.schedules, slug: schedules},
                           Diagnostics(diagnostics), hashes)
    if fresh.schedule.name == item.schedule.name:
        names.carry(old, new, slug)
    return new


def _line_count(text: str) -> int:
    return text.count("\n") + (0 if text.endswith("\n") or not text else 1)

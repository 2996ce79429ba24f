"""Schedules by name, per project of a loaded repository.

``LoadedRepository.find`` walks the project's list: ~1 ms for 10k schedules, paid
several times per request. The index (name -> position in the project's list) is
built once per loaded repository; a write that swaps schedules in place hands it on
with ``carry``. Read from any thread: entries are only ever added or replaced whole.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schedsync.engine.repository import LoadedRepository, RepoSchedule

_LIMIT = 8
# Weak: an index must not keep a replaced repository (10k schedules) alive.
_indexes: dict[tuple[int, str], tuple[weakref.ref[LoadedRepository], dict[str, int]]] = {}


def positions(repo: LoadedRepository, slug: str) -> dict[str, int]:
    hit = _indexes.get((id(repo), slug))
    if hit is not None and hit[0]() is repo:
        return hit[1]
    index: dict[str, int] = {}
    for position, rs in enumerate(repo.project(slug)):
        index.setdefault(rs.schedule.name, position)  # the first, as ``find`` answers
    _remember(repo, slug, index)
    return index


def find(repo: LoadedRepository, slug: str, name: str) -> RepoSchedule | None:
    position = positions(repo, slug).get(name)
    return None if position is None else repo.project(slug)[position]


def carry(
    old: LoadedRepository, new: LoadedRepository, slug: str,
    appended: dict[str, int] | None = None,
) -> None:
    """``new``'s list for ``slug`` is ``old``'s with schedules swapped in place for
    ones of the same name, plus ``appended`` (name -> position) at its end: ``old``'s
    index holds for it, with those added."""
    hit = _indexes.get((id(old), slug))
    if hit is not None and hit[0]() is old:
        _remember(new, slug, {**hit[1], **appended} if appended else hit[1])


def _remember(repo: LoadedRepository, slug: str, index: dict[str, int]) -> None:
    if len(_indexes) >= _LIMIT:
        _indexes.clear()
    _indexes[(id(repo), slug)] = (weakref.ref(repo), index)

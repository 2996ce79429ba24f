"""Stable schedule ids: uuid5 of ``project/name`` at creation, kept across renames."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

# Fixed forever: changing it would give every new schedule a different id than before.
NAMESPACE = uuid.UUID("f6a2aff6-2582-4446-9348-9cc81515dafa")


def candidate_ids(project: str, name: str) -> Iterator[str]:
    """The natural id first, then ``#1``, ``#2``, ... derivations.

    A renamed schedule keeps its old id, so a new schedule that takes the old name would
    collide with it; the derived ids stay deterministic and unique.
    """
    yield str(uuid.uuid5(NAMESPACE, f"{project}/{name}"))
    counter = 1
    while True:
        yield str(uuid.uuid5(NAMESPACE, f"{project}/{name}#{counter}"))
        counter += 1


def first_free_id(project: str, name: str, taken: Callable[[str], bool]) -> str:
    for candidate in candidate_ids(project, name):
        if not taken(candidate):
            return candidate
    raise AssertionError("unreachable: candidate_ids is endless")

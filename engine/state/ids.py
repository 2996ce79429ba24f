"""Stable schedule ids: uuid5 of ``project/name`` at creation, kept across renames."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator

# Fixed forever: changing it would give every new schedule a different id than before.
NAMESPACE = uuid.UUID("f6a2aff6-2582-4446-9348-9cc81515dafa")
_NAMESPACE_BYTES = NAMESPACE.bytes


def candidate_ids(project: str, name: str) -> Iterator[str]:
    """The natural id first, then ``#1``, ``#2``, ... derivations.

    A renamed schedule keeps its old id, so a new schedule that takes the old name would
    collide with it; the derived ids stay deterministic and unique.
    """
    yield uuid5_text(f"{project}/{name}")
    counter = 1
    while True:
        yield uuid5_text(f"{project}/{name}#{counter}")
        counter += 1


def uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, name))`` without the ``UUID`` object: the namespace
    hashed once, the version and variant set on the hex text (10k ids: ~12 -> ~8 ms)."""
    sha1 = _SEEDED.copy()
    sha1.update(name.encode())
    x = sha1.hexdigest()
    return f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"


_SEEDED = hashlib.sha1(_NAMESPACE_BYTES, usedforsecurity=False)
# The clock_seq_hi digit with the RFC 4122 variant bits (10xx) set.
_VARIANT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def first_free_id(project: str, name: str, taken: Callable[[str], bool]) -> str:
    for candidate in candidate_ids(project, name):
        if not taken(candidate):
            return candidate
    raise AssertionError("unreachable: candidate_ids is endless")

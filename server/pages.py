"""Encoded list pages, reused while nothing they show can have changed.

A page depends on the loaded repository, the state records it was built from (ids,
times) and the clock only through ``next_run_at``; the cache entry holds the first two
by identity and expires at the earliest next fire time on the page. A list request
that hits it costs routing and auth only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

_LIMIT = 1024

PageKey = tuple[Any, ...]


@dataclass
class PageCache:
    entries: dict[PageKey, tuple[tuple[Any, ...], datetime | None, bytes]] = field(
        default_factory=dict
    )

    def get(self, key: PageKey, token: tuple[Any, ...], now: datetime) -> bytes | None:
        hit = self.entries.get(key)
        if hit is None or len(hit[0]) != len(token):
            return None
        if any(a is not b for a, b in zip(hit[0], token, strict=True)):
            return None
        if hit[1] is not None and now >= hit[1]:
            return None
        return hit[2]

    def put(self, key: PageKey, token: tuple[Any, ...], expires: datetime | None,
            body: bytes) -> None:
        if len(self.entries) >= _LIMIT:
            self.entries.clear()
        self.entries[key] = (token, expires, body)

"""A bounded cache that keeps what is still in use.

Clearing a full cache at once drops the entries every apply needs (the pickled cron
triggers, their next fire times) together with the one-off ones that filled it (an
interval trigger is anchored at the moment of each write, so each batch makes new ones):
a long-lived process, or the second apply in one, then rebuilt them all. Here a hit moves
an entry to the back, and a full cache forgets its front (least recently used) half.
"""

from __future__ import annotations

from itertools import islice
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    __slots__ = ("_items", "limit")

    def __init__(self, limit: int) -> None:
        self._items: dict[K, V] = {}
        self.limit = limit

    def get(self, key: K) -> V | None:
        items = self._items
        value = items.pop(key, None)
        if value is not None:
            items[key] = value
        return value

    def put(self, key: K, value: V) -> None:
        items = self._items
        if key not in items and len(items) >= self.limit:
            for old in list(islice(items, len(items) // 2)):
                del items[old]
        items.pop(key, None)
        items[key] = value

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()

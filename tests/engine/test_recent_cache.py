"""The adapters' bounded caches keep what is still in use."""

from __future__ import annotations

from schedsync.engine.adapters.recent import Recent


def test_a_full_cache_forgets_its_least_recently_used_half() -> None:
    cache: Recent[str, int] = Recent(4)
    for i, key in enumerate("abcd"):
        cache.put(key, i)
    assert cache.get("a") == 0  # used again: to the back
    cache.put("e", 4)  # full: b and c, the least recently used, go
    assert [cache.get(k) for k in "bc"] == [None, None]
    assert [cache.get(k) for k in "ade"] == [0, 3, 4]
    assert len(cache) == 3


def test_putting_a_known_key_replaces_it_without_evicting() -> None:
    cache: Recent[str, int] = Recent(2)
    cache.put("a", 1)
    cache.put("b", 2)
    cache.put("a", 3)
    assert (cache.get("a"), cache.get("b"), len(cache)) == (3, 2, 2)
    cache.clear()
    assert cache.get("a") is None

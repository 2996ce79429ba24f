"""The server's shared state: two workspaces on the same repository.

``reader`` is used only on the event-loop thread (list, get, fires, auth: fast, no
thread hop); ``writer`` only on the single writer thread, which runs every write and
every call that reaches a live scheduler, one at a time. Each has its own state-store
connection, so neither is shared between threads. After a write the writer hands its
freshly loaded repository to the reader (an atomic reference swap).
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from schedsync.engine.workspace import Workspace
from schedsync.server.auth import AuthCache
from schedsync.server.pages import PageCache

if TYPE_CHECKING:
    from schedsync.engine.repository import LoadedRepository

T = TypeVar("T")
_CACHE_SECONDS = 2.0


@dataclass
class TimedCache:
    """Per-project values from the state store, stale-while-revalidate.

    The list endpoint needs ids and run times for a page; loading them for a whole
    10k-schedule project takes ~0.3 s. A cold project loads once; after that a value
    older than ``_CACHE_SECONDS`` is refreshed on the writer thread while requests go
    on with the previous one, so the event loop never waits for it.
    """

    values: dict[str, tuple[float, Any]] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)

    def get(self, project: str, load: Callable[[], T],
            refresh: Callable[[Callable[[], T]], Future[T]] | None = None,
            fresh_load: Callable[[], T] | None = None) -> T:
        now = time.monotonic()
        hit = self.values.get(project)
        if hit is None:
            value = load()
            self.values[project] = (now, value)
            return value
        if now - hit[0] >= _CACHE_SECONDS and project not in self.pending:
            if refresh is None or fresh_load is None:
                value = load()
                self.values[project] = (now, value)
                return value
            self.pending.add(project)
            refresh(fresh_load).add_done_callback(lambda f: self._refreshed(project, f))
        stale: T = hit[1]
        return stale

    def _refreshed(self, project: str, future: Future[Any]) -> None:
        self.pending.discard(project)
        if future.exception() is None:
            self.values[project] = (time.monotonic(), future.result())

    def expire(self) -> None:
        """Refresh every value on its next use (in the background)."""
        for project, (_, value) in list(self.values.items()):
            self.values[project] = (0.0, value)

    def clear(self) -> None:
        self.values.clear()


# Frozen objects that die inside reference cycles are never collected, nor is cyclic
# garbage that a repository load froze (``engine.repository._no_gc``); a full pass
# (unfreeze, collect, freeze: ~0.1 s with 10k schedules loaded) every so many writes
# frees them, and keeps a long-running server's memory flat.
FULL_COLLECT_EVERY = 200
# A write swaps a few objects into the repository (the edited schedule, new lists and
# dicts); collecting and freezing after each cost ~0.5 ms of a ~20 ms write. Left to the
# generational GC in between, they are frozen with the next pass, which still comes
# right after every reload (thousands of new objects).
REFREEZE_SMALL_EVERY = 8


def refreeze_everything(*, full: bool) -> None:
    """Collect garbage, then freeze what lives so the cyclic GC skips it from now on.

    Without the collection, the requests' cyclic garbage present at the moment of the
    freeze would be kept for good (the server's memory grew ~30 KB per request)."""
    if full:
        gc.unfreeze()
    gc.collect()
    gc.freeze()


@dataclass
class ApiContext:
    root: Path
    reader: Workspace
    writer: Workspace
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="schedsync-writer")
    )
    records: TimedCache = field(default_factory=TimedCache)
    auth: AuthCache = field(default_factory=AuthCache)
    pages: PageCache = field(default_factory=PageCache)
    # Bumped on every in-place change of a cached records dict (pages built on it expire).
    records_version: list[object] = field(default_factory=lambda: [object()])
    seen_head: str | None = None  # the commit the writer's repository was loaded at
    publishes: int = 0

    @classmethod
    def open(cls, root: Path) -> ApiContext:
        from schedsync.engine.gitrepo import GitRepo

        reader = Workspace.open(root, allow_invalid=True)
        writer = Workspace(reader.root, reader.repo, long_lived=True)
        git = GitRepo.open(reader.root)
        context = cls(reader.root, reader, writer)
        context.seen_head = git.head() if git is not None else None
        refreeze_everything(full=False)  # the repository lives on: keep the GC off it
        return context

    async def in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn`` on the writer thread, after every write queued before it."""
        future = self.executor.submit(fn, *args)
        return await asyncio.wrap_future(future)

    def publish(self, repo: LoadedRepository, *, records: bool = True,
                small: bool = False) -> None:
        """Writer thread: make a freshly loaded repository visible to readers.

        ``records=False``: the write's own state records are put in the cache by the
        handler (``catalog.fresh_record``), so the cached records of the project stay
        (reloading 10k of them on the writer thread would hold up the next write).
        ``small``: ``repo`` is the previous one with a few objects swapped in (a write),
        not a reload."""
        self.reader.repo = repo
        if records:
            self.records.expire()
        self.publishes += 1
        full = self.publishes % FULL_COLLECT_EVERY == 0
        if full or not small or self.publishes % REFREEZE_SMALL_EVERY == 0:
            refreeze_everything(full=full)

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        return self.executor.submit(fn)

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.writer.close()
        self.reader.close()

"""The protocol every scheduler store implements.

Adapters sit at the edge: they translate canonical specs (``schedsync.engine.spec``)
to and from their store, and declare what the store can hold (``Capabilities``), which
validation uses to reject what a store cannot honour and the planner uses to ignore
fields a store cannot keep.
"""

from __future__ import annotations

import enum
import gc
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, Protocol, runtime_checkable

from schedsync.engine.errors import FatalError, SchedulerUnavailable
from schedsync.engine.spec import SPEC_FIELDS, Spec

CronEngine = Literal["apscheduler", "celery"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    trigger_types: frozenset[str]
    cron_engine: CronEngine
    seconds_field: bool = False
    per_schedule_timezone: bool = True
    # The zone every schedule is evaluated in when per-schedule zones are impossible
    # (RedBeat and static beat schedules use the Celery app's ``timezone``).
    fixed_timezone: str | None = None
    writable: bool = True
    fields: frozenset[str] = frozenset(SPEC_FIELDS)


@dataclass(slots=True)
class LiveEntry:
    """An entry as it is in the store.

    ``problem`` is set when the entry cannot be represented as a spec (an unknown
    trigger class, a function that is not a task reference, ...): such entries are
    reported and never touched. Not frozen: a listing builds 10k and more, and a frozen
    dataclass's ``__init__`` costs ~3x (treat it as a value all the same).
    """

    key: str
    spec: Spec
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    total_run_count: int | None = None
    problem: str | None = None


class OpKind(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ENABLE = "enable"
    DISABLE = "disable"


class Expected(NamedTuple):
    """A desired spec as a plan expects it in the store."""

    spec: Spec
    canonical: bytes | None  # ``spec_bytes(spec)``; None: not worked out
    key: str  # the entry it is bound to (else its name)
    # The entry's digest recorded with a base that is this very spec (``OpResult``):
    # an entry whose digest is still this one holds the spec. None: none recorded.
    digest: str | None = None


# What a plan expects in a store, by schedule name; or a function that works it out.
Expectation = Mapping[str, Expected] | Callable[[], Mapping[str, Expected]]


@dataclass(slots=True)
class Operation:
    """One change for ``apply``. Not frozen, like ``LiveEntry`` (a value all the
    same): apply makes one per change and one ``OpResult`` per outcome; frozen, the
    two ``__init__`` calls cost ~0.9 us, plain ~0.35 us (10k changes: ~5 ms)."""

    kind: OpKind
    key: str
    spec: Spec | None  # the desired spec; None for delete


@dataclass(slots=True)
class OpResult:
    op: Operation
    ok: bool
    error: str | None = None
    # The store's digest of the entry as this change left it, where the store has
    # digests (the state records it with the base; see ``django_digest``).
    digest: str | None = None


@runtime_checkable
class SchedulerAdapter(Protocol):
    """One configured scheduler of one project."""

    capabilities: Capabilities

    def list_entries(
        self, expect: Expectation | None = None, *, digests: bool = False
    ) -> list[LiveEntry]:
        """Every entry in the store, including those schedsync does not manage.

        ``expect``: the specs the caller expects, by schedule name (or a function that
        works them out, which the store may call while it reads). A store may hand back
        the very expected spec for an entry that reads back exactly as it (equal
        canonical bytes, or a digest recorded with it), so that a plan tells an in-sync
        entry by identity; ignoring it is always right: it only ever shares a value
        equal to what would be built. ``digests``: whether the expected specs may carry
        recorded digests (a store that has them reads its own meanwhile)."""
        ...

    def create(self, key: str, spec: Spec) -> None: ...

    def update(self, key: str, spec: Spec) -> None:
        """Change an entry without losing its runtime state (next run, run counts)."""
        ...

    def delete(self, key: str) -> None: ...

    def set_enabled(self, key: str, enabled: bool) -> None: ...

    def apply(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        """Carry out ``ops`` (batched where the store allows), yielding each result
        once it is durable in the store, so a crash loses no record of success."""
        ...

    def trigger(self, key: str, spec: Spec) -> str:
        """Run the task once now; returns the task / run id."""
        ...

    def normalize(self, spec: Spec) -> Spec:
        """``spec`` as it would read back from this store, so that the planner compares
        like with like (e.g. APScheduler stores ``pkg.mod.func`` as ``pkg.mod:func``)."""
        ...

    def close(self) -> None: ...


class AdapterBase:
    """The single-entry writes in terms of the store's batched ``apply``, which every
    writable store implements; a failed change raises ``single_write_error``."""

    capabilities: Capabilities
    single_write_error: type[FatalError] = SchedulerUnavailable

    def create(self, key: str, spec: Spec) -> None:
        self._one(Operation(OpKind.CREATE, key, spec))

    def update(self, key: str, spec: Spec) -> None:
        self._one(Operation(OpKind.UPDATE, key, spec))

    def delete(self, key: str) -> None:
        self._one(Operation(OpKind.DELETE, key, None))

    def set_enabled(self, key: str, enabled: bool) -> None:
        self._one(Operation(OpKind.ENABLE if enabled else OpKind.DISABLE, key, None))

    def apply(self, ops: Sequence[Operation]) -> Iterator[OpResult]:
        raise NotImplementedError

    def _one(self, op: Operation) -> None:
        for result in self.apply([op]):
            if not result.ok:
                raise self.single_write_error(
                    result.error or f"{op.kind} of {op.key!r} failed"
                )

    def normalize(self, spec: Spec) -> Spec:
        return spec

    def close(self) -> None:
        return None


@contextmanager
def paused_gc(*, freeze: bool = False) -> Iterator[None]:
    """Reading or building thousands of small acyclic objects (job states, specs, rows)
    sets the cyclic collector off again and again, each time walking every live object:
    it costs as much as the work itself (PERFORMANCE.md). Reference counting still frees
    those objects; the few cycles made meanwhile wait for the next collection.

    ``freeze``: what was built stays out of the collector's view afterwards too (a plan
    lives until the command ends); otherwise the first collection after re-enabling
    walks it all once more (30-70 ms for a 10k plan)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        if freeze:
            gc.freeze()
        gc.enable()

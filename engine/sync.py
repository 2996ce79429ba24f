"""Plan and apply against the live schedulers: the I/O around the pure planner.

The CLI (``plan``, ``apply``, ``resync``) and the server (``:diff``, ``:resync``) call
these functions; neither duplicates their logic.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from schedsync import __version__
from schedsync.engine.adapters.base import (
    Expectation,
    Expected,
    LiveEntry,
    Operation,
    OpKind,
    paused_gc,
)
from schedsync.engine.errors import FatalError, SchedulerUnavailable, StalePlan
from schedsync.engine.plan import (
    Action,
    Change,
    Direction,
    Plan,
    SchedulerPlan,
    compare_fields,
    plan_scheduler,
)
from schedsync.engine.spec import Spec, spec_bytes, spec_hash

if TYPE_CHECKING:
    from schedsync.engine.adapters.base import SchedulerAdapter
    from schedsync.engine.repository import RepoSchedule
    from schedsync.engine.state.fresh import PlannedIds
    from schedsync.engine.state.records import Binding
    from schedsync.engine.workspace import Workspace

PLAN_FORMAT_VERSION = 1
_FIRST_BATCH = 1000
_MAX_BATCH = 5000
Progress = Callable[[int, int], None]


def make_plan(
    ws: Workspace,
    *,
    project: str | None = None,
    scheduler: str | None = None,
    prune: bool = False,
    direction: Direction = Direction.REPO_TO_SCHEDULER,
) -> Plan:
    """Repository vs live for every (or the selected) project and scheduler."""
    with paused_gc(freeze=not ws.long_lived):
        groups = [
            plan_group(ws, p, s, prune=prune, direction=direction)
            for p in ws.projects(project)
            for s in ws.schedulers(p, scheduler)
        ]
    return Plan(tuple(groups), prune=prune, provenance=provenance(ws))


def plan_group(
    ws: Workspace,
    project: str,
    scheduler: str,
    *,
    prune: bool,
    direction: Direction,
    only: set[str] | None = None,
) -> SchedulerPlan:
    """Plan one scheduler; ``only`` narrows it to those schedule names (and the live
    entries bound to them), so a single-schedule write does not plan the whole store."""
    adapter = ws.adapter(project, scheduler)
    schedules = [rs for rs in ws.repo.project(project) if rs.schedule.scheduler == scheduler]
    renames = {
        rs.schedule.name: rs.schedule.renamed_from
        for rs in schedules
        if rs.schedule.renamed_from
    }
    names = None if only is None else only | {renames[n] for n in only if n in renames}
    if names is not None:
        schedules = [rs for rs in schedules if rs.schedule.name in names]
    # The bases and what the store should hold: worked out when the store asks (while
    # it reads its entries' digests, if digests were recorded), else after it read.
    expectation = _Expectation(ws, adapter, project, scheduler, schedules, names)
    live = list_live(adapter, project, scheduler, expectation.expected,
                     digests=ws.state.may_have_live_digests(scheduler))
    bindings, desired, expected = expectation.found()
    if names is not None:
        keys = names | {b.entry_key for b in bindings.values()}
        live = [entry for entry in live if entry.key in keys]
    return plan_scheduler(
        project=project,
        scheduler=scheduler,
        desired=desired,
        expected=expected,
        live=live,
        base=bindings,  # as read: each compares its base text with the desired bytes
        capabilities=adapter.capabilities,
        direction=direction,
        prune=prune,
        renamed_from=renames,
    )


class _Expectation:
    """A plan's bases and desired specs, worked out once, when first asked for."""

    def __init__(
        self,
        ws: Workspace,
        adapter: SchedulerAdapter,
        project: str,
        scheduler: str,
        schedules: list[RepoSchedule],
        names: set[str] | None,
    ) -> None:
        self.ws, self.adapter, self.project, self.scheduler = ws, adapter, project, scheduler
        self.schedules, self.names = schedules, names
        self._found: tuple[dict[str, Binding], list[Spec], dict[str, Expected]] | None = None

    def expected(self) -> dict[str, Expected]:
        return self.found()[2]

    def found(self) -> tuple[dict[str, Binding], list[Spec], dict[str, Expected]]:
        if self._found is None:
            bindings = self.ws.state.bindings(self.project, self.scheduler)
            if self.names is not None:
                bindings = {n: b for n, b in bindings.items() if n in self.names}
            self._found = (bindings, *_desired(self.adapter, self.schedules, bindings))
        return self._found


def _desired(
    adapter: SchedulerAdapter, schedules: list[RepoSchedule], bindings: Mapping[str, Binding]
) -> tuple[list[Spec], dict[str, Expected]]:
    """The schedules as the store would read them back, and each as the store should
    hold it, by name: the planner compares its bytes with the bases, and the store can
    hand back an in-sync entry's spec as the desired one itself, knowing it by the
    digest recorded with a base that is the desired spec.

    The bytes come from the file cache's text while ``normalize`` leaves a spec as it
    is (the usual case): serialising 10k specs scattered in memory costs ~40 ms. An
    unbound spec without such text gets none (a create never needs it)."""
    desired: list[Spec] = []
    expected: dict[str, Expected] = {}
    normalize = adapter.normalize
    for rs in schedules:
        spec = normalize(rs.spec)
        desired.append(spec)
        name = rs.schedule.name
        binding = bindings.get(name)
        cached = spec is rs.spec and rs.canonical is not None
        if binding is None:  # the bytes only if cheap: a new schedule may need none
            expected[name] = Expected(spec, rs.spec_bytes() if cached else None, name)
        else:
            text = rs.spec_bytes() if cached else spec_bytes(spec)
            digest = binding.live_digest
            expected[name] = Expected(spec, text, binding.entry_key,
                                      digest if digest and binding.holds(text) else None)
    return desired, expected


def list_live(
    adapter: SchedulerAdapter,
    project: str,
    scheduler: str,
    expect: Expectation | None = None,
    *,
    digests: bool = False,
) -> list[LiveEntry]:
    try:
        return adapter.list_entries(expect, digests=digests)
    except FatalError:
        raise
    except Exception as exc:
        raise SchedulerUnavailable(
            f"cannot read scheduler {scheduler!r} of project {project!r}: "
            f"{type(exc).__name__}: {exc}. Check that the store is running and its url in "
            "schedsync.yaml is right."
        ) from exc


def provenance(ws: Workspace) -> dict[str, Any]:
    from schedsync.engine.gitrepo import GitRepo

    git = GitRepo.open(ws.root)
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "tool_version": __version__,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "repo_commit": git.head() if git else None,
        "state_lineage": ws.state.lineage,
        "state_serial": ws.state.serial(),
    }


@dataclass
class ApplyResult:
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    recorded: int = 0  # in-sync entries whose base the state file lacked

    @property
    def ok(self) -> bool:
        return not self.failed

    def add(self, outcomes: Sequence[Outcome]) -> None:
        for change, outcome in outcomes:
            if outcome is None:
                self.applied.append(change)
            elif outcome == _RECORDED:
                self.recorded += 1
            else:
                self.failed.append((change, outcome))


def apply_plan(
    ws: Workspace,
    plan: Plan,
    *,
    saved: bool = False,
    progress: Progress | None = None,
    lock_timeout: float = 0.0,
) -> ApplyResult:
    """Make the live schedulers match ``plan``; every change is recorded as it lands.

    A saved plan is checked before any change: it must come from this state file
    (lineage) at its current serial, and the live entries it would touch must still
    be as the plan saw them.
    """
    holder = f"apply {socket.gethostname()}:{os.getpid()}"
    with ws.state.lock(holder, timeout=lock_timeout), paused_gc():
        if saved:
            check_fresh(ws, plan)
        ws.state.bump_serial()
        result = ApplyResult()
        total = sum(len(group.pending) for group in plan.groups)
        done = 0
        for group in plan.groups:
            for outcomes in _apply_group(ws, group):
                result.add(outcomes)
                done += len(outcomes)
                if progress is not None:
                    progress(done, total)
            _adopt_digests(ws, group)
        return result


def adopt_live_digests(ws: Workspace, plan: Plan) -> None:
    """What ``apply_plan`` does after its changes, for a plan with none to make: it
    changes no base (no serial bump, no apply lock), it only vouches for entries."""
    for group in plan.groups:
        _adopt_digests(ws, group)


def _adopt_digests(ws: Workspace, group: SchedulerPlan) -> None:
    """Live digests for the plan's in-sync entries whose binding has none (a base from
    before the state kept digests, or from an import or a bare record): the store reads
    each whole, with its digest, and vouches only for one that still holds the base.
    Plans then need not read them whole. Only an optimisation, after the apply's own
    work is recorded: a store that cannot (no ``digests_of``, SQLite) or fails here, or
    a state that fails here, leaves them to be read whole and fails no apply."""
    in_sync = [c for c in group.changes if c.action is Action.NOOP and c.live is not None]
    adapter = ws.adapter(group.project, group.scheduler) if in_sync else None
    read = getattr(adapter, "digests_of", None)
    if read is None:
        return
    try:
        wanted = _undigested(ws.state.bindings(group.project, group.scheduler), in_sync)
        if not wanted:
            return
        found = read({key: text for key, (_, text) in wanted.items()})
        ws.state.set_live_digests(group.project, group.scheduler, {
            wanted[key][0]: (digest, wanted[key][1].decode()) for key, digest in found.items()})
    except FatalError:
        return  # the apply itself is done: these entries stay read whole


def _undigested(
    bindings: Mapping[str, Binding], in_sync: Sequence[Change]
) -> dict[str, tuple[str, bytes]]:
    """Entry key -> (name, canonical bytes) of the in-sync entries whose binding has no
    digest and whose base is the desired spec."""
    wanted: dict[str, tuple[str, bytes]] = {}
    for change in in_sync:
        binding = bindings.get(change.name)
        if binding is None or binding.live_digest is not None or change.desired is None:
            continue
        text = spec_bytes(change.desired)
        if binding.entry_key == change.entry_key and binding.holds(text):
            wanted[change.entry_key] = (change.name, text)
    return wanted


_RECORDED = "\0recorded"
# (change, None) applied, (change, _RECORDED) base recorded, (change, error) failed.
Outcome = tuple[Change, str | None]


def _batches(changes: Sequence[Change]) -> Iterator[tuple[int, Sequence[Change]]]:
    """Slices that double from ``_FIRST_BATCH`` up to ``_MAX_BATCH``: a small apply
    records its first results quickly, a large one pays few transactions (each costs
    a commit in the store and one in the state file)."""
    start, size = 0, _FIRST_BATCH
    while start < len(changes):
        yield start, changes[start : start + size]
        start += size
        size = min(size * 2, _MAX_BATCH)


def _apply_group(ws: Workspace, group: SchedulerPlan) -> Iterator[list[Outcome]]:
    """Yields the outcomes of each batch once the store has them and the state file
    has recorded the successes: what a crash interrupts is re-planned, never lost."""
    state = ws.state
    pending = group.pending
    for change in pending:
        if change.renamed_from:
            state.rename_schedule(group.project, change.renamed_from, change.name)
    # A large apply reads or derives the schedule ids once, so recording a batch is
    # plain INSERTs for schedules new to the state (most of a large apply) and one
    # upsert for the others; a small one (a server write) looks them up as it records.
    ids = state.plan_schedule_ids(
        group.project, [c.name for c in pending if c.desired is not None]
    ) if len(pending) > _FIRST_BATCH else None
    changes: list[Change] = []
    in_sync: list[Change] = []
    for change in pending:  # one pass: ``is_change`` is a property
        (changes if change.is_change else in_sync).append(change)
    if in_sync:
        _record(ws, group, in_sync, ids)
        yield [(c, _RECORDED) for c in in_sync]
    if not changes:
        return
    if group.direction is not Direction.REPO_TO_SCHEDULER:
        raise FatalError("a scheduler_to_repo plan changes the repository: use resync")
    adapter = ws.adapter(group.project, group.scheduler)
    for start, batch in _batches(changes):
        outcomes, error, digests = _apply_batch(adapter, batch)
        _record(ws, group, [c for c, outcome in outcomes if outcome is None], ids, digests)
        if error is not None:
            # The store went away half-way: report this batch's rest and every later one.
            done = {c.entry_key for c, _ in outcomes}
            outcomes += [(c, error) for c in changes[start:] if c.entry_key not in done]
            yield outcomes
            return
        yield outcomes


def _apply_batch(
    adapter: SchedulerAdapter, batch: Sequence[Change]
) -> tuple[list[Outcome], str | None, dict[str, str]]:
    """The outcomes the adapter reported, the error that stopped it, if one did, and
    the digests of the entries it wrote, by entry key."""
    by_key = {c.entry_key: c for c in batch}
    outcomes: list[Outcome] = []
    digests: dict[str, str] = {}
    try:
        for result in adapter.apply([_operation(c) for c in batch]):
            outcomes.append((by_key[result.op.key],
                             None if result.ok else (result.error or "failed")))
            if result.ok and result.digest is not None:
                digests[result.op.key] = result.digest
    except Exception as exc:  # noqa: BLE001 - the store went away: report the rest
        return outcomes, f"{type(exc).__name__}: {exc}", digests
    return outcomes, None, digests


def _record(
    ws: Workspace,
    group: SchedulerPlan,
    changes: Sequence[Change],
    ids: PlannedIds | None,
    digests: Mapping[str, str] | None = None,
) -> None:
    """The changes' desired specs become their bases; ``digests`` (by entry key) are the
    entries' digests as the writes left them, recorded with those bases."""
    if not changes:
        return
    items = [
        (c.name, c.entry_key, None if c.action is Action.DELETE else c.desired)
        for c in changes
    ]
    by_name = {c.name: digests[c.entry_key] for c in changes
               if digests and c.entry_key in digests}
    ws.state.record_applied_many(group.project, group.scheduler, items, planned=ids,
                                 digests=by_name)


_OP_KINDS = {
    Action.CREATE: OpKind.CREATE,
    Action.UPDATE: OpKind.UPDATE,
    Action.DELETE: OpKind.DELETE,
    Action.ENABLE: OpKind.ENABLE,
    Action.DISABLE: OpKind.DISABLE,
}


def _operation(change: Change) -> Operation:
    kind = _OP_KINDS[change.action]
    return Operation(kind, change.entry_key, None if kind is OpKind.DELETE else change.desired)


def check_fresh(ws: Workspace, plan: Plan) -> None:
    """Refuse a foreign or stale saved plan before anything changes."""
    prov = plan.provenance
    if prov.get("format_version") != PLAN_FORMAT_VERSION:
        raise StalePlan(
            f"the plan file has format version {prov.get('format_version')!r}; this schedsync "
            f"reads version {PLAN_FORMAT_VERSION}. Run `schedsync plan --out FILE` again."
        )
    if prov.get("state_lineage") != ws.state.lineage:
        raise StalePlan(
            "the plan was made against a different state file (lineage "
            f"{prov.get('state_lineage')}, this one is {ws.state.lineage}); nothing was "
            "changed. Run `schedsync plan --out FILE` here."
        )
    if prov.get("state_serial") != ws.state.serial():
        raise StalePlan(
            f"the plan is stale: the state changed since it was made (serial "
            f"{prov.get('state_serial')} -> {ws.state.serial()}); nothing was changed. "
            "Run `schedsync plan --out FILE` again and review it."
        )
    for group in plan.groups:
        _check_live_unchanged(ws, group)


def _check_live_unchanged(ws: Workspace, group: SchedulerPlan) -> None:
    adapter = ws.adapter(group.project, group.scheduler)
    fields = compare_fields(adapter.capabilities)
    live = {e.key: e for e in list_live(adapter, group.project, group.scheduler)}
    for change in group.pending:
        now = live.get(change.entry_key)
        seen = change.live
        moved = (now is None) != (seen is None) or (
            now is not None and seen is not None
            and spec_hash(now.spec, fields) != spec_hash(seen, fields)
        )
        if moved:
            raise StalePlan(
                f"the plan is stale: {change.project}/{change.name} on {change.scheduler} "
                "changed in the scheduler since the plan was made; nothing was changed. "
                "Run `schedsync plan --out FILE` again."
            )


def apply_schedules(
    ws: Workspace, project: str, scheduler: str, names: set[str]
) -> ApplyResult:
    """Apply just ``names`` of one scheduler (the server's single-schedule writes).

    A name no longer in the repository deletes its live entry, if schedsync manages it.
    """
    group = plan_group(ws, project, scheduler, prune=True,
                       direction=Direction.REPO_TO_SCHEDULER, only=names)
    picked = tuple(c for c in group.changes if c.is_change or c.record_base)
    only = SchedulerPlan(project, scheduler, group.direction, picked)
    return apply_plan(ws, Plan((only,), prune=True), lock_timeout=30.0)

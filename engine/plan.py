"""The planner: repository x live snapshot x base -> Plan. Pure: no I/O.

Three sides per schedule: ``desired`` (the repository), ``live`` (the scheduler store)
and ``base`` (what schedsync last applied, from the state file). Comparing canonical
bytes first keeps a 10k-entry plan fast; the field-level description (deepdiff) is
computed only for entries whose bytes differ.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from schedsync.engine.adapters.base import Capabilities, Expected, LiveEntry
from schedsync.engine.spec import SPEC_FIELDS, Spec, comparable, spec_bytes, spec_key


class Action(enum.StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    ENABLE = "enable"
    DISABLE = "disable"
    NOOP = "no-op"


class Origin(enum.StrEnum):
    REPO = "repo"
    LIVE = "live"
    BOTH = "both"


class Direction(enum.StrEnum):
    REPO_TO_SCHEDULER = "repo_to_scheduler"
    SCHEDULER_TO_REPO = "scheduler_to_repo"


@dataclass(frozen=True, slots=True)
class FieldChange:
    path: str  # e.g. "trigger.hour"
    repo: Any
    live: Any
    base: Any


class Base(Protocol):
    """What the planner reads of a base: ``BaseRecord``, or the state's ``Binding`` as
    read (a plan takes 10k of them as they are)."""

    @property
    def name(self) -> str: ...
    @property
    def entry_key(self) -> str: ...
    @property
    def managed(self) -> bool: ...
    @property
    def spec(self) -> Spec | None: ...
    def holds(self, canonical: bytes) -> bool: ...


class BaseRecord:
    """What the state file knows of one schedule on one scheduler.

    The base ``spec`` comes decoded, or as the canonical JSON text the state file keeps
    it in (``coltypes.dump_json``, the bytes of ``spec_bytes``). Text is decoded when
    first read: the planner compares it with the desired spec's bytes instead, and
    after an apply they are equal (decoding 10k bases cost ~40 ms of a ~0.4 s plan).
    """

    __slots__ = ("_spec", "_text", "entry_key", "managed", "name")

    def __init__(self, name: str, entry_key: str, spec: Spec | str | None, managed: bool
                 ) -> None:
        self.name, self.entry_key, self.managed = name, entry_key, managed
        self._spec: Spec | None = None if isinstance(spec, str) else spec
        self._text: str | None = spec if isinstance(spec, str) else None

    @property
    def spec(self) -> Spec | None:
        if self._spec is None and self._text is not None:
            self._spec = orjson.loads(self._text)
        return self._spec

    def holds(self, canonical: bytes) -> bool:
        """Whether the base is the spec whose ``spec_bytes`` are ``canonical``."""
        if self._text is not None:
            return self._text.encode() == canonical
        return self._spec is not None and spec_bytes(self._spec) == canonical

    def __repr__(self) -> str:
        return (f"BaseRecord({self.name!r}, {self.entry_key!r}, {self.spec!r}, "
                f"managed={self.managed!r})")


@dataclass(slots=True)
class Change:
    """One schedule's row of a plan. ``reason`` is for display only; apply never reads it.

    ``fields`` describes updates; a create or delete concerns the whole entry, which
    ``desired`` / ``live`` hold. A value like the plan holding it, though not a frozen
    dataclass: a 10k plan builds 10k of them, and a frozen one's ``__init__`` costs
    ~3x (14 ms of a ~70 ms planner run).
    """

    project: str
    scheduler: str
    name: str
    action: Action
    origin: Origin
    entry_key: str
    desired: Spec | None
    live: Spec | None
    base: Spec | None
    fields: tuple[FieldChange, ...] = ()
    renamed_from: str | None = None
    managed: bool = True
    # True when the store already matches but the state file lacks the base (after a
    # crash between the store's commit and the state record): apply records it.
    record_base: bool = False
    reason: str = ""

    @property
    def is_change(self) -> bool:
        return self.action is not Action.NOOP

    @property
    def is_cleanup(self) -> bool:
        """A state record whose schedule is gone from the repository and the scheduler:
        apply drops it; it is no change to any schedule."""
        return self.record_base and self.desired is None and self.live is None


@dataclass(frozen=True, slots=True)
class Skipped:
    """A live entry the plan leaves alone, and why (unmanaged, unreadable, no prune)."""

    project: str
    scheduler: str
    entry_key: str
    name: str
    reason: str


@dataclass(frozen=True)
class SchedulerPlan:
    project: str
    scheduler: str
    direction: Direction
    changes: tuple[Change, ...]
    skipped: tuple[Skipped, ...] = ()

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.is_change or c.record_base]


@dataclass(frozen=True)
class Plan:
    """A frozen value: can be saved, rendered and applied later (``engine.planfile``)."""

    groups: tuple[SchedulerPlan, ...]
    prune: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict)

    @property
    def changes(self) -> list[Change]:
        return [c for g in self.groups for c in g.changes]

    @property
    def has_changes(self) -> bool:
        return any(c.is_change for c in self.changes)

    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            if not change.is_cleanup:
                counts[change.action.value] += 1
        return counts


def compare_fields(capabilities: Capabilities) -> tuple[str, ...]:
    """Spec fields a store keeps; a field it cannot hold is never a difference."""
    fields = [f for f in SPEC_FIELDS if f in capabilities.fields]
    if not capabilities.per_schedule_timezone and "timezone" in fields:
        fields.remove("timezone")
    return tuple(fields)


def plan_scheduler(
    *,
    project: str,
    scheduler: str,
    desired: Sequence[Spec],
    live: Sequence[LiveEntry],
    base: Mapping[str, Base],
    capabilities: Capabilities,
    direction: Direction = Direction.REPO_TO_SCHEDULER,
    prune: bool = False,
    renamed_from: Mapping[str, str] | None = None,
    expected: Mapping[str, Expected] | None = None,
) -> SchedulerPlan:
    """Plan one scheduler of one project.

    ``desired`` are the repository's specs for this scheduler, ``base`` the state file's
    records by schedule name, ``renamed_from`` maps a new name to its previous name,
    ``expected`` the desired specs with their ``spec_bytes`` by name, where the caller
    has them (``list_entries`` may then have handed back a desired spec as the live one).
    """
    fields = compare_fields(capabilities)
    renames = dict(renamed_from or {})
    live_by_key = {entry.key: entry for entry in live}
    key_owner = {record.entry_key: name for name, record in base.items()}
    changes: list[Change] = []
    claimed: set[str] = set()
    # A store that keeps every field reads back the very spec: equal whole canonical
    # bytes of desired and live stand for their two keys.
    whole = len(fields) == len(SPEC_FIELDS)
    known = (expected or {}).get
    for spec in sorted(desired, key=_by_name):
        name = str(spec["name"])
        record, previous = base.get(name), None  # the usual case, no call per schedule
        if record is None:
            record, previous = _base_for(name, renames, base)
        key = record.entry_key if record else _free_key(name, key_owner, live_by_key)
        claimed.add(key)
        entry = live_by_key.get(key)
        if entry is None or previous is not None:
            changes.append(_classify(project, scheduler, name, key, spec, entry, record,
                                     fields, direction, previous))
            continue
        if entry.problem:
            changes.append(_unreadable(project, scheduler, name, spec, entry, record))
            continue
        # The usual row (bound, live and in sync) inline, no call per schedule: 10k
        # entries ~8 ms. What ``_classify`` decides for it, step for step.
        found = known(name)
        desired_bytes = (
            found.canonical if found is not None and found.spec is spec else None
        ) or _dumps(spec, option=_SORTED)
        live_spec = entry.spec
        if record is not None and record.holds(desired_bytes) and (
            live_spec is spec  # the store saw the row hold it (list_entries' expect)
            or (whole and desired_bytes == _dumps(live_spec, option=_SORTED))
            or spec_key(spec, fields) == spec_key(live_spec, fields)
        ):
            changes.append(Change(project, scheduler, name, _NOOP, _FROM_REPO, key, spec,
                                  live_spec, spec, managed=record.managed))
            continue
        changes.append(_classify(project, scheduler, name, key, spec, entry, record, fields,
                                 direction, previous, desired_bytes))
    orphans, skipped = _orphans(
        project, scheduler, live, base, claimed, fields, direction, prune
    )
    changes.extend(orphans)
    if direction is Direction.REPO_TO_SCHEDULER:
        changes.extend(_stale_records(project, scheduler, base, claimed, live_by_key))
    return SchedulerPlan(project, scheduler, direction, tuple(changes), tuple(skipped))


_by_name = operator.itemgetter("name")  # names are str (the schema says so)
_dumps, _SORTED = orjson.dumps, orjson.OPT_SORT_KEYS  # = spec_bytes, without its call
_NOOP, _FROM_REPO = Action.NOOP, Origin.REPO


def _base_for(
    name: str, renames: Mapping[str, str], base: Mapping[str, Base]
) -> tuple[Base | None, str | None]:
    if name in base:
        return base[name], None
    previous = renames.get(name)
    if previous is not None and previous in base:
        return base[previous], previous
    return None, None


def _free_key(name: str, key_owner: Mapping[str, str], live: Mapping[str, LiveEntry]) -> str:
    # The entry key is the schedule name unless another schedule's entry holds it
    # (e.g. a schedule renamed away kept its old key): then a suffixed key.
    key, n = name, 1
    while key in key_owner and key_owner[key] != name:
        n += 1
        key = f"{name}~{n}"
    return key


def _unreadable(
    project: str,
    scheduler: str,
    name: str,
    spec: Spec,
    entry: LiveEntry,
    record: Base | None,
) -> Change:
    return Change(
        project, scheduler, name, Action.NOOP, Origin.LIVE, entry.key,
        desired=spec, live=None, base=record.spec if record else None,
        reason=f"left alone: the live entry cannot be read ({entry.problem})",
    )


def _classify(
    project: str,
    scheduler: str,
    name: str,
    key: str,
    spec: Spec,
    entry: LiveEntry | None,
    record: Base | None,
    fields: tuple[str, ...],
    direction: Direction,
    previous: str | None,
    desired_bytes: bytes | None = None,
) -> Change:
    managed = record.managed if record else entry is None
    if entry is None:
        origin = Origin.LIVE if record is not None else Origin.REPO
        action = Action.CREATE if direction is Direction.REPO_TO_SCHEDULER else Action.DELETE
        reason = "deleted in the scheduler" if record is not None else "new in the repository"
        return Change(
            project, scheduler, name, action, origin, key, spec, None,
            record.spec if record else None,
            renamed_from=previous, managed=True, reason=reason,
        )
    if desired_bytes is None:
        desired_bytes = spec_bytes(spec)
    # After an apply the base is the desired spec itself: equal canonical bytes say so
    # without decoding it (and equal bytes are an equal value: ``spec`` stands for it).
    base_is_desired = record is not None and record.holds(desired_bytes)
    base_spec = spec if base_is_desired else record.spec if record else None
    # A store that keeps every field reads back the very spec: equal whole bytes then
    # spare the two keys (10k entries: ~8 ms).
    same = (
        entry.spec is spec  # the store saw the entry hold it (list_entries' expect)
        or (len(fields) == len(SPEC_FIELDS) and desired_bytes == spec_bytes(entry.spec))
        or spec_key(spec, fields) == spec_key(entry.spec, fields)
    )
    if same and previous is None:
        stale_base = not base_is_desired and (
            base_spec is None or spec_key(base_spec, fields) != spec_key(spec, fields)
        )
        return Change(
            project, scheduler, name, Action.NOOP, Origin.REPO, key, spec, entry.spec,
            base_spec, managed=managed, record_base=stale_base,
        )
    desired_key, live_key = spec_key(spec, fields), spec_key(entry.spec, fields)
    origin = _origin(desired_key, live_key, base_spec, fields)
    action = _update_action(spec, entry.spec, fields, direction)
    described = field_changes(spec, entry.spec, base_spec, fields)
    if previous is not None:
        # A rename rewrites the entry so the scheduler shows (and reports fires under)
        # the new name; its key, run state and history stay.
        action = Action.UPDATE
        described = (FieldChange("name", name, previous, previous), *described)
    return Change(
        project, scheduler, name, action, origin, key, spec, entry.spec, base_spec,
        fields=described,
        renamed_from=previous, managed=managed or record is not None,
        reason=f"renamed from {previous}" if previous else "",
    )


def _origin(
    desired_key: bytes, live_key: bytes, base_spec: Spec | None, fields: tuple[str, ...]
) -> Origin:
    if base_spec is None:
        return Origin.BOTH
    base_key = spec_key(base_spec, fields)
    repo_moved, live_moved = desired_key != base_key, live_key != base_key
    if repo_moved and live_moved:
        return Origin.BOTH
    return Origin.LIVE if live_moved else Origin.REPO


def _update_action(
    desired: Spec, live: Spec, fields: tuple[str, ...], direction: Direction
) -> Action:
    """ENABLE / DISABLE when ``enabled`` is the only difference, else UPDATE."""
    others = tuple(f for f in fields if f != "enabled")
    if spec_key(desired, others) != spec_key(live, others):
        return Action.UPDATE
    target = desired if direction is Direction.REPO_TO_SCHEDULER else live
    return Action.ENABLE if target.get("enabled") else Action.DISABLE


def _orphans(
    project: str,
    scheduler: str,
    live: Iterable[LiveEntry],
    base: Mapping[str, Base],
    claimed: set[str],
    fields: tuple[str, ...],
    direction: Direction,
    prune: bool,
) -> tuple[list[Change], list[Skipped]]:
    """Live entries no repository schedule claims."""
    changes: list[Change] = []
    skipped: list[Skipped] = []
    unclaimed = [entry for entry in live if entry.key not in claimed]
    if not unclaimed:
        return changes, skipped
    managed_keys = {r.entry_key: r for r in base.values() if r.managed}
    for entry in sorted(unclaimed, key=lambda e: e.key):
        name = str(entry.spec.get("name") or entry.key)
        record = managed_keys.get(entry.key)
        if entry.problem:
            skipped.append(Skipped(project, scheduler, entry.key, name, entry.problem))
            continue
        if direction is Direction.SCHEDULER_TO_REPO:
            changes.append(Change(
                project, scheduler, name, Action.CREATE, Origin.LIVE, entry.key,
                desired=None, live=entry.spec, base=record.spec if record else None,
                managed=record is not None, reason="only in the scheduler",
            ))
            continue
        if record is None:
            skipped.append(Skipped(project, scheduler, entry.key, name,
                                   "not managed by schedsync (created elsewhere)"))
        elif not prune:
            skipped.append(Skipped(project, scheduler, entry.key, name,
                                   "removed from the repository; apply with --prune to delete"))
        else:
            changes.append(Change(
                project, scheduler, name, Action.DELETE, Origin.REPO, entry.key,
                desired=None, live=entry.spec, base=record.spec,
                reason="removed from the repository",
            ))
    return changes, skipped


def _stale_records(
    project: str,
    scheduler: str,
    base: Mapping[str, Base],
    claimed: set[str],
    live: Mapping[str, LiveEntry],
) -> list[Change]:
    """Base records whose schedule is in neither the repository nor the scheduler.

    A ``--prune`` apply killed after its live deletes and before recording them leaves
    such records; nothing else would ever drop them (no live entry to delete, no
    schedule to create), so apply records their absence.
    """
    return [
        Change(
            project, scheduler, name, Action.NOOP, Origin.REPO, record.entry_key,
            desired=None, live=None, base=record.spec, managed=record.managed,
            record_base=True, reason="state cleanup: already gone from the scheduler",
        )
        for name, record in sorted(
            (name, record) for name, record in base.items()
            if record.entry_key not in claimed and record.entry_key not in live
        )
    ]


def field_changes(
    desired: Spec | None, live: Spec | None, base: Spec | None, fields: tuple[str, ...]
) -> tuple[FieldChange, ...]:
    """Field-level differences between repository and live, with the base alongside."""
    from deepdiff import DeepDiff  # imported here: it costs ~0.25 s and only diffs need it

    left = comparable(desired, fields) if desired is not None else {}
    right = comparable(live, fields) if live is not None else {}
    diff = DeepDiff(left, right, view="tree", verbose_level=2)
    paths: set[tuple[str | int, ...]] = set()
    for level in (item for items in diff.values() for item in items):
        paths.add(tuple(level.path(output_format="list")))
    return tuple(
        FieldChange(
            _dotted(path), _dig(desired, path), _dig(live, path), _dig(base, path)
        )
        for path in sorted(paths, key=lambda p: [str(x) for x in p])
    )


def _dig(spec: Spec | None, path: tuple[str | int, ...]) -> Any:
    """The value at ``path``, or None where the side has none."""
    value: Any = spec
    for part in path:
        present = (isinstance(value, dict) and part in value) or (
            isinstance(value, list) and isinstance(part, int) and part < len(value)
        )
        if not present:
            return None
        value = value[part]
    return value


def _dotted(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out

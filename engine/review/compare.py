"""Matching the schedules of two sides: added, removed, renamed and changed ones."""

from __future__ import annotations

from collections.abc import Mapping

from schedsync.engine.review.entries import EntryKey
from schedsync.engine.review.model import Change, Entry, FieldChange, Kind
from schedsync.engine.spec import SPEC_FIELDS


def field_changes(before: Entry, after: Entry) -> tuple[FieldChange, ...]:
    """Field-level differences; a trigger of the same type is compared field by field."""
    out: list[FieldChange] = []
    if before.scheduler != after.scheduler:
        out.append(FieldChange("scheduler", before.scheduler, after.scheduler))
    old, new = before.spec, after.spec
    for name in SPEC_FIELDS:
        if old.get(name) == new.get(name):
            continue
        if name == "trigger" and old.get("trigger_type") == new.get("trigger_type"):
            out.extend(_trigger_changes(old.get("trigger") or {}, new.get("trigger") or {}))
        else:
            out.append(FieldChange(name, old.get(name), new.get(name)))
    return tuple(out)


def _trigger_changes(old: Mapping[str, object], new: Mapping[str, object]) -> list[FieldChange]:
    keys = list(old) + [k for k in new if k not in old]
    return [
        FieldChange(f"trigger.{k}", old.get(k), new.get(k))
        for k in keys
        if old.get(k) != new.get(k)
    ]


def _renames(
    base: Mapping[EntryKey, Entry], head: Mapping[EntryKey, Entry]
) -> dict[EntryKey, EntryKey]:
    """head key -> base key for schedules renamed with ``renamed_from``.

    A ``renamed_from`` left in place after the rename landed (both names gone or the new
    name already in the base) is not a rename any more.
    """
    out: dict[EntryKey, EntryKey] = {}
    for key, entry in head.items():
        if entry.renamed_from is None or key in base:
            continue
        old = (entry.project, entry.renamed_from)
        if old in base and old not in head and old not in out.values():
            out[key] = old
    return out


def compare(base: Mapping[EntryKey, Entry], head: Mapping[EntryKey, Entry]) -> list[Change]:
    """Every schedule that differs between the sides, sorted by project and name."""
    renames = _renames(base, head)
    renamed_away = set(renames.values())
    changes: list[Change] = []
    for key, after in head.items():
        old_key = renames.get(key, key)
        before = base.get(old_key)
        if before is None:
            changes.append(Change(Kind.ADDED, after.project, after.name, None, after))
            continue
        fields = field_changes(before, after)
        if key in renames:
            changes.append(Change(Kind.RENAMED, after.project, after.name, before, after, fields))
        elif fields:
            changes.append(Change(Kind.CHANGED, after.project, after.name, before, after, fields))
    for key, before in base.items():
        if key not in head and key not in renamed_away:
            changes.append(Change(Kind.REMOVED, before.project, before.name, before, None))
    changes.sort(key=lambda c: (c.project, c.name))
    return changes

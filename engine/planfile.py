"""Saving and loading plans: a versioned JSON format, sorted so equal plans serialise
identically. Read old versions through upgraders; write only the newest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from schedsync.engine.errors import FatalError, StalePlan
from schedsync.engine.plan import (
    Action,
    Change,
    Direction,
    FieldChange,
    Origin,
    Plan,
    SchedulerPlan,
    Skipped,
)
from schedsync.engine.sync import PLAN_FORMAT_VERSION


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {
        **plan.provenance,
        "prune": plan.prune,
        "summary": plan.summary(),
        "groups": [_group_to_dict(g) for g in plan.groups],
    }


def dumps(plan: Plan) -> bytes:
    return orjson.dumps(plan_to_dict(plan), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)


def save(plan: Plan, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(dumps(plan) + b"\n")
    tmp.replace(path)


def load(path: Path) -> Plan:
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise FatalError(f"cannot read the plan file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        raise FatalError(
            f"{path} is not a schedsync plan (not JSON): "
            f"make one with `schedsync plan --out {path}`"
        ) from None
    return plan_from_dict(data, str(path))


def plan_from_dict(data: Any, where: str) -> Plan:
    if not isinstance(data, dict) or "groups" not in data:
        raise FatalError(f"{where} is not a schedsync plan: make one with `schedsync plan --out`")
    version = data.get("format_version")
    if version != PLAN_FORMAT_VERSION:
        raise StalePlan(
            f"{where} has plan format {version!r}; this schedsync reads format "
            f"{PLAN_FORMAT_VERSION}: run `schedsync plan --out` again"
        )
    try:
        groups = tuple(_group_from_dict(g) for g in data["groups"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FatalError(f"{where} is damaged ({type(exc).__name__}: {exc}); plan again") from None
    provenance = {k: v for k, v in data.items() if k not in ("groups", "summary", "prune")}
    return Plan(groups, prune=bool(data.get("prune")), provenance=provenance)


def _group_to_dict(group: SchedulerPlan) -> dict[str, Any]:
    return {
        "project": group.project,
        "scheduler": group.scheduler,
        "direction": group.direction.value,
        "changes": [_change_to_dict(c) for c in group.changes],
        "skipped": [
            {"entry_key": s.entry_key, "name": s.name, "reason": s.reason}
            for s in group.skipped
        ],
    }


def _change_to_dict(change: Change) -> dict[str, Any]:
    return {
        "name": change.name,
        "action": change.action.value,
        "origin": change.origin.value,
        "entry_key": change.entry_key,
        "desired": change.desired,
        "live": change.live,
        "base": change.base,
        "fields": [
            {"path": f.path, "repo": f.repo, "live": f.live, "base": f.base}
            for f in change.fields
        ],
        "renamed_from": change.renamed_from,
        "managed": change.managed,
        "record_base": change.record_base,
        "reason": change.reason,
    }


def _group_from_dict(data: dict[str, Any]) -> SchedulerPlan:
    project, scheduler = str(data["project"]), str(data["scheduler"])
    changes = tuple(_change_from_dict(project, scheduler, c) for c in data["changes"])
    skipped = tuple(
        Skipped(project, scheduler, str(s["entry_key"]), str(s["name"]), str(s["reason"]))
        for s in data.get("skipped", [])
    )
    return SchedulerPlan(project, scheduler, Direction(data["direction"]), changes, skipped)


def _change_from_dict(project: str, scheduler: str, data: dict[str, Any]) -> Change:
    return Change(
        project=project,
        scheduler=scheduler,
        name=str(data["name"]),
        action=Action(data["action"]),
        origin=Origin(data["origin"]),
        entry_key=str(data["entry_key"]),
        desired=data["desired"],
        live=data["live"],
        base=data["base"],
        fields=tuple(
            FieldChange(f["path"], f["repo"], f["live"], f["base"]) for f in data["fields"]
        ),
        renamed_from=data.get("renamed_from"),
        managed=bool(data.get("managed", True)),
        record_base=bool(data.get("record_base", False)),
        reason=str(data.get("reason", "")),
    )

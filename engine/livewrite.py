"""Live -> repository: write scheduler entries into the YAML (``import`` and
``resync --direction scheduler_to_repo``), keeping every other byte of each file."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedsync.engine.errors import ValidationFailed
from schedsync.engine.plan import Action, Change, Plan
from schedsync.engine.spec import Spec

if TYPE_CHECKING:
    from schedsync.engine.workspace import Workspace

_NOT_NAME = re.compile(r"[^A-Za-z0-9._:@-]+")
_OPTIONAL = ("timezone", "queue", "priority", "expires", "description")


@dataclass
class RepoWrite:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    unchanged: int = 0
    commit: str | None = None
    changes: list[Change] = field(default_factory=list)


def yaml_name(spec: Spec, key: str) -> str:
    """A valid schedule name for a live entry (store names may hold spaces etc.)."""
    raw = str(spec.get("name") or key)
    name = _NOT_NAME.sub("-", raw).strip("-.:@") or "imported"
    return name[:200]


def spec_to_entry(spec: Spec, scheduler: str, project_timezone: str) -> dict[str, Any]:
    """A schedule-file entry for ``spec``; optional fields only where set."""
    entry: dict[str, Any] = {
        "name": spec["name"],
        "scheduler": scheduler,
        "trigger_type": spec["trigger_type"],
        "trigger": dict(spec["trigger"]),
        "task": spec["task"],
        "args": list(spec.get("args") or []),
        "kwargs": dict(spec.get("kwargs") or {}),
        "enabled": bool(spec.get("enabled", True)),
    }
    for key in _OPTIONAL:
        value = spec.get(key)
        if value is None or (key == "timezone" and value == project_timezone):
            continue
        entry[key] = value
    return entry


def write_live_to_repo(
    ws: Workspace,
    plan: Plan,
    *,
    update_existing: bool,
    delete_missing: bool,
    dry_run: bool,
    message: str,
    author_name: str,
    author_email: str,
) -> RepoWrite:
    """Apply a scheduler_to_repo plan to the YAML files, in one commit."""
    from schedsync.engine import yamledit
    from schedsync.engine.repo_writer import FileEdit, RepoWriter

    outcome = RepoWrite()
    picked = _pick(plan, update_existing, delete_missing, outcome)
    if not picked or dry_run:
        return outcome
    writer = RepoWriter(ws.root)
    with writer.lock():
        texts: dict[str, str] = {}
        for change in picked:
            _edit(ws, writer, change, texts, yamledit)
        _refuse_invalid(ws, texts)
        result = writer.write(
            [FileEdit(path, text) for path, text in sorted(texts.items())],
            message,
            author_name=author_name,
            author_email=author_email,
        )
    outcome.commit = result.commit
    _record(ws, picked)
    ws.reload()
    return outcome


def _pick(
    plan: Plan, update_existing: bool, delete_missing: bool, outcome: RepoWrite
) -> list[Change]:
    picked: list[Change] = []
    for change in plan.changes:
        if change.action is Action.CREATE and change.live is not None:
            outcome.created.append(yaml_name(change.live, change.entry_key))
        elif change.action is Action.DELETE and delete_missing:
            outcome.deleted.append(change.name)
        elif change.action in (Action.UPDATE, Action.ENABLE, Action.DISABLE) and update_existing:
            outcome.updated.append(change.name)
        else:
            outcome.unchanged += 1
            continue
        picked.append(change)
    outcome.changes = picked
    return picked


def _edit(ws: Workspace, writer: Any, change: Change, texts: dict[str, str], yamledit: Any) -> None:
    project_tz = ws.project_config(change.project).timezone
    if change.action is Action.CREATE:
        assert change.live is not None  # _pick keeps only creates with a live side
        spec = {**change.live, "name": yaml_name(change.live, change.entry_key)}
        rel = writer.safe_schedule_path(change.project, None, spec["name"]).as_posix()
        text = texts.get(rel, _read(ws.root / rel))
        texts[rel] = yamledit.add_schedule(text, spec_to_entry(spec, change.scheduler, project_tz))
        return
    found = ws.repo.find(change.project, change.name)
    if found is None:
        return
    text = texts.get(found.file, _read(ws.root / found.file))
    if change.action is Action.DELETE:
        texts[found.file] = yamledit.remove_schedule(text, change.name)
        return
    assert change.live is not None  # updates always have a live side
    wanted = spec_to_entry(change.live, change.scheduler, project_tz)
    current = found.schedule.model_dump(mode="json", exclude_none=True)
    changes = {k: v for k, v in wanted.items() if k != "name" and current.get(k) != v}
    texts[found.file] = yamledit.update_schedule(text, change.name, changes)


def _read(path: Path) -> str:
    """The text exactly as stored: ``read_text``'s universal newlines would turn a CRLF
    file into LF, and the write would then rewrite every line of it."""
    try:
        return path.read_bytes().decode("utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return ""


def _refuse_invalid(ws: Workspace, texts: dict[str, str]) -> None:
    """Validate the repository as it would be, before writing anything."""
    from schedsync.engine.repository import load_repository_from_files

    files = {
        p.relative_to(ws.root).as_posix(): p.read_bytes()
        for p in [ws.root / "schedsync.yaml", *sorted((ws.root / "schedules").rglob("*.y*ml"))]
        if p.is_file()
    }
    files.update({path: text.encode() for path, text in texts.items()})
    candidate = load_repository_from_files(files)
    if candidate.diagnostics.has_errors:
        problems = "; ".join(
            f"{d.file}:{d.line}: {d.message}" for d in candidate.diagnostics.errors[:5]
        )
        raise ValidationFailed(
            f"writing the live entries would make the repository invalid, so nothing was "
            f"written: {problems}"
        )


def _record(ws: Workspace, changes: list[Change]) -> None:
    """The repository now matches these live entries: they are the new base."""
    groups: dict[tuple[str, str], list[tuple[str, str, Spec | None]]] = defaultdict(list)
    for change in changes:
        if change.action is Action.DELETE:
            continue
        assert change.live is not None
        name = yaml_name(change.live, change.entry_key) if change.action is Action.CREATE else (
            change.name)
        ws.state.ensure_schedule(change.project, name)
        groups[(change.project, change.scheduler)].append(
            (name, change.entry_key, {**change.live, "name": name})
        )
    for (project, scheduler), items in groups.items():
        ws.state.record_applied_many(project, scheduler, items, managed=True)

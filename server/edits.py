"""Each schedule write as an ``Edit``: new file texts plus the live entries to apply.

These run under the repository lock on the writer thread, against the repository as
it is now (``writes.refresh``), so a name taken a moment ago is seen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedsync.engine import yamledit
from schedsync.engine.cache import content_hash
from schedsync.server.errors import ApiError
from schedsync.server.validation import validate_patch
from schedsync.server.writes import Edit, find_current, read_text

if TYPE_CHECKING:
    from schedsync.engine.repository import RepoSchedule
    from schedsync.engine.workspace import Workspace


def _check_scheduler(ws: Workspace, slug: str, scheduler: str) -> None:
    known = ws.project_config(slug).schedulers
    if scheduler not in known:
        names = ", ".join(sorted(known)) or "none"
        raise ApiError(
            "validation_error",
            f"project {slug!r} has no scheduler {scheduler!r}; use one of: {names}",
            {"errors": [{"field": "scheduler", "message": f"one of: {names}",
                         "type": "unknown_scheduler"}]},
        )


def _check_name_free(ws: Workspace, slug: str, name: str) -> None:
    if ws.repo.find(slug, name) is not None:
        raise ApiError(
            "conflict",
            f"project {slug!r} already has a schedule named {name!r}; choose another name "
            "or PATCH the existing one",
            {"field": "name"},
        )


def _relative(ws: Workspace, path: Path) -> str:
    if path.is_absolute():
        return path.resolve().relative_to(ws.root.resolve()).as_posix()
    return path.as_posix()


def create(slug: str, entry: dict[str, Any], file: str | None) -> Any:
    def plan(ws: Workspace) -> Edit:
        from schedsync.engine.repo_writer import RepoWriter, UnsafePath

        name = str(entry["name"])
        _check_scheduler(ws, slug, str(entry["scheduler"]))
        _check_name_free(ws, slug, name)
        try:
            path = RepoWriter(ws.root).safe_schedule_path(slug, file, name)
        except UnsafePath as exc:
            raise ApiError(
                "validation_error",
                f"file {file!r} is not allowed: {exc}",
                {"errors": [{"field": "file", "message": str(exc), "type": "unsafe_path"}]},
            ) from None
        rel = _relative(ws, path)
        _inside_project(rel, slug, file)
        before = read_text(ws.root, rel)
        text = yamledit.add_schedule(before, entry)
        return Edit("create", name, {rel: text}, {str(entry["scheduler"]): {name}},
                    before={rel: before})

    return plan


def _inside_project(rel: str, slug: str, file: str | None) -> None:
    # Belt and braces over safe_schedule_path: nothing is written outside the project,
    # and nothing into a nested folder (the loader reads none).
    parts = rel.split("/")
    if len(parts) != 3 or parts[:2] != ["schedules", slug] or not rel.endswith((".yaml", ".yml")):
        raise ApiError(
            "validation_error",
            f"file {file!r} must be a .yaml file directly inside schedules/{slug}/",
            {"errors": [{"field": "file", "message": "a .yaml path inside the project folder",
                         "type": "unsafe_path"}]},
        )


def patch(slug: str, schedule_id: str, body: dict[str, Any]) -> Any:
    def plan(ws: Workspace) -> Edit:
        rs = find_current(ws, slug, schedule_id)
        old = rs.schedule
        current = old.model_dump(mode="json", exclude_none=True)
        current["trigger"] = _as_written(rs, current["trigger"])
        changes = validate_patch(body, current)
        new_name = str(changes.get("name", old.name))
        renamed_from = None
        if new_name != old.name:
            _check_name_free(ws, slug, new_name)
            renamed_from = old.name
            changes.setdefault("renamed_from", old.name)
        new_scheduler = str(changes.get("scheduler", old.scheduler))
        _check_scheduler(ws, slug, new_scheduler)
        before = read_text(ws.root, rs.file)
        text = yamledit.update_schedule(before, old.name, changes, line=_line(ws, rs, before))
        apply = {new_scheduler: {new_name, old.name}}
        if new_scheduler != old.scheduler:
            apply[old.scheduler] = {old.name, new_name}
        return Edit("update", new_name, {rs.file: text}, apply, renamed_from,
                    {rs.file: before}, rs)

    return plan


def _line(ws: Workspace, rs: RepoSchedule, text: str) -> int | None:
    """Where the schedule starts, when the loaded repository was read from this very
    text (then yamledit parses just that item, not the whole file)."""
    if ws.repo.file_hashes.get(rs.file) != content_hash(text.encode("utf-8")):
        return None
    return rs.line


def _as_written(rs: Any, dumped: Any) -> Any:
    # The merge is validated as a whole; a crontab string stays a string.
    spec_trigger = getattr(rs.schedule, "trigger", None)
    return spec_trigger if isinstance(spec_trigger, str) else dumped


def set_enabled(slug: str, schedule_id: str, enabled: bool) -> Any:
    def plan(ws: Workspace) -> Edit:
        rs = find_current(ws, slug, schedule_id)
        name = rs.schedule.name
        before = text = read_text(ws.root, rs.file)
        if rs.schedule.enabled != enabled:
            text = yamledit.update_schedule(text, name, {"enabled": enabled},
                                            line=_line(ws, rs, text))
        return Edit("enable" if enabled else "disable", name, {rs.file: text},
                    {rs.schedule.scheduler: {name}}, None, {rs.file: before}, rs)

    return plan


def delete(slug: str, schedule_id: str) -> Any:
    def plan(ws: Workspace) -> Edit:
        rs = find_current(ws, slug, schedule_id)
        name = rs.schedule.name
        text = yamledit.remove_schedule(read_text(ws.root, rs.file), name)
        return Edit("delete", name, {rs.file: text}, {rs.schedule.scheduler: {name}})

    return plan

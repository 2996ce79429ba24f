"""The write pipeline, run on the writer thread one write at a time.

Under the repository's cross-process lock: edit the YAML surgically, validate the
whole repository as it would be (refuse with 422 before anything is written), write
and commit as the calling user in one commit, push if a push remote exists. Then,
outside the lock, apply the change to the live scheduler; a failed apply keeps the
commit and is reported in the response's ``sync``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedsync.engine.errors import FatalError
from schedsync.engine.redact import redact
from schedsync.server import names
from schedsync.server.errors import ApiError, from_engine, not_found
from schedsync.server.revalidate import revalidate
from schedsync.server.revalidate_item import revalidate_added, revalidate_item

if TYPE_CHECKING:
    from schedsync.engine.gitrepo import GitRepo
    from schedsync.engine.repo_writer import RepoWriter
    from schedsync.engine.repository import LoadedRepository, RepoSchedule
    from schedsync.engine.state.records import ScheduleRecord
    from schedsync.engine.workspace import Workspace
    from schedsync.server.auth import Caller
    from schedsync.server.context import ApiContext


@dataclass
class Edit:
    """What one API write changes: files, and which live entries to apply."""

    action: str
    name: str
    texts: dict[str, str] = field(default_factory=dict)  # repo-relative path -> new text
    apply: dict[str, set[str]] = field(default_factory=dict)  # scheduler -> names
    renamed_from: str | None = None
    before: dict[str, str] = field(default_factory=dict)  # texts as read when planning
    item: RepoSchedule | None = None  # the one schedule edited in place, if that is all


@dataclass
class WriteResult:
    name: str
    commit: str | None
    sync: dict[str, Any]
    # Seconds per phase: "write" (edit, validation, commit, state) and "apply" (live).
    timing: dict[str, float] = field(default_factory=dict)
    record: ScheduleRecord | None = None  # the schedule's state record after the write


def read_text(root: Path, rel: str) -> str:
    """The file's text exactly as stored ("" when absent). Not ``Path.read_text``: its
    universal newlines turned a CRLF file into LF, and the write then rewrote every line."""
    try:
        return (root / rel).read_bytes().decode("utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return ""


def commit_edit(
    ctx: ApiContext, writer: RepoWriter, caller: Caller, slug: str, edit: Edit
) -> str | None:
    """Validate, write, commit and push ``edit``; the repository lock is held by the caller.

    On success the writer's repository is the validated one (no reload needed).
    """
    from schedsync.engine.repo_writer import FileEdit

    ws = ctx.writer
    changed = {
        p: t for p, t in edit.texts.items()
        if t != (edit.before[p] if p in edit.before else read_text(ws.root, p))
    }
    if not changed:
        return None  # git refuses an empty commit; a no-op write makes none
    after = _validated(ws, slug, edit, changed)
    # One commit, pushed when a push remote exists; on a rejected push the writer puts
    # the files and the checkout back and raises PushRejected (a 409).
    result = writer.write(
        [FileEdit(path, text) for path, text in sorted(changed.items())],
        f"{edit.action} schedule {slug}/{edit.name} (API, by {caller.name})",
        author_name=caller.name,
        author_email=caller.author_email,
    )
    commit: str | None = result.commit
    ws.repo = after
    if result.rebased:  # other commits came in under ours: read what is there now
        from schedsync.server.context import refreeze_everything

        ws.reload()
        refreeze_everything(full=False)  # a reload, not a few swapped objects
    ctx.seen_head = commit
    return commit


def _validated(
    ws: Workspace, slug: str, edit: Edit, changed: dict[str, str]
) -> LoadedRepository:
    """The repository as it will be; 422 (nothing written) when the change breaks it."""
    item, (path, text) = edit.item, next(iter(changed.items()))
    fast = None
    if len(changed) == 1 and path in edit.before:
        if item is not None and item.file == path:
            fast = revalidate_item(ws.repo, edit.before[path], text, item)
        elif edit.action == "create":
            fast = revalidate_added(ws.repo, slug, path, edit.before[path], text)
    return fast or revalidate(ws.repo, ws.root, changed)


def run_write(
    ctx: ApiContext, caller: Caller, slug: str, plan_edit: Any, details: dict[str, Any]
) -> WriteResult:
    """The whole pipeline for one write; ``plan_edit(ws) -> Edit`` runs under the lock."""
    from schedsync.engine.repo_writer import RepoWriter

    ws = ctx.writer
    action, target = details.get("action", "write"), details.get("target", "")
    writer = RepoWriter(ws.root)
    started = time.perf_counter()
    try:
        with writer.lock():
            refresh(ctx, writer.git)
            before = ws.repo
            edit: Edit = plan_edit(ws)
            target = edit.name
            commit = commit_edit(ctx, writer, caller, slug, edit)
            record_state(ws, slug, edit)
            if ws.repo is not before:  # files changed (committed, or no git at all)
                # A rename moved a record to another name: the cached ones must go.
                ctx.publish(ws.repo, records=edit.renamed_from is not None, small=True)
    except ApiError as exc:
        audit(ws, caller, action, slug, target, f"refused: {exc.code}", details)
        raise
    except FatalError as exc:
        audit(ws, caller, action, slug, target, f"refused: {exc}", details)
        raise from_engine(exc) from None
    except Exception as exc:
        audit(ws, caller, action, slug, target, f"error: {type(exc).__name__}", details)
        raise
    written = time.perf_counter()
    sync = apply_live(ws, slug, edit)
    timing = {"write": written - started, "apply": time.perf_counter() - written}
    deleted = edit.action == "delete"
    if deleted and sync["status"] == "applied":
        ws.state.forget_schedule(slug, edit.name)
        ctx.records.expire()
    # The commit stays whatever the live store said: updated_at moves with it, in the
    # audit entry's transaction (one state commit per write).
    touched = None if edit.action in ("create", "delete") else datetime.now(UTC)
    record = audit(ws, caller, action, slug, edit.name, "ok" if sync["status"] == "applied"
                   else "committed; live apply failed", {**details, "commit": commit,
                                                         "sync": sync},
                   schedule=None if deleted else edit.name, touched=touched)
    return WriteResult(edit.name, commit, sync, timing, record)


def refresh(ctx: ApiContext, git: GitRepo | None) -> None:
    """Another process (CLI, another replica, a git pull) may have changed the files."""
    ws = ctx.writer
    head = git.head() if git is not None else None
    if head is None or head != ctx.seen_head:
        ws.reload()
        ctx.publish(ws.repo)
        ctx.seen_head = head


def record_state(ws: Workspace, slug: str, edit: Edit) -> None:
    """Identity changes, under the lock; ``updated_at`` is set with the audit entry."""
    state = ws.state
    if edit.renamed_from is not None:
        state.rename_schedule(slug, edit.renamed_from, edit.name)
    if edit.action == "create":  # every other write found its record by id already
        state.ensure_schedule(slug, edit.name)


def apply_live(ws: Workspace, slug: str, edit: Edit) -> dict[str, Any]:
    from schedsync.engine.sync import apply_schedules

    errors: list[str] = []
    for scheduler, wanted in sorted(edit.apply.items()):
        try:
            result = apply_schedules(_narrowed(ws, slug, wanted), slug, scheduler, wanted)
        except Exception as exc:  # noqa: BLE001 - the commit stays; the caller is told why
            errors.append(redact(f"{scheduler}: {type(exc).__name__}: {exc}"))
            continue
        errors.extend(f"{scheduler}: {change.name}: {error}" for change, error in result.failed)
    if errors:
        return {"status": "failed", "error": "; ".join(errors)}
    return {"status": "applied"}


def _narrowed(ws: Workspace, slug: str, wanted: set[str]) -> Workspace:
    """The schedules a single-schedule apply can look at: those named, and the ones
    their ``renamed_from`` names (the engine would find the same in the whole project)."""
    picked = [rs for rs in (names.find(ws.repo, slug, n) for n in sorted(wanted)) if rs]
    older = {rs.schedule.renamed_from or "" for rs in picked} - wanted - {""}
    picked += [rs for rs in (names.find(ws.repo, slug, n) for n in sorted(older)) if rs]
    return ws.narrowed(slug, picked)


def audit(
    ws: Workspace, caller: Caller, action: str, slug: str, target: str, result: str,
    details: dict[str, Any], *, schedule: str | None = None, touched: datetime | None = None,
) -> ScheduleRecord | None:
    """Write the audit entry; with ``schedule``, also set its ``updated_at`` to
    ``touched`` (if given) and return its record, in the same transaction."""
    from schedsync.engine.state.audit import record_write

    try:
        return record_write(ws.state, actor=caller.name, action=action, project=slug,
                            target=target, result=result, details=details,
                            schedule=schedule, touched=touched)
    except Exception:
        # An audit failure must not turn a write that is done into an error.
        import logging

        logging.getLogger("schedsync.server").exception("could not write the audit entry")
        return None


def find_current(ws: Workspace, slug: str, schedule_id: str) -> RepoSchedule:
    record = ws.state.schedule_by_id(slug, schedule_id)
    found = names.find(ws.repo, slug, record.name) if record is not None else None
    if found is None:
        raise not_found(f"schedule {schedule_id!r} in project {slug!r}")
    return found

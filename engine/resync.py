"""``import`` and ``resync``: reconcile the repository and the live schedulers in one
direction, through the same planner that ``plan`` uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schedsync.engine.livewrite import RepoWrite, write_live_to_repo
from schedsync.engine.plan import Change, Direction, Plan
from schedsync.engine.sync import apply_plan, make_plan

if TYPE_CHECKING:
    from schedsync.engine.workspace import Workspace


@dataclass
class ImportResult:
    created: list[str]
    updated: list[str]
    unchanged: int
    commit: str | None
    plan: Plan


@dataclass
class ResyncResult:
    plan: Plan
    applied: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    commit: str | None = None
    repo_write: RepoWrite | None = None


def import_live(
    ws: Workspace,
    project: str,
    *,
    scheduler: str | None = None,
    overwrite: bool = False,
    dry_run: bool = False,
    author_name: str = "schedsync",
    author_email: str = "schedsync@localhost",
) -> ImportResult:
    """Live -> YAML: new entries are added; existing ones are changed only with overwrite."""
    plan = make_plan(ws, project=project, scheduler=scheduler,
                     direction=Direction.SCHEDULER_TO_REPO)
    written = write_live_to_repo(
        ws, plan, update_existing=overwrite, delete_missing=False, dry_run=dry_run,
        message=_message("import", project, scheduler),
        author_name=author_name, author_email=author_email,
    )
    return ImportResult(written.created, written.updated, written.unchanged, written.commit, plan)


def resync(
    ws: Workspace,
    project: str,
    *,
    direction: Direction,
    scheduler: str | None = None,
    prune: bool = False,
    dry_run: bool = False,
    author_name: str = "schedsync",
    author_email: str = "schedsync@localhost",
) -> ResyncResult:
    plan = make_plan(ws, project=project, scheduler=scheduler, prune=prune, direction=direction)
    if direction is Direction.REPO_TO_SCHEDULER:
        if dry_run or not any(g.pending for g in plan.groups):
            return ResyncResult(plan)
        applied = apply_plan(ws, plan, lock_timeout=30.0)
        return ResyncResult(plan, applied.applied, applied.failed)
    written = write_live_to_repo(
        ws, plan, update_existing=True, delete_missing=prune, dry_run=dry_run,
        message=_message("resync from the scheduler", project, scheduler),
        author_name=author_name, author_email=author_email,
    )
    return ResyncResult(plan, written.changes, [], written.commit, written)


def _message(action: str, project: str, scheduler: str | None) -> str:
    where = f"{project}/{scheduler}" if scheduler else project
    return f"schedsync {action}: {where}"

"""Calls that reach a live scheduler (trigger, import, diff, resync), on the writer
thread, each audited when it changes anything."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from schedsync.engine.errors import FatalError
from schedsync.server.errors import from_engine
from schedsync.server.writes import audit

if TYPE_CHECKING:
    from schedsync.engine.plan import Direction
    from schedsync.server.auth import Caller
    from schedsync.server.context import ApiContext


def trigger(ctx: ApiContext, caller: Caller, slug: str, name: str) -> Any:
    from schedsync.engine.trigger import trigger_now

    ws = ctx.writer
    try:
        fire = trigger_now(ws, slug, name)
    except FatalError as exc:
        audit(ws, caller, "trigger", slug, name, f"failed: {exc}", {})
        raise from_engine(exc) from None
    audit(ws, caller, "trigger", slug, name, "ok", {"task_id": fire.task_id})
    ctx.records.expire()
    return fire


def diff(ctx: ApiContext, slug: str, scheduler: str | None) -> Any:
    from schedsync.engine.sync import make_plan

    try:
        return make_plan(ctx.writer, project=slug, scheduler=scheduler)
    except FatalError as exc:
        raise from_engine(exc) from None


def import_live(
    ctx: ApiContext, caller: Caller, slug: str, scheduler: str | None, overwrite: bool,
    dry_run: bool,
) -> Any:
    from schedsync.engine.resync import import_live as run

    details = {"scheduler": scheduler, "overwrite": overwrite, "dry_run": dry_run}
    return _audited(ctx, caller, slug, "import", details, lambda: run(
        ctx.writer, slug, scheduler=scheduler, overwrite=overwrite, dry_run=dry_run,
        author_name=caller.name, author_email=caller.author_email,
    ))


def resync(
    ctx: ApiContext, caller: Caller, slug: str, direction: Direction, scheduler: str | None,
    prune: bool, dry_run: bool,
) -> Any:
    from schedsync.engine.resync import resync as run

    details = {"direction": direction.value, "scheduler": scheduler, "prune": prune,
               "dry_run": dry_run}
    return _audited(ctx, caller, slug, "resync", details, lambda: run(
        ctx.writer, slug, direction=direction, scheduler=scheduler, prune=prune,
        dry_run=dry_run, author_name=caller.name, author_email=caller.author_email,
    ))


def _audited(
    ctx: ApiContext, caller: Caller, slug: str, action: str, details: dict[str, Any],
    run: Any,
) -> Any:
    ws = ctx.writer
    try:
        result = run()
    except FatalError as exc:
        audit(ws, caller, action, slug, slug, f"failed: {exc}", details)
        raise from_engine(exc) from None
    except Exception as exc:
        audit(ws, caller, action, slug, slug, f"error: {type(exc).__name__}", details)
        raise
    ctx.publish(ws.repo)
    audit(ws, caller, action, slug, slug, "ok", {**details, "commit": result.commit})
    return result

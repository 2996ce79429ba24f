"""``schedules:import``, ``schedules:diff`` and ``schedules:resync``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schedsync.server import actions
from schedsync.server.auth import Role
from schedsync.server.body import read_json_object
from schedsync.server.guard import guard
from schedsync.server.responses import OrjsonResponse
from schedsync.server.validation import validation_error


def _options(body: dict[str, Any], allowed: dict[str, type]) -> dict[str, Any]:
    """Check an action body: known keys only, each of its type; every problem at once."""
    errors = [
        {"field": key, "message": "not a field of this request", "type": "extra_forbidden"}
        for key in body if key not in allowed
    ]
    for key, kind in allowed.items():
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            errors.append({"field": key, "message": f"must be a {kind.__name__}",
                           "type": "type_error"})
    if errors:
        raise validation_error(errors, "the request body")
    return body


def _scheduler(ctx: Any, slug: str, body: dict[str, Any]) -> str | None:
    scheduler = body.get("scheduler")
    if scheduler is None:
        return None
    known = ctx.reader.config.projects[slug].schedulers
    if scheduler not in known:
        names = ", ".join(sorted(known)) or "none"
        raise validation_error([{"field": "scheduler", "message": f"one of: {names}",
                                 "type": "unknown_scheduler"}], "the request body")
    return str(scheduler)


def plan_view(plan: Any) -> dict[str, Any]:
    """A plan as ``:diff`` shows it; enable/disable are updates, no-ops are unchanged."""
    summary = {"create": 0, "update": 0, "delete": 0, "unchanged": 0}
    changes = []
    for change in plan.changes:
        action = str(change.action.value)
        if change.is_cleanup:  # a stale state record of no schedule: not a schedule
            continue
        if action == "no-op":
            summary["unchanged"] += 1
            continue
        action = action if action in ("create", "delete") else "update"
        summary[action] += 1
        changes.append({
            "name": change.name,
            "scheduler": change.scheduler,
            "action": action,
            "origin": str(change.origin.value),
            "fields": [{"path": f.path, "repo": f.repo, "live": f.live, "base": f.base}
                       for f in change.fields],
        })
    in_sync = not changes
    return {"in_sync": in_sync, "summary": summary, "changes": changes}


async def diff(request: Request) -> Response:
    ctx, _, slug = guard(request, Role.VIEWER)
    body = _options(await read_json_object(request, empty_ok=True), {"scheduler": str})
    plan = await ctx.in_writer(actions.diff, ctx, slug, _scheduler(ctx, slug, body))
    return OrjsonResponse(plan_view(plan))


async def import_(request: Request) -> Response:
    ctx, caller, slug = guard(request, Role.ADMIN)
    body = _options(await read_json_object(request, empty_ok=True),
                    {"scheduler": str, "overwrite": bool, "dry_run": bool})
    result = await ctx.in_writer(
        actions.import_live, ctx, caller, slug, _scheduler(ctx, slug, body),
        bool(body.get("overwrite", False)), bool(body.get("dry_run", False)),
    )
    return OrjsonResponse({"created": list(result.created), "updated": list(result.updated),
                           "unchanged": int(result.unchanged), "commit": result.commit})


def _direction(body: dict[str, Any]) -> Any:
    from schedsync.engine.plan import Direction

    value = body.get("direction")
    try:
        return Direction(str(value) if isinstance(value, str) else "")
    except ValueError:
        raise validation_error([{
            "field": "direction",
            "message": "repo_to_scheduler or scheduler_to_repo",
            "type": "missing" if value is None else "enum",
        }], "the request body") from None


async def resync(request: Request) -> Response:
    ctx, caller, slug = guard(request, Role.ADMIN)
    body = _options(await read_json_object(request),
                    {"direction": str, "scheduler": str, "prune": bool, "dry_run": bool})
    direction = _direction(body)
    result = await ctx.in_writer(
        actions.resync, ctx, caller, slug, direction, _scheduler(ctx, slug, body),
        bool(body.get("prune", False)), bool(body.get("dry_run", False)),
    )
    out = plan_view(result.plan)
    out["applied"] = [_name(c) for c in result.applied]
    out["failed"] = [{"name": _name(c), "error": e} for c, e in result.failed]
    out["commit"] = result.commit
    return OrjsonResponse(out)


def _name(change: Any) -> str:
    return str(getattr(change, "name", change))



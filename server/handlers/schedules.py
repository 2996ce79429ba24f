"""The schedule endpoints of SPEC section 6."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from schedsync.server import edits, names
from schedsync.server.auth import Role
from schedsync.server.body import read_json_object
from schedsync.server.catalog import (
    find_by_id,
    fresh_record,
    page_expiry,
    project_index,
    record_for,
    records_of,
    view,
)
from schedsync.server.cursor import decode_cursor, encode_cursor
from schedsync.server.errors import ApiError
from schedsync.server.guard import guard
from schedsync.server.responses import OrjsonResponse
from schedsync.server.validation import validate_create
from schedsync.server.views import rfc3339
from schedsync.server.writes import WriteResult, run_write

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def _limit(request: Request, default: int = DEFAULT_LIMIT) -> int:
    raw = request.query_params.get("limit")
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise _bad_query("limit", f"an integer from 1 to {MAX_LIMIT}", raw)
    return int(raw)


def _bad_query(field: str, expected: str, found: str) -> ApiError:
    return ApiError(
        "validation_error",
        f"query parameter {field} must be {expected}, found {found[:100]!r}",
        {"errors": [{"field": field, "message": f"expected {expected}", "type": "query"}]},
    )


def _filters(request: Request) -> dict[str, Any]:
    filters: dict[str, Any] = {}
    scheduler = request.query_params.get("scheduler")
    if scheduler is not None:
        filters["scheduler"] = scheduler
    enabled = request.query_params.get("enabled")
    if enabled is not None:
        if enabled not in ("true", "false"):
            raise _bad_query("enabled", "true or false", enabled)
        filters["enabled"] = enabled == "true"
    return filters


def _schedulers(ctx: Any, slug: str, wanted: str | None) -> frozenset[str] | None:
    """The scheduler names a ``scheduler`` filter means: a configured scheduler's name,
    else every scheduler of that type (``apscheduler``, ``celery-beat``)."""
    if wanted is None:
        return None
    configured = ctx.reader.config.projects[slug].schedulers
    if wanted in configured:
        return frozenset({wanted})
    of_type = frozenset(name for name, cfg in configured.items() if cfg.type == wanted)
    if not of_type:
        choices = sorted({*configured, *(cfg.type for cfg in configured.values())})
        raise _bad_query("scheduler", f"one of {', '.join(choices) or 'none'}", wanted)
    return of_type


async def list_schedules(request: Request) -> Response:
    ctx, _, slug = guard(request, Role.VIEWER)
    limit, filters = _limit(request), _filters(request)
    cursor = request.query_params.get("cursor")
    after = decode_cursor(cursor, filters) if cursor is not None else None
    scheduler = _schedulers(ctx, slug, filters.get("scheduler"))
    enabled = filters.get("enabled")
    records, now = records_of(ctx, slug), datetime.now(UTC)
    key = (slug, limit, after, scheduler, enabled)
    token = (ctx.reader.repo, records, ctx.records_version[0])
    cached = ctx.pages.get(key, token, now)
    if cached is not None:
        return Response(cached, media_type="application/json")
    page: list[Any] = []
    more = False
    for rs in project_index(ctx, slug).after(after):
        s = rs.schedule
        if (scheduler is not None and s.scheduler not in scheduler) or (
            enabled is not None and s.enabled != enabled
        ):
            continue
        if len(page) == limit:
            more = True
            break
        page.append(rs)
    items = [view(ctx, rs, record_for(ctx, slug, rs.schedule.name, records), now) for rs in page]
    next_cursor = encode_cursor(page[-1].schedule.name, filters) if more else None
    response = OrjsonResponse({"items": items, "next_cursor": next_cursor})
    # Built on the records as they are after any first-sight ids were added.
    token = (ctx.reader.repo, records, ctx.records_version[0])
    ctx.pages.put(key, token, page_expiry(page), bytes(response.body))
    return response


async def get_schedule(request: Request) -> Response:
    ctx, _, slug = guard(request, Role.VIEWER)
    rs, record = find_by_id(ctx, slug, str(request.path_params["schedule_id"]))
    return OrjsonResponse(view(ctx, rs, record))


async def _written(request: Request, ctx: Any, slug: str, result: Any, status: int) -> Response:
    rs = names.find(ctx.reader.repo, slug, result.name)
    if rs is None:  # pragma: no cover - the write just put it there
        raise ApiError("conflict", f"schedule {result.name!r} changed while it was written")
    record = fresh_record(ctx, slug, result.name, result.record)
    body = {**view(ctx, rs, record), "sync": result.sync}
    return OrjsonResponse(body, status_code=status, headers=_write_headers(result))


def _write_headers(result: WriteResult) -> dict[str, str]:
    """The commit, and where the time went (Server-Timing: the bench reads it)."""
    headers = {"server-timing": ", ".join(
        f"{phase};dur={seconds * 1000:.1f}" for phase, seconds in result.timing.items())}
    if result.commit:
        headers["x-schedsync-commit"] = result.commit
    return headers


async def create_schedule(request: Request) -> Response:
    ctx, caller, slug = guard(request, Role.OPERATOR)
    body = await read_json_object(request)
    entry, file = validate_create(body)
    details = {"action": "create", "target": str(entry.get("name"))}
    result = await ctx.in_writer(run_write, ctx, caller, slug, edits.create(slug, entry, file),
                                 details)
    return await _written(request, ctx, slug, result, 201)


async def patch_schedule(request: Request) -> Response:
    ctx, caller, slug = guard(request, Role.OPERATOR)
    schedule_id = str(request.path_params["schedule_id"])
    find_by_id(ctx, slug, schedule_id)
    body = await read_json_object(request)
    details = {"action": "update", "target": schedule_id, "fields": sorted(body)}
    result = await ctx.in_writer(run_write, ctx, caller, slug,
                                 edits.patch(slug, schedule_id, body), details)
    return await _written(request, ctx, slug, result, 200)


async def delete_schedule(request: Request) -> Response:
    ctx, caller, slug = guard(request, Role.ADMIN)
    schedule_id = str(request.path_params["schedule_id"])
    find_by_id(ctx, slug, schedule_id)
    details = {"action": "delete", "target": schedule_id}
    result = await ctx.in_writer(run_write, ctx, caller, slug, edits.delete(slug, schedule_id),
                                 details)
    headers = {"x-schedsync-sync": result.sync["status"], **_write_headers(result)}
    return Response(status_code=204, headers=headers)


async def _set_enabled(request: Request, enabled: bool) -> Response:
    ctx, caller, slug = guard(request, Role.OPERATOR)
    schedule_id = str(request.path_params["schedule_id"])
    find_by_id(ctx, slug, schedule_id)
    action = "enable" if enabled else "disable"
    details = {"action": action, "target": schedule_id}
    result = await ctx.in_writer(run_write, ctx, caller, slug,
                                 edits.set_enabled(slug, schedule_id, enabled), details)
    return await _written(request, ctx, slug, result, 200)


async def enable_schedule(request: Request) -> Response:
    return await _set_enabled(request, True)


async def disable_schedule(request: Request) -> Response:
    return await _set_enabled(request, False)


async def trigger_schedule(request: Request) -> Response:
    from schedsync.server.actions import trigger

    ctx, caller, slug = guard(request, Role.OPERATOR)
    schedule_id = str(request.path_params["schedule_id"])
    rs, record = find_by_id(ctx, slug, schedule_id)
    fire = await ctx.in_writer(trigger, ctx, caller, slug, rs.schedule.name)
    return OrjsonResponse(
        {"task_id": fire.task_id, "schedule_id": str(record.id),
         "fired_at": rfc3339(fire.fired_at)},
        status_code=202,
    )


async def list_fires(request: Request) -> Response:
    from schedsync.server.views import fire_view

    ctx, _, slug = guard(request, Role.VIEWER)
    rs, _record = find_by_id(ctx, slug, str(request.path_params["schedule_id"]))
    limit = _limit(request)
    cursor = request.query_params.get("cursor")
    if cursor is not None and len(cursor) > 1000:
        raise ApiError("invalid_request", "the cursor is not one this server issued",
                       {"field": "cursor"})
    fires, next_cursor = ctx.reader.state.fires(slug, rs.schedule.name, limit=limit,
                                                cursor=cursor)
    return OrjsonResponse({"items": [fire_view(f) for f in fires], "next_cursor": next_cursor})

"""The application factory: routes, error handlers, lifespan.

The colon routes (``schedules:import`` ...) come before ``schedules/{schedule_id}``;
they cannot collide anyway, since a path parameter never spans a ``/`` and
``schedules:diff`` is not the literal segment ``schedules``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from schedsync.engine.errors import FatalError
from schedsync.engine.redact import redact
from schedsync.server.context import ApiContext
from schedsync.server.errors import ApiError, from_engine
from schedsync.server.handlers import meta, schedules, session, sync
from schedsync.server.middleware import RequestIdMiddleware, request_id
from schedsync.server.responses import OrjsonResponse, error_body

API = "/api/v1"
SCHEDULES = API + "/projects/{slug}/schedules"
ITEM = SCHEDULES + "/{schedule_id}"

ROUTES = [
    Route("/healthz", meta.healthz, methods=["GET"]),
    Route(API + "/openapi.json", meta.openapi, methods=["GET"]),
    Route(API + "/auth/session", session.create_session, methods=["POST"]),
    Route(API + "/auth/session", session.delete_session, methods=["DELETE"]),
    Route(SCHEDULES + ":import", sync.import_, methods=["POST"]),
    Route(SCHEDULES + ":diff", sync.diff, methods=["POST"]),
    Route(SCHEDULES + ":resync", sync.resync, methods=["POST"]),
    Route(SCHEDULES, schedules.list_schedules, methods=["GET"]),
    Route(SCHEDULES, schedules.create_schedule, methods=["POST"]),
    Route(ITEM, schedules.get_schedule, methods=["GET"]),
    Route(ITEM, schedules.patch_schedule, methods=["PATCH"]),
    Route(ITEM, schedules.delete_schedule, methods=["DELETE"]),
    Route(ITEM + "/enable", schedules.enable_schedule, methods=["POST"]),
    Route(ITEM + "/disable", schedules.disable_schedule, methods=["POST"]),
    Route(ITEM + "/trigger", schedules.trigger_schedule, methods=["POST"]),
    Route(ITEM + "/fires", schedules.list_fires, methods=["GET"]),
]


def _error(request: Request, exc: ApiError) -> Response:
    body = error_body(exc.code, redact(exc.message), exc.details, request_id(request.scope))
    return OrjsonResponse(body, status_code=exc.status)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)  # registered for ApiError only
    return _error(request, exc)


async def engine_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FatalError)  # registered for FatalError only
    return _error(request, from_engine(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    if exc.status_code == 405:
        error = ApiError("method_not_allowed", f"{request.method} is not allowed on this path")
    elif exc.status_code == 404:
        error = ApiError("not_found", f"no endpoint at {request.url.path[:200]}")
    else:
        error = ApiError("invalid_request", str(exc.detail))
    response = _error(request, error)
    response.status_code = exc.status_code
    return response


def create_app(root: Path) -> Starlette:
    """The Schedules API for the repository at ``root``."""
    context = ApiContext.open(root)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            context.close()

    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers={
            ApiError: api_error,
            FatalError: engine_error,
            HTTPException: http_error,
        },
        lifespan=lifespan,
    )
    app.state.api = context
    return app

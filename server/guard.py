"""The checks every project endpoint starts with: who, which project, which role."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from starlette.requests import Request

from schedsync.engine.errors import FatalError
from schedsync.server.auth import Caller, Role, authenticate, require_role
from schedsync.server.catalog import project_known

if TYPE_CHECKING:
    from schedsync.server.context import ApiContext


def api(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.api
    if not ctx.auth.watching:  # once: follow the state's changes of users and tokens
        with contextlib.suppress(FatalError):
            ctx.auth.watch(ctx.reader.config.state, ctx.root)
    return ctx


def guard(request: Request, need: Role) -> tuple[ApiContext, Caller, str]:
    """(context, caller, project slug) once the caller may do ``need`` in the project."""
    ctx = api(request)
    caller = authenticate(request, ctx.reader.state, ctx.auth)
    slug = str(request.path_params["slug"])
    require_role(caller, slug, project_known(ctx, slug), need)
    return ctx, caller, slug

"""Browser sessions: log in with a token, get cookies; log out."""

from __future__ import annotations

import os
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from schedsync.server.auth import CSRF_COOKIE, SESSION_COOKIE, authenticate
from schedsync.server.body import read_json_object
from schedsync.server.errors import ApiError
from schedsync.server.guard import api
from schedsync.server.responses import OrjsonResponse

SESSION_TTL = timedelta(hours=8)
# Behind a TLS proxy that does not send X-Forwarded-Proto, the server sees http:
# SCHEDSYNC_SECURE_COOKIES=1 marks the cookies Secure anyway.
SECURE_COOKIES_ENV = "SCHEDSYNC_SECURE_COOKIES"


async def create_session(request: Request) -> Response:
    ctx = api(request)
    body = await read_json_object(request)
    token = body.get("token")
    if not isinstance(token, str) or not token or len(token) > 1000:
        raise ApiError("unauthenticated", "send {\"token\": \"<an API token>\"} to log in")
    user = ctx.reader.state.user_for_token(token)
    if user is None:
        raise ApiError("unauthenticated", "the token is unknown or was revoked")
    session_id, csrf = ctx.reader.state.create_session(user.name, SESSION_TTL)
    response = OrjsonResponse({"csrf_token": csrf, "user": user.name})
    secure = request.url.scheme == "https" or os.environ.get(SECURE_COOKIES_ENV) == "1"
    max_age = int(SESSION_TTL.total_seconds())
    response.set_cookie(SESSION_COOKIE, session_id, max_age=max_age, httponly=True,
                        samesite="lax", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False,
                        samesite="lax", secure=secure, path="/")
    return response


async def delete_session(request: Request) -> Response:
    ctx = api(request)
    authenticate(request, ctx.reader.state, ctx.auth)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        ctx.reader.state.delete_session(session_id)
        ctx.auth.forget("s:" + session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response

"""Request ids on every response, and the last line of defence against a 500 page.

A pure ASGI middleware (no per-request objects beyond the id), so it costs nothing
measurable on the list endpoint.
"""

from __future__ import annotations

import logging
import uuid

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schedsync.engine.redact import protect_logger
from schedsync.server.responses import error_body

log = logging.getLogger("schedsync.server")
protect_logger("schedsync.server")  # a traceback may quote a URL with its password


def request_id(scope: Scope) -> str:
    rid: str = scope.get("state", {}).get("request_id", "")
    return rid


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        header = (b"x-request-id", rid.encode())
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # A bug: logged with its traceback; the caller still gets the error body.
            log.exception("request %s %s failed (request id %s)", scope.get("method"),
                          scope.get("path"), rid)
            if not started:
                await _send_internal_error(send, rid)


async def _send_internal_error(send: Send, rid: str) -> None:
    body = orjson.dumps(error_body(
        "internal_error",
        f"the server hit a bug; it is logged under request id {rid}. Please report it.",
        {}, rid,
    ))
    await send({"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", rid.encode()),
    ]})
    await send({"type": "http.response.body", "body": body})

"""``/healthz`` and ``/api/v1/openapi.json``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from schedsync.server.responses import OrjsonResponse


async def healthz(request: Request) -> Response:
    return OrjsonResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    from schedsync.server.openapi import document

    return OrjsonResponse(document())

"""Reading request bodies: bounded, JSON objects only.

A body over ``MAX_BODY_BYTES`` is refused from its ``Content-Length`` before reading,
and while streaming when the length is absent or lies, so a client can never make the
server buffer more than the limit.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from schedsync.server.errors import ApiError

MAX_BODY_BYTES = 1_048_576


def _too_large() -> ApiError:
    return ApiError(
        "payload_too_large",
        f"the request body is over {MAX_BODY_BYTES} bytes; send a smaller body",
        {"limit": MAX_BODY_BYTES},
    )


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None:
        digits = declared.strip()
        # ASCII digits only: str.isdigit() also accepts '²', which int() refuses.
        if not (digits.isascii() and digits.isdigit()):
            raise ApiError("invalid_request", "the Content-Length header is not a number")
        # Compare lengths first: int() refuses over 4,300 digits (and would be slow).
        if len(digits.lstrip("0")) > len(str(MAX_BODY_BYTES)) or int(digits) > MAX_BODY_BYTES:
            raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json_object(request: Request, *, empty_ok: bool = False) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` when ``empty_ok``."""
    raw = await read_body(request)
    if not raw.strip():
        if empty_ok:
            return {}
        raise ApiError("invalid_request", "the request needs a JSON object body")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ApiError(
            "invalid_request",
            f"the body is not valid JSON ({exc.msg} at byte {exc.pos}); send a JSON object",
            {"position": exc.pos},
        ) from None
    if not isinstance(value, dict):
        raise ApiError(
            "invalid_request",
            f"the body must be a JSON object, found a JSON {_json_kind(value)}",
        )
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"

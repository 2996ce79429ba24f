"""JSON responses through orjson (3-4x faster than the stdlib encoder on list pages)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

_OPTIONS = orjson.OPT_NON_STR_KEYS


class OrjsonResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS, default=_fallback)


def _fallback(value: Any) -> Any:
    # Values from the engine that orjson does not know (sets, Decimal, Path...).
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


def error_body(code: str, message: str, details: dict[str, Any], request_id: str) -> dict[str, Any]:
    return {"error": code, "message": message, "details": details, "request_id": request_id}

"""Opaque keyset cursors: base64url of a small JSON object.

A cursor carries the last name of the page and a fingerprint of the filters it was
made with, so reusing it with other filters is refused instead of silently skipping.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

import orjson

from schedsync.server.errors import ApiError

_MAX_CURSOR_CHARS = 2048


def fingerprint(filters: dict[str, Any]) -> str:
    return hashlib.blake2b(orjson.dumps(filters, option=orjson.OPT_SORT_KEYS),
                           digest_size=6).hexdigest()


def encode_cursor(after: str, filters: dict[str, Any]) -> str:
    raw = orjson.dumps({"a": after, "f": fingerprint(filters)})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str, filters: dict[str, Any]) -> str:
    """The name the next page starts after; 400 for anything not made by us."""
    if len(token) > _MAX_CURSOR_CHARS:
        raise _bad_cursor()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        value = orjson.loads(raw)
    except (binascii.Error, ValueError):
        raise _bad_cursor() from None
    if not isinstance(value, dict) or not isinstance(value.get("a"), str):
        raise _bad_cursor()
    if value.get("f") != fingerprint(filters):
        raise ApiError(
            "invalid_request",
            "the cursor was made with other filters; repeat the request with the same "
            "filters, or start again without a cursor",
            {"field": "cursor"},
        )
    after: str = value["a"]
    return after


def _bad_cursor() -> ApiError:
    return ApiError(
        "invalid_request",
        "the cursor is not one this server issued; pass next_cursor from a previous page "
        "unchanged, or start again without a cursor",
        {"field": "cursor"},
    )

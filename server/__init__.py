"""The REST Schedules API (SPEC section 6): ``create_app(root)`` builds the ASGI app."""

from __future__ import annotations

from schedsync.server.app import create_app

__all__ = ["create_app"]

"""API errors: one exception class carrying its code, status and details.

Handlers raise ``ApiError`` (or let an engine ``FatalError`` escape); ``app`` turns
both into the one error body of SPEC section 6:
``{"error", "message", "details", "request_id"}``.
"""

from __future__ import annotations

from typing import Any

from schedsync.engine import errors as engine_errors

STATUS_OF_CODE: dict[str, int] = {
    "invalid_request": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "csrf_failed": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "payload_too_large": 413,
    "validation_error": 422,
    "internal_error": 500,
    "scheduler_unavailable": 503,
}


class ApiError(Exception):
    """An error the API reports to its caller as a JSON body."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details: dict[str, Any] = details or {}

    @property
    def status(self) -> int:
        return STATUS_OF_CODE[self.code]


def not_found(what: str) -> ApiError:
    return ApiError("not_found", f"{what} not found")


# Engine errors by class: the first match in order wins (subclasses first).
_ENGINE_CODES: tuple[tuple[type[engine_errors.FatalError], str], ...] = (
    (engine_errors.NotFound, "not_found"),
    (engine_errors.SchedulerUnavailable, "scheduler_unavailable"),
    (engine_errors.ValidationFailed, "validation_error"),
    (engine_errors.LockHeld, "conflict"),
    (engine_errors.StalePlan, "conflict"),
    (engine_errors.UnsupportedOperation, "validation_error"),
    (engine_errors.ConfigError, "validation_error"),
)
# Defined by modules written in parallel; matched by name so this module needs none.
_CONFLICT_NAMES = frozenset({"PushRejected", "GitConflict", "WriteConflict", "GitLocked"})


def from_engine(exc: engine_errors.FatalError) -> ApiError:
    """A user error raised by the engine, as the API reports it."""
    if type(exc).__name__ in _CONFLICT_NAMES:
        return ApiError("conflict", str(exc))
    for cls, code in _ENGINE_CODES:
        if isinstance(exc, cls):
            return ApiError(code, str(exc))
    return ApiError("invalid_request", str(exc))

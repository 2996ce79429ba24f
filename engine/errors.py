"""The one error hierarchy of schedsync.

Every error a user can cause is a ``FatalError``; the CLI turns it into a message and
exit code 1 in one place (``schedsync.cli.main``), the server into an error body.
Anything else escaping is a bug.
"""

from __future__ import annotations


class FatalError(Exception):
    """A user-facing error: the message says where, what and how to fix it."""

    exit_code = 1

    def __str__(self) -> str:
        # Every CLI message, API error body and log line of a user error goes through
        # here: URL passwords and ${VAR} secrets are masked (engine/redact.py).
        from schedsync.engine.redact import redact

        return redact(super().__str__())


class ConfigError(FatalError):
    """``schedsync.yaml`` is missing or invalid, or the repository cannot be read."""


class ValidationFailed(FatalError):
    """The repository has errors; the diagnostics carry the details."""


class SchedulerUnavailable(FatalError):
    """A live scheduler store could not be reached."""


class UnsupportedOperation(FatalError):
    """The store cannot do what was asked (e.g. writing to a read-only store)."""


class StalePlan(FatalError):
    """A saved plan no longer matches the state it was made against."""


class LockHeld(FatalError):
    """Another apply holds the lock."""


class NotFound(FatalError):
    """A project or schedule that does not exist."""

"""Errors of the state store; all are user-facing (``FatalError``)."""

from __future__ import annotations

from schedsync.engine.errors import FatalError


class StateError(FatalError):
    """The state file cannot be opened, read or written."""


class StateSchemaTooNew(StateError):
    """The state was written by a newer schedsync than this one."""


class InvalidCursor(StateError):
    """A pagination cursor that this store did not hand out."""


class NameTaken(StateError):
    """A rename onto a name another schedule already has."""


class InvalidRole(StateError):
    """A role other than viewer, operator or admin."""

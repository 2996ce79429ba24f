"""The state store (SPEC section 3): what the repository does not hold.

Stable schedule ids, created/updated and run times, the spec last applied to each live
entry (the base of the three-way diff), managed marks, fire history, the apply lock, the
serial and lineage that make saved plans checkable, the audit log, users and tokens.
"""

from schedsync.engine.state.apply_lock import LockInfo
from schedsync.engine.state.errors import (
    InvalidCursor,
    InvalidRole,
    NameTaken,
    StateError,
    StateSchemaTooNew,
)
from schedsync.engine.state.ids import NAMESPACE
from schedsync.engine.state.records import (
    ROLES,
    AuditEntry,
    Binding,
    Fire,
    ScheduleRecord,
    User,
    rfc3339,
)
from schedsync.engine.state.schema import SCHEMA_VERSION
from schedsync.engine.state.store import StateStore

__all__ = [
    "NAMESPACE",
    "ROLES",
    "SCHEMA_VERSION",
    "AuditEntry",
    "Binding",
    "Fire",
    "InvalidCursor",
    "InvalidRole",
    "LockInfo",
    "NameTaken",
    "ScheduleRecord",
    "StateError",
    "StateSchemaTooNew",
    "StateStore",
    "User",
    "rfc3339",
]

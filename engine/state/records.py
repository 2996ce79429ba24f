"""The values the state store hands out: frozen, aware-UTC datetimes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import orjson

from schedsync.engine.state.coltypes import parse_instant

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[str, ...] = ("viewer", "operator", "admin")  # lowest first
FIRE_STATUSES: frozenset[str] = frozenset({"pending", "succeeded", "failed", "missed"})
FIRE_SOURCES: frozenset[str] = frozenset({"schedule", "manual"})


def rfc3339(value: datetime | None) -> str | None:
    """``2026-12-01T09:00:00Z`` (microseconds only when present)."""
    if value is None:
        return None
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    id: str
    project: str
    name: str
    created_at: datetime
    updated_at: datetime
    last_run_at: datetime | None = None
    next_run_at: datetime | None = None


@dataclass(slots=True)
class Binding:
    """What was last applied to one live entry: the base of the three-way diff.

    Kept as the state file holds it: the base spec as canonical JSON text (sorted keys,
    ``coltypes.dump_json``), the time as stored text. The planner compares that text
    with the desired spec's bytes and decodes only where they differ: decoding 10k of
    each on every plan cost ~40 ms. ``base_spec`` and ``applied_at`` decode on access.
    Not frozen (a value all the same): a plan reads 10k and more, and a frozen
    dataclass's ``__init__`` costs ~3x.
    """

    name: str
    entry_key: str
    base_text: str
    managed: bool
    applied_text: str
    # The store's digest of the entry as the apply that recorded this base left it
    # (stores that have one; None otherwise, or when the base was recorded otherwise).
    live_digest: str | None = None

    @property
    def base_spec(self) -> dict[str, Any] | None:
        spec: dict[str, Any] | None = orjson.loads(self.base_text)
        return spec

    # ``spec`` and ``holds`` make a Binding a planner base (``plan.Base``; the bindings as
    # read, no ``plan.BaseRecord`` made per schedule: 10k ~5 ms).
    @property
    def spec(self) -> dict[str, Any] | None:
        return self.base_spec

    def holds(self, canonical: bytes) -> bool:
        """Whether the base is the spec whose ``spec_bytes`` are ``canonical``."""
        return self.base_text.encode() == canonical

    @property
    def applied_at(self) -> datetime:
        return parse_instant(self.applied_text)


@dataclass(frozen=True, slots=True)
class Fire:
    id: str
    project: str | None
    name: str | None
    task_id: str
    fired_at: datetime
    source: str
    status: str
    finished_at: datetime | None = None
    error: str | None = None

    def as_api(self) -> dict[str, Any]:
        """The fire as SPEC section 6 shows it."""
        return {
            "id": self.id,
            "fired_at": rfc3339(self.fired_at),
            "task_id": self.task_id,
            "status": self.status,
            "source": self.source,
            "finished_at": rfc3339(self.finished_at),
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    project: str
    target: str
    result: str
    details: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class User:
    name: str
    email: str | None
    admin: bool
    roles: dict[str, str] = field(default_factory=dict)

    def role_in(self, project: str) -> str | None:
        """The effective role in ``project``; a global admin is admin everywhere."""
        return "admin" if self.admin else self.roles.get(project)

    def has_role(self, project: str, need: str) -> bool:
        have = self.role_in(project)
        return have is not None and ROLES.index(have) >= ROLES.index(need)

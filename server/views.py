"""Engine objects as the API shows them (SPEC section 6)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schedsync.engine.repository import RepoSchedule
    from schedsync.schemas.schedule import Schedule

_PROJECT_NAMESPACE = uuid.UUID("6f1c7f0e-5b0a-4d7e-9a43-2d0f3c8e5a11")
_OPTIONAL = ("timezone", "queue", "priority", "expires", "description", "renamed_from")
_CRON_ENGINES = {"celery-beat": "celery", "apscheduler": "apscheduler"}


def project_id(slug: str) -> str:
    """Stable across servers and restarts: derived from the slug alone."""
    return str(uuid.uuid5(_PROJECT_NAMESPACE, slug))


def rfc3339(moment: datetime | str | None) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment.tzinfo is None:
        # The state store keeps naive UTC; never read a naive time as local.
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def cron_engine(scheduler_type: str) -> str:
    return _CRON_ENGINES.get(scheduler_type, "celery")


def trigger_view(schedule: Schedule) -> Any:
    trigger = schedule.trigger
    if isinstance(trigger, str):
        return trigger
    return trigger.model_dump(mode="json", exclude_none=True)


def next_run(
    schedule: Schedule, default_tz: str, engine: str, now: datetime | None = None
) -> datetime | None:
    """The next fire time, or None when disabled or when it cannot be computed."""
    if not schedule.enabled:
        return None
    try:
        from schedsync.engine.cron import next_fire_times

        times = next_fire_times(
            schedule.trigger_type,
            trigger_view(schedule),
            schedule.timezone or default_tz,
            engine,
            now or datetime.now(UTC),
            1,
        )
    except Exception:  # noqa: BLE001 - a display field; degrade to null rather than fail
        return None
    return times[0] if times else None


def static_view(rs: RepoSchedule) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parts of a schedule's view that only change when the schedule does:
    (fields before the run times, optional fields after them)."""
    s = rs.schedule
    head: dict[str, Any] = {
        "project_id": project_id(rs.project),
        "name": s.name,
        "scheduler": s.scheduler,
        "trigger_type": s.trigger_type,
        "trigger": trigger_view(s),
        "task": s.task,
        "args": s.args,
        "kwargs": s.kwargs,
        "enabled": s.enabled,
    }
    tail = {name: getattr(s, name) for name in _OPTIONAL if getattr(s, name) is not None}
    return head, tail


def schedule_view(
    rs: RepoSchedule,
    *,
    schedule_id: str,
    created_at: datetime | None,
    updated_at: datetime | None,
    last_run_at: datetime | None,
    next_run_at: datetime | None,
    static: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    head, tail = static or static_view(rs)
    return {
        "id": schedule_id,
        **head,
        "last_run_at": rfc3339(last_run_at),
        "next_run_at": rfc3339(next_run_at),
        "created_at": rfc3339(created_at),
        "updated_at": rfc3339(updated_at),
        **tail,
    }


def fire_view(fire: Any) -> dict[str, Any]:
    return {
        "id": str(getattr(fire, "id", "")),
        "fired_at": rfc3339(getattr(fire, "fired_at", None)),
        "task_id": getattr(fire, "task_id", None),
        "status": str(getattr(fire, "status", "pending")),
        "source": str(getattr(fire, "source", "schedule")),
        "finished_at": rfc3339(getattr(fire, "finished_at", None)),
        "error": getattr(fire, "error", None),
    }

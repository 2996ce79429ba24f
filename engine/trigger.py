"""Run a schedule's task once, now, through its own scheduler; record the fire."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from schedsync.engine.errors import FatalError, NotFound, SchedulerUnavailable

if TYPE_CHECKING:
    from schedsync.engine.workspace import Workspace


def trigger_now(ws: Workspace, project: str, name: str) -> Any:
    """Returns the state store's fire record (task_id, fired_at, source "manual")."""
    ws.project_config(project)
    found = ws.repo.find(project, name)
    if found is None:
        raise NotFound(f"project {project!r} has no schedule {name!r} in the repository")
    scheduler = found.schedule.scheduler
    binding = ws.state.bindings(project, scheduler).get(name)
    key = binding.entry_key if binding else name
    adapter = ws.adapter(project, scheduler)
    try:
        task_id = adapter.trigger(key, found.spec)
    except FatalError:
        raise
    except Exception as exc:
        raise SchedulerUnavailable(
            f"could not trigger {project}/{name} through {scheduler!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    ws.state.ensure_schedule(project, name)
    return ws.state.record_fire(
        project, name, task_id=task_id, fired_at=datetime.now(UTC), source="manual"
    )

"""What every plan view says about a change, computed once."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from schedsync.engine.plan import Action, Change, Direction, Origin, Plan
from schedsync.engine.spec import Spec

SYMBOLS = {
    Action.CREATE: "+",
    Action.UPDATE: "~",
    Action.DELETE: "-",
    Action.ENABLE: "~",
    Action.DISABLE: "~",
    Action.NOOP: " ",
}
ORIGIN_WORDS = {
    Origin.REPO: "changed in the repository",
    Origin.LIVE: "drift: changed in the scheduler",
    Origin.BOTH: "conflict: changed in both",
}
NEXT_FIRES = 3


def value_text(value: Any) -> str:
    if value is None:
        return "(none)"
    return orjson.dumps(value).decode()


def trigger_text(spec: Spec) -> str:
    trigger, kind = spec.get("trigger") or {}, spec.get("trigger_type")
    if kind == "cron":
        fields = ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
        text = " ".join(str(trigger.get(f, "*")) for f in fields)
        if trigger.get("second"):
            text = f"{trigger['second']} {text} (with seconds)"
        return f"cron {text}"
    if kind == "interval":
        every, period = trigger.get("every"), str(trigger.get("period", "seconds"))
        return f"every {every} {period.rstrip('s') if every == 1 else period}"
    if kind == "clocked":
        return f"once at {trigger.get('run_at')}"
    if kind == "solar":
        return f"{trigger.get('event')} at ({trigger.get('latitude')}, {trigger.get('longitude')})"
    return str(kind)


def in_words(spec: Spec) -> str:
    from schedsync.engine.cron import describe

    try:
        return describe(str(spec.get("trigger_type")), spec.get("trigger") or {})
    except Exception:  # noqa: BLE001 - words are a courtesy; the trigger text is shown anyway
        return ""


def next_fires(spec: Spec, engine: str, count: int = NEXT_FIRES) -> list[str]:
    """The next fire times in the schedule's zone, as the target engine computes them."""
    from zoneinfo import ZoneInfo

    from schedsync.engine.cron import next_fire_times

    if spec.get("trigger_type") not in ("cron", "interval", "clocked") or not spec.get("enabled"):
        return []
    zone = str(spec.get("timezone") or "UTC")
    try:
        times = next_fire_times(
            str(spec["trigger_type"]), spec["trigger"], zone, engine, datetime.now(UTC), count
        )
    except Exception:  # noqa: BLE001 - a preview must not stop a plan from showing
        return []
    # Seconds only where they matter (sub-minute intervals, a cron ``second`` field).
    fmt = "%Y-%m-%d %H:%M:%S %Z" if any(t.second for t in times) else "%Y-%m-%d %H:%M %Z"
    return [t.astimezone(ZoneInfo(zone)).strftime(fmt) for t in times]


def headline(change: Change) -> str:
    verb = {
        Action.CREATE: "will be created",
        Action.UPDATE: "will be updated",
        Action.DELETE: "will be deleted",
        Action.ENABLE: "will be enabled",
        Action.DISABLE: "will be disabled",
        Action.NOOP: "is in sync",
    }[change.action]
    return f"{change.project}/{change.name} on {change.scheduler} {verb}"


def direction_note(direction: Direction) -> str:
    if direction is Direction.SCHEDULER_TO_REPO:
        return "the repository will be changed to match the scheduler"
    return "the scheduler will be changed to match the repository"


def summary_line(plan: Plan) -> str:
    counts = plan.summary()
    cleanups = sum(c.is_cleanup for c in plan.changes)
    # Records of schedules already gone from both sides: apply drops them (state only).
    cleanup = f" State cleanup: {cleanups} stale record(s) to drop." if cleanups else ""
    return (
        f"Plan: {counts['create']} to create, {counts['update']} to update, "
        f"{counts['delete']} to delete, {counts['enable']} to enable, "
        f"{counts['disable']} to disable; {counts['no-op']} in sync.{cleanup}"
    )

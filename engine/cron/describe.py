"""Human words for a trigger ("At 09:00, Monday through Friday")."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schedsync.engine.cron.check import field_text
from schedsync.engine.cron.fields import FIELD_ORDER
from schedsync.engine.cron.translate import canonical_cron


def _cron_words(trigger: Mapping[str, Any]) -> str:
    from cron_descriptor import Options, get_description

    fields = canonical_cron(trigger)
    parts = [field_text(fields, name) for name in FIELD_ORDER]
    expression = " ".join(parts)
    if "second" in fields:
        expression = f"{fields['second']} {expression}"
    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return str(get_description(expression, options))
    except Exception:  # noqa: BLE001 - words are a courtesy; never fail a command for them
        return f"cron {expression}"


def _plural(every: int, period: str) -> str:
    unit = period[:-1] if period.endswith("s") else period
    return f"every {unit}" if every == 1 else f"every {every} {unit}s"


def describe(trigger_type: str, trigger: Mapping[str, Any]) -> str:
    """``describe("interval", {"every": 5, "period": "minutes"})`` -> ``"every 5 minutes"``."""
    if trigger_type == "cron":
        return _cron_words(trigger)
    if trigger_type == "interval":
        return _plural(int(trigger["every"]), str(trigger.get("period", "seconds")))
    if trigger_type == "clocked":
        run_at = trigger["run_at"]
        moment = datetime.fromisoformat(run_at) if isinstance(run_at, str) else run_at
        return f"once at {moment.isoformat()}"
    if trigger_type == "solar":
        event = str(trigger["event"]).replace("_", " ")
        return f"at {event} ({float(trigger['latitude']):.2f}, {float(trigger['longitude']):.2f})"
    return trigger_type

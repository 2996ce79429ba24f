"""Small, real task functions for the example repository's APScheduler schedules.

``examples/schedules`` references them as ``schedsync.demo_tasks:<function>`` so that a
real APScheduler process (``examples/apscheduler_app.py``) can import and run them
without any code of the user's. Each logs what it did and returns a small summary.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("schedsync.demo_tasks")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def heartbeat() -> str:
    """Proves the scheduler is alive (and wakes it often enough to see changes)."""
    at = _now()
    log.info("heartbeat at %s", at)
    return at


def send_digest(**kwargs: Any) -> dict[str, Any]:
    """Pretends to send a digest e-mail to ``audience``."""
    log.info("digest for %s", kwargs.get("audience", "everyone"))
    return {"sent_at": _now(), **kwargs}


def reconcile(ledger: str = "main", **kwargs: Any) -> dict[str, Any]:
    log.info("reconciled ledger %s", ledger)
    return {"ledger": ledger, "at": _now(), **kwargs}


def load_warehouse(tables: list[str] | None = None, full: bool = False) -> dict[str, Any]:
    log.info("loaded %s (full=%s)", ", ".join(tables or []), full)
    return {"tables": list(tables or []), "full": full, "at": _now()}


def check_freshness(max_lag_minutes: int = 30) -> dict[str, Any]:
    log.info("freshness within %s minutes", max_lag_minutes)
    return {"max_lag_minutes": max_lag_minutes, "at": _now()}

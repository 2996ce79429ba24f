"""Cron meaning for schedsync: one canonical reading, per-engine translation and truth.

- ``check_cron`` / ``dom_dow_ambiguous``: validation (``check``)
- ``canonical_cron``, ``to_apscheduler`` / ``from_apscheduler``, ``to_celery`` /
  ``from_celery``: translation through value sets (``translate``)
- ``next_fire_times`` (``fire``), ``min_gap_seconds`` (``gaps``), ``dst_findings``
  (``dst``): fast, engine-specific fire times, proven against the engines' own code
  (``engines`` and ``tests/crontruth``)
- ``describe``: human words
"""

from schedsync.engine.cron.check import CronProblem, check_cron, dom_dow_ambiguous
from schedsync.engine.cron.describe import describe
from schedsync.engine.cron.dst import DstFinding, dst_findings
from schedsync.engine.cron.fire import ENGINES, next_fire_times
from schedsync.engine.cron.gaps import min_gap_seconds
from schedsync.engine.cron.translate import (
    UnrepresentableCron,
    canonical_cron,
    from_apscheduler,
    from_celery,
    to_apscheduler,
    to_celery,
)

__all__ = [
    "ENGINES",
    "CronProblem",
    "DstFinding",
    "UnrepresentableCron",
    "canonical_cron",
    "check_cron",
    "describe",
    "dom_dow_ambiguous",
    "dst_findings",
    "from_apscheduler",
    "from_celery",
    "min_gap_seconds",
    "next_fire_times",
    "to_apscheduler",
    "to_celery",
]

"""Validation of a schedule repository: every problem, with where, what and how to fix.

``schedule_file`` checks one file on its own (cacheable by content), ``config_file``
checks ``schedsync.yaml``, ``context`` checks what needs both; ``messages`` words them.
"""

from __future__ import annotations

from schedsync.engine.capabilities import capabilities_for
from schedsync.engine.validate.config_file import check_config
from schedsync.engine.validate.context import check_context
from schedsync.engine.validate.schedule_file import FileResult, ParsedSchedule, check_schedule_file

__all__ = [
    "FileResult",
    "ParsedSchedule",
    "capabilities_for",
    "check_config",
    "check_context",
    "check_schedule_file",
]

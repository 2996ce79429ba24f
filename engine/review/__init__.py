"""Reviewing a git change to the schedules (``schedsync diff --base``).

``review_change`` computes a ``Review`` (pure data); ``render`` shows it as text, JSON,
markdown (a PR comment) or GitHub annotations. Nothing here touches a live scheduler.
"""

from schedsync.engine.review.build import review_change, review_sides
from schedsync.engine.review.model import (
    Change,
    Entry,
    FieldChange,
    Finding,
    Kind,
    Level,
    Review,
    Timing,
)

__all__ = [
    "Change",
    "Entry",
    "FieldChange",
    "Finding",
    "Kind",
    "Level",
    "Review",
    "Timing",
    "review_change",
    "review_sides",
]

"""Computing a review: read both sides, match schedules, time them, find what matters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from schedsync.engine.config import CONFIG_NAME, find_repo_root
from schedsync.engine.diagnostics import Diagnostic
from schedsync.engine.review.compare import compare
from schedsync.engine.review.entries import EntryKey, entries_of
from schedsync.engine.review.findings import change_findings
from schedsync.engine.review.history import attach_history
from schedsync.engine.review.lines import LineFinder, attach_lines
from schedsync.engine.review.model import Entry, Finding, Review, SideInfo
from schedsync.engine.review.pileups import pileup_findings
from schedsync.engine.review.sides import Side, open_git, read_ref, read_working_tree
from schedsync.engine.review.timing import fires, timing
from schedsync.schemas.config import ReviewConfig

_ITEM = re.compile(r"^schedules\[(\d+)\]")


def review_change(root: Path | None, base: str, head: str | None = None, *,
                  now: datetime | None = None) -> Review:
    """What the git change from ``base`` to ``head`` (default: the working tree) does.

    Raises ``ConfigError`` outside git and ``UnknownRef`` for a ref this clone lacks;
    an invalid head side is not raised but returned (``Review.failed``) with its errors.
    """
    git = open_git(find_repo_root(root))
    base_side = read_ref(git, base)
    head_side = read_ref(git, head) if head else read_working_tree(git)
    return review_sides(base_side, head_side, now or datetime.now(UTC))


# A review needs no scheduler URL: an unset ${VAR} (a secret CI does not have) is a
# note, not a reason to refuse the review.
_NOT_NEEDED = frozenset({"missing-env"})


def _info(side: Side) -> SideInfo:
    errors = tuple(d for d in side.diagnostics() if d.is_error and d.code not in _NOT_NEEDED)
    return SideInfo(side.label, side.commit, errors)


def _unset_variables(side: Side) -> list[str]:
    names = sorted({d.found.removesuffix(" unset") for d in side.repo.diagnostics.items
                    if d.code in _NOT_NEEDED and d.found})
    if not names:
        return []
    return [f"{', '.join(names)} not set here; the review does not need scheduler URLs, "
            f"but `schedsync validate` and `apply` do"]


def review_sides(base: Side, head: Side, now: datetime) -> Review:
    review = Review(_info(base), _info(head), now)
    review.notes.extend(_unset_variables(head))
    if review.failed:
        return review  # a half-read head would show valid schedules as deleted
    if base.files is not None and CONFIG_NAME not in base.files:
        review.notes.append(f"the base side ({base.label}) has no schedsync.yaml yet: every "
                            "schedule is new")
    elif review.base_errors:
        review.notes.append(
            f"the base side ({base.label}) has {len(review.base_errors)} error(s); schedules "
            "in its broken parts cannot be compared and show up as added"
        )
    old, new = entries_of(base.repo, base.prefix), entries_of(head.repo, head.prefix)
    changes = compare(old, new)
    attach_lines(changes, LineFinder(base.content, base.prefix),
                 LineFinder(head.content, head.prefix))
    for change in changes:
        if change.after is not None:  # findings on the fleet point at the field lines too
            new[(change.project, change.name)] = change.after
        change.timing = timing(change, now)
        upcoming = fires(change.after, now, 1)
        change.next_run = upcoming[0] if upcoming else None
    attach_history(changes, head.repo.config or base.repo.config, head.root, review.notes)
    review.changes = changes
    review.findings = _findings(review, head, new)
    return review


def _findings(review: Review, head: Side, new: dict[EntryKey, Entry]) -> list[Finding]:
    config = head.repo.config
    frequent = _too_frequent(head)
    found: list[Finding] = []
    for change in review.changes:
        found.extend(change_findings(change, review.now, frequent))
    limit = (config.review if config else ReviewConfig()).max_same_minute
    found.extend(pileup_findings(review.changes, new, review.now, limit))
    found.sort(key=lambda f: (f.file, f.line, f.code))
    return found


def _too_frequent(head: Side) -> dict[tuple[str, int], Diagnostic]:
    """The validator's min_interval warnings by (file, index of the schedule)."""
    out = {}
    for d in head.diagnostics():
        match = _ITEM.match(d.path)
        if d.code == "too-frequent" and match is not None:
            out[(d.file, int(match.group(1)))] = d
    return out


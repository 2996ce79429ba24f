"""Validating a write without re-reading the whole repository.

A write changes one or two files. Re-validating all of a 10k-schedule repository costs
seconds (every file is composed and checked again); instead the changed files are
checked on their own, with the repository config, and the rest is taken from the
repository already loaded. The only rule that spans files is the unique name per
project, checked here against the untouched files. The result is the repository as
it will be after the write, so no reload is needed afterwards.
"""

from __future__ import annotations

from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from schedsync.engine.config import CONFIG_NAME
from schedsync.engine.diagnostics import Diagnostics
from schedsync.server import names
from schedsync.server.errors import ApiError

if TYPE_CHECKING:
    from schedsync.engine.repository import LoadedRepository

_NAME = attrgetter("schedule.name")


def revalidate(
    old: LoadedRepository, root: Path, texts: dict[str, str]
) -> LoadedRepository:
    """The repository with ``texts`` applied; 422 listing every new error."""
    from schedsync.engine.repository import LoadedRepository, load_repository_from_files

    files = {CONFIG_NAME: (root / CONFIG_NAME).read_bytes()}
    files.update({path: text.encode("utf-8") for path, text in texts.items()})
    candidate = load_repository_from_files(files)
    errors = [_diagnostic(d) for d in candidate.diagnostics.errors if d.file in texts]
    errors += _duplicates(old, candidate, texts)
    if errors:
        raise ApiError(
            "validation_error",
            f"the change would make the repository invalid ({len(errors)} error(s)); "
            "nothing was written",
            {"errors": errors},
        )
    schedules = dict(old.schedules)
    for slug in _projects(texts):
        kept = [rs for rs in old.project(slug) if rs.file not in texts]
        fresh = [rs for rs in candidate.project(slug) if rs.file in texts]
        # By name, as a fresh load has them; both runs are sorted already, so
        # timsort merges them in one pass.
        schedules[slug] = sorted([*kept, *fresh], key=_NAME)
    diagnostics = Diagnostics([
        *(d for d in old.diagnostics.items if d.file not in texts),
        *(d for d in candidate.diagnostics.items if d.file in texts),
    ])
    hashes = {**old.file_hashes, **{p: candidate.file_hashes[p] for p in texts
                                    if p in candidate.file_hashes}}
    return LoadedRepository(old.root, old.config, schedules, diagnostics, hashes)


def _projects(texts: dict[str, str]) -> set[str]:
    return {path.split("/")[1] for path in texts if path.count("/") == 2}


def _duplicates(
    old: LoadedRepository, candidate: LoadedRepository, texts: dict[str, str]
) -> list[dict[str, Any]]:
    errors = []
    for slug in _projects(texts):

        def elsewhere_of(name: str, slug: str = slug) -> str | None:
            """The file of schedule ``name`` outside the changed files, if any."""
            found = names.find(old, slug, name)
            return found.file if found is not None and found.file not in texts else None

        for rs in candidate.project(slug):
            old_name = rs.schedule.renamed_from
            if rs.file in texts and old_name is not None and elsewhere_of(old_name):
                errors.append({
                    "field": "renamed_from", "type": "renamed-from-exists", "file": rs.file,
                    "line": rs.line, "column": 1,
                    "message": f"renamed_from {old_name!r} names a schedule that still exists "
                               f"({elsewhere_of(old_name)})",
                    "expected": "the old name of a schedule that no longer exists",
                    "found": old_name,
                    "fix": "remove the old schedule, or drop renamed_from if both should exist",
                })
            other = elsewhere_of(rs.schedule.name)
            if rs.file in texts and other is not None:
                errors.append({
                    "field": "name", "type": "duplicate-name", "file": rs.file,
                    "line": rs.line, "column": 1,
                    "message": f"the name {rs.schedule.name!r} is already used in {other}; "
                               "names are unique per project",
                    "expected": "a name not used elsewhere in the project",
                    "found": rs.schedule.name, "fix": "choose another name",
                })
    return errors


def _diagnostic(d: Any) -> dict[str, Any]:
    return {
        "field": d.path, "message": d.message, "type": d.code, "file": d.file,
        "line": d.line, "column": d.column, "expected": d.expected, "found": d.found,
        "fix": d.fix,
    }

"""The fire history a deletion ends, read from the state file when there is one.

``diff`` runs in CI where no state exists: a missing SQLite file (or an unreachable
database) is not an error, the review simply says the history was not available.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from schedsync.engine.review.model import Change, History, Kind, PastFire

if TYPE_CHECKING:
    from schedsync.engine.state import StateStore
    from schedsync.schemas.config import RepoConfig

SHOWN = 5
COUNTED = 50  # a history this long is shown as "50+": enough to say what is at stake


def _open(config: RepoConfig, root: Path) -> StateStore | None:
    from schedsync.engine.state import StateStore
    from schedsync.engine.state.connect import is_postgres, sqlite_path

    location = config.state
    if not is_postgres(location) and not sqlite_path(location, root).is_file():
        return None  # opening would create an empty state file: a review writes nothing
    return StateStore.open(location, root)


def attach_history(changes: Iterable[Change], config: RepoConfig | None, root: Path,
                   notes: list[str]) -> None:
    removed = [c for c in changes if c.kind is Kind.REMOVED]
    if not removed or config is None:
        return
    try:
        store = _open(config, root)
    except Exception as exc:  # noqa: BLE001 - history is a courtesy; CI has no state
        notes.append(f"fire history not shown: the state store could not be opened ({exc})")
        return
    if store is None:
        notes.append(f"fire history not shown: no state file at {config.state}")
        return
    try:
        for change in removed:
            fires, _ = store.fires(change.project, change.name, limit=COUNTED)
            last = tuple(PastFire(f.fired_at, f.status, f.source) for f in fires[:SHOWN])
            change.history = History(len(fires), last)
    finally:
        store.close()

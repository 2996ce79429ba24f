"""A CLI plan freezes what it built (it lives until the command ends); a server's plans
are garbage after their request and must stay in the collector's view."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

from repo_builder import EMAIL, acme_config, build_repo
from schedsync.engine.sync import make_plan
from schedsync.engine.workspace import Workspace


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen")
@pytest.mark.parametrize(("long_lived", "frozen"), [(False, True), (True, False)])
def test_only_a_short_lived_workspace_freezes_its_plan(
    tmp_path: Path, long_lived: bool, frozen: bool
) -> None:
    root = build_repo(tmp_path / "repo", acme_config(), {"schedules/acme/email.yaml": EMAIL})
    ws = Workspace.open(root)
    ws.long_lived = long_lived
    before = gc.get_freeze_count()  # the loaded repository is frozen either way
    try:
        plan = make_plan(ws)
    finally:
        ws.close()
    assert plan.summary()["create"] == 2
    assert (gc.get_freeze_count() > before) is frozen

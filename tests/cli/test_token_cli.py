"""``schedsync token`` needs only ``schedsync.yaml`` and the state: a team sets up its
server and users before it writes its first schedule."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from schedsync.cli.main import cli
from schedsync.engine.state import StateStore

CONFIG = """\
version: 1
projects:
  acme:
    schedulers:
      aps:
        type: apscheduler
        jobstore: sqlalchemy
        url: sqlite:///jobs.sqlite
"""


def run(root: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--repo", str(root), "token", *args])
    return result.exit_code, result.output


def test_tokens_in_a_repository_without_schedule_files(tmp_path: Path) -> None:
    (tmp_path / "schedsync.yaml").write_text(CONFIG)
    code, out = run(tmp_path, "create", "--user", "bob", "--role", "acme=operator")
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    with StateStore.open(".schedsync/state.db", tmp_path) as state:
        user = state.user_for_token(token)
        assert user is not None
        assert user.roles == {"acme": "operator"}
    code, out = run(tmp_path, "revoke", "--user", "bob")
    assert code == 0, out
    assert "1 token(s)" in out
    with StateStore.open(".schedsync/state.db", tmp_path) as state:
        assert state.user_for_token(token) is None


def test_unknown_project_is_still_refused_without_schedule_files(tmp_path: Path) -> None:
    (tmp_path / "schedsync.yaml").write_text(CONFIG)
    code, out = run(tmp_path, "create", "--user", "bob", "--role", "nope=viewer")
    assert code != 0
    assert "nope" in out
    assert "Traceback" not in out

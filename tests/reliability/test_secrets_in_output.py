"""No secret from ``${VAR}`` in schedsync.yaml is ever printed, logged, returned or
recorded: every URL of the scenarios carries a distinctive password, and every CLI
command, API response, log record, saved plan, audit record and state file is
searched for it (section 2 of the SPEC: the URLs come from the environment)."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path

import pytest
from security_support import run_output_checks

from celery_fixtures.services import scratch_postgres_database


def _postgres_wanted() -> bool:
    """Under CI the PostgreSQL scenario must run (the scratch helper fails if absent)."""
    if os.environ.get("CI") == "true":
        return True
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
    except OSError:
        return False
    return True


def test_no_secret_in_any_output(tmp_path: Path) -> None:
    secret = f"pw-{uuid.uuid4().hex[:12]}-Sx"
    postgres = _postgres_wanted()
    if postgres:
        with scratch_postgres_database() as database:
            capture = run_output_checks(tmp_path, secret, database)
    else:
        capture = run_output_checks(tmp_path, secret, None)
    assert len(capture.texts) > 100
    if postgres:  # the reachable scenario saved a plan, and it was searched
        assert any("(saved plan file)" in where for where, _ in capture.texts)
    # The scenarios do reach the places that print a URL (masked there).
    masked = [where for where, text in capture.texts if ":***@" in text]
    assert len(masked) > 20, masked
    leaks = capture.leaks(secret)
    assert not leaks, "the secret appears in:\n" + "\n".join(leaks)


def test_a_bug_quoting_a_url_prints_and_logs_it_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The crash path (exit 3) too: a library error quoting a URL with its password."""
    from schedsync.cli.main import main
    from schedsync.engine.workspace import Workspace

    secret = f"pw-{uuid.uuid4().hex[:12]}-Sx"

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError(f"cannot parse 'postgresql://app:{secret}@db.internal/x'")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(Workspace, "open", broken)
    with pytest.raises(SystemExit) as exited:
        main(["--repo", str(tmp_path), "plan"])
    assert exited.value.code == 3
    printed = capsys.readouterr()
    crash_log = (tmp_path / "schedsync-crash.log").read_text()
    assert "postgresql://app:***@db.internal/x" in printed.err
    assert "RuntimeError" in crash_log
    assert secret not in printed.out + printed.err + crash_log

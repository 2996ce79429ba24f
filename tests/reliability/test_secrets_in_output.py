"""No secret from ``${VAR}`` in schedsync.yaml is ever printed, logged, returned or
recorded: every URL of the scenarios carries a distinctive password, and every CLI
command, API response, log record, saved plan, audit record and state file is
searched for it (section 2 of the SPEC: the URLs come from the environment)."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

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

"""Shared helpers of the kill -9 tests (tests/reliability/test_crash_*.py).

The trials themselves live in ``stress/crash.py`` (``make stress`` runs the long
version); the tests run a few of them, verifying in-process through click's runner
(the killed process is always a real ``schedsync`` subprocess).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from click.testing import CliRunner

# stress/ sits at the repository root, which pytest does not put on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from stress import crash

from schedsync.cli.main import cli

__all__ = ["cli_in_process", "crash", "kill_server_mid_commit"]


def cli_in_process(root: Path, *args: str) -> tuple[int, str]:
    """``schedsync --repo root ARGS`` through click's runner: (exit code, output)."""
    result = CliRunner().invoke(cli, ["--repo", str(root), "--no-color", *args],
                                catch_exceptions=False)
    return result.exit_code, result.output


# A pre-commit hook that marks the moment git is committing (index.lock held, the YAML
# already replaced) and then waits to be killed.
_SLOW_HOOK = "#!/bin/sh\ntouch .schedsync/committing\nsleep 60\n"


def kill_server_mid_commit(root: Path, log: Path, token: str) -> crash.Writes:
    """Start ``schedsync serve``, send one create and SIGKILL the server's process group
    while its ``git commit`` runs; the hook is removed again afterwards."""
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text(_SLOW_HOOK)
    hook.chmod(0o755)
    server = crash.ServerProcess(root, log)
    writes, stop = crash.Writes(), threading.Event()
    writer = threading.Thread(target=crash.writer_loop,
                              args=(server.url, token, 0, writes, [], stop))
    writer.start()
    flag = root / ".schedsync" / "committing"
    deadline = time.monotonic() + 60
    while not flag.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    server.kill()
    writer.join(60)
    hook.unlink()
    flag.unlink()
    assert writes.acknowledged == 0  # the one write was cut off mid-commit
    return writes


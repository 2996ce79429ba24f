"""``schedsync serve`` (uvicorn) in a real process on a free port, for the tests and
``stress/``.

The server runs in its repository folder and in its own process group, so that
``kill`` (SIGKILL, as a crash or the OOM killer would) and ``stop`` also end the git
processes it started. Its output is appended to a log file: a server restarted on the
same log keeps what the killed one wrote, and a failed start raises with that output.

Importable as ``server_process`` wherever ``tests/`` is on ``sys.path`` (pytest puts it
there for ``tests/conftest.py``; ``stress/`` adds it itself).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

READY_WITHIN = 60.0  # seconds until /healthz answers, on a loaded shared machine
STOP_WITHIN = 15.0  # seconds to finish after SIGTERM before SIGKILL


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """``schedsync --repo ROOT serve``, started and ready (``/healthz`` answers 200) once
    constructed; a context manager that stops it. ``token`` is the bearer token that
    ``headers`` and ``client()`` send."""

    def __init__(self, root: Path, log: Path, token: str | None = None) -> None:
        self.root = root
        self.token = token
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "schedsync", "--repo", str(root), "serve",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=root, stdout=self._log, stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_WITHIN
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.kill()
                raise RuntimeError(f"schedsync serve exited with {self.proc.returncode}:\n"
                                   f"{self.output()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"schedsync serve did not answer /healthz within "
                           f"{READY_WITHIN:g} s:\n{self.output()[-4000:]}")

    def client(self, timeout: float = 180) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=timeout)

    def output(self) -> str:
        """Everything written to the log so far."""
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL to the whole process group, git children included."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()

    def stop(self) -> None:
        """SIGTERM: uvicorn finishes what it is doing; SIGKILL after ``STOP_WITHIN`` s.
        Whatever is left of its group then goes too."""
        if self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(STOP_WITHIN)
        self.kill()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

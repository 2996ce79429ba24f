"""Real ``celery worker`` and ``celery beat`` processes for the integration tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

HERE = Path(__file__).resolve().parent
CELERY = str(Path(sys.executable).with_name("celery"))
BROKER = "redis://127.0.0.1:6379/3"
REDBEAT = "redis://127.0.0.1:6379/2"


@dataclass
class Runs:
    """What ``fixture.record`` ran with, as the worker wrote it to Redis."""

    key: str

    def all(self) -> list[dict[str, Any]]:
        client = redis.Redis.from_url(BROKER, decode_responses=True)
        try:
            return [json.loads(item) for item in client.lrange(self.key, 0, -1)]
        finally:
            client.close()

    def with_args(self, args: list[Any]) -> list[dict[str, Any]]:
        return [run for run in self.all() if run["args"] == args]


def wait_for(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def process_env(extra: dict[str, str]) -> tuple[dict[str, str], Runs]:
    tag = uuid.uuid4().hex[:8]
    env = dict(os.environ)
    env.update({
        "PYTHONPATH": os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "SCHEDSYNC_TEST_BROKER": BROKER,
        "SCHEDSYNC_TEST_REDBEAT": REDBEAT,
        "SCHEDSYNC_TEST_QUEUE": f"schedsync-test-{tag}",
        "SCHEDSYNC_TEST_RUNS": f"schedsync-test:runs:{tag}",
        "SCHEDSYNC_TEST_PREFIX": f"schedsync-test-{tag}:",
    })
    env.update(extra)
    return env, Runs(env["SCHEDSYNC_TEST_RUNS"])


@contextmanager
def celery_processes(env: dict[str, str], scheduler: str, workdir: Path) -> Iterator[None]:
    """A solo-pool worker on the test's queue and a beat with ``scheduler``; both are
    stopped (and, if need be, killed) whatever happens."""
    queue = env["SCHEDSYNC_TEST_QUEUE"]
    commands = {
        "worker": [CELERY, "-A", "fixture_celery_app", "worker", "--pool=solo", "-Q", queue,
                   "--without-heartbeat", "--without-gossip", "--without-mingle",
                   "-n", f"{queue}@%h", "-l", "info"],
        "beat": [CELERY, "-A", "fixture_celery_app", "beat", "-S", scheduler,
                 "--max-interval", "1", "-s", str(workdir / "celerybeat-schedule"),
                 "--pidfile=", "-l", "info"],
    }
    started: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        for name, command in commands.items():
            log = (workdir / f"{name}.log").open("wb")
            logs.append(log)
            started.append(subprocess.Popen(command, env=env, cwd=workdir, stdout=log,
                                            stderr=subprocess.STDOUT))
        yield
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
        client = redis.Redis.from_url(BROKER)
        for key in client.scan_iter(match=f"*{queue}*"):
            client.delete(key)
        client.delete(env["SCHEDSYNC_TEST_RUNS"])
        client.close()


def process_logs(workdir: Path) -> str:
    return "\n".join(
        f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
        for path in sorted(workdir.glob("*.log"))
    )

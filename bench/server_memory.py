"""Memory of a long-running API server: RSS and objects kept frozen over many requests.

    .venv/bin/python bench/server_memory.py [REQUESTS]     # default 1200

One in three requests is a PATCH (a write: YAML edit, commit, state, live apply), the
others a list page and a malformed POST. A server that keeps garbage shows RSS and the
frozen-object count climbing with the request count; a flat line is the target.
"""

from __future__ import annotations

import gc
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests" / "server"), str(ROOT / "tests")]

from api_support import make_repo, make_tokens  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from schedsync.server import create_app  # noqa: E402

BASE = "/api/v1/projects/acme/schedules"


def rss_mib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 // 2**20


def main() -> None:
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 1200
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        root = make_repo(Path(tmp) / "repo")
        auth = {"Authorization": f"Bearer {make_tokens(root)['admin']}"}
        with TestClient(create_app(root)) as client:
            ids = {s["name"]: s["id"] for s in client.get(BASE, headers=auth).json()["items"]}
            target = f"{BASE}/{ids['email.ping']}"
            first = None
            for i in range(requests + 1):
                if i % 3 == 0:
                    client.patch(target, json={"kwargs": {"n": i}}, headers=auth)
                elif i % 3 == 1:
                    client.get(BASE, headers=auth)
                else:
                    client.post(BASE, content=b"{bad", headers=auth)
                if i % max(1, requests // 4) == 0:
                    now = (rss_mib(), gc.get_freeze_count())
                    first = first or now
                    print(f"after {i:>5} requests: RSS {now[0]} MiB, frozen objects {now[1]:,}")
            assert first is not None
            print(f"growth over {requests} requests: RSS {now[0] - first[0]} MiB, "
                  f"frozen objects {now[1] - first[1]:+,}")


if __name__ == "__main__":
    main()

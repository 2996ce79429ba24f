"""Benchmark of the REST Schedules API against references measured in the same run.

1. Reads: a list page of 50 out of 10k schedules, with a bearer token, from a real
   ``schedsync serve`` process, against a minimal Starlette + orjson endpoint that
   returns a page of the same bytes (same uvicorn, uvloop + httptools). Load comes
   from a few Python client processes with keep-alive connections on loopback
   (wrk is used instead when it is installed).
2. Writes: sequential PATCHes of one field (YAML edit + commit + state + live apply)
   against bare ``git commit`` of a one-line change in a same-size repository.

Run: ``.venv/bin/python bench/api.py`` (a few minutes). Prints medians and ratios.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import orjson

SCHEDULES = 10_000
PER_FILE = 100
PAGE = 50
ROUNDS = 3
SECONDS = 3.0
CLIENTS = 4
WRITES = 15
CONFIG = textwrap.dedent("""\
    version: 1
    projects:
      bench:
        timezone: Europe/Berlin
        schedulers:
          aps:
            type: apscheduler
            jobstore: sqlalchemy
            url: sqlite:///.schedsync/jobs.sqlite
    """)


def build_repo(root: Path) -> None:
    folder = root / "schedules" / "bench"
    folder.mkdir(parents=True)
    (root / "schedsync.yaml").write_text(CONFIG)
    (root / ".gitignore").write_text(".schedsync/\n")
    for f in range(SCHEDULES // PER_FILE):
        lines = ["# generated for the API benchmark", "schedules:"]
        for i in range(PER_FILE):
            lines += [
                f"  - name: f{f:03d}.job{i:03d}",
                "    scheduler: aps",
                "    trigger_type: cron",
                f'    trigger: {{minute: "{i % 60}", hour: "{f % 24}", day_of_week: "*"}}',
                f"    task: bench.tasks:run_{i % 7}",
                f"    kwargs: {{file: {f}, index: {i}, locale: en-US}}",
                "    description: a generated schedule for the benchmark",
            ]
        (folder / f"f{f:03d}.yaml").write_text("\n".join(lines) + "\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "init")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com",
                    *args], cwd=root, check=True)


def make_token(root: Path) -> str:
    from schedsync.engine.state import StateStore

    store = StateStore.open(".schedsync/state.db", root)
    try:
        store.upsert_user("bench", email="bench@example.com", roles={"bench": "admin"})
        return store.create_token("bench")
    finally:
        store.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.DEVNULL,
                                stderr=errors)
        deadline = time.monotonic() + 180  # a busy shared machine starts slowly
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return proc
            except OSError:
                time.sleep(0.1)
        proc.kill()
        errors.seek(0)
        raise RuntimeError(f"{args} did not start: {errors.read().decode()[-2000:]}")


def reference_server(port: int, page_file: str) -> None:
    """The reference: the least a Starlette + orjson endpoint can do for this page."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    page = orjson.loads(Path(page_file).read_bytes())

    async def endpoint(request: Request) -> Response:
        return Response(orjson.dumps(page), media_type="application/json")

    app = Starlette(routes=[Route("/api/v1/projects/{slug}/schedules", endpoint)])
    uvicorn.run(app, host="127.0.0.1", port=port, loop="uvloop", http="httptools",
                log_level="warning")


def _client(port: int, path: str, headers: dict[str, str], until: float, out: Any) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    done = 0
    while time.monotonic() < until:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"status {response.status}")
        done += 1
    out.put(done)


def rps(port: int, path: str, headers: dict[str, str]) -> float:
    if shutil.which("wrk"):
        return _wrk(port, path, headers)
    queue: Any = multiprocessing.Queue()
    until = time.monotonic() + SECONDS
    procs = [multiprocessing.Process(target=_client, args=(port, path, headers, until, queue))
             for _ in range(CLIENTS)]
    for p in procs:
        p.start()
    total: int = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return total / SECONDS


def _wrk(port: int, path: str, headers: dict[str, str]) -> float:
    args = ["wrk", "-t2", "-c32", f"-d{int(SECONDS)}s"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("Requests/sec"))
    return float(line.split()[1])


def bench_reads(root: Path, token: str) -> tuple[float, float, int]:
    api_port, ref_port = free_port(), free_port()
    api = start(["-m", "schedsync", "--repo", str(root), "serve", "--port", str(api_port),
                 "--log-level", "warning"], api_port)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        conn = http.client.HTTPConnection("127.0.0.1", api_port)
        conn.request("GET", f"/api/v1/projects/bench/schedules?limit={PAGE}", headers=headers)
        cursor = orjson.loads(conn.getresponse().read())["next_cursor"]
        path = f"/api/v1/projects/bench/schedules?limit={PAGE}&cursor={cursor}"
        conn.request("GET", path, headers=headers)
        body = conn.getresponse().read()
        page_file = root.parent / "page.json"
        page_file.write_bytes(body)
        ref = start([__file__, "--reference", str(ref_port), str(page_file)], ref_port)
        try:
            rps(api_port, path, headers)  # warm up both
            rps(ref_port, path, {})
            api_runs, ref_runs = [], []
            for _ in range(ROUNDS):
                ref_runs.append(rps(ref_port, path, {}))
                api_runs.append(rps(api_port, path, headers))
        finally:
            ref.terminate()
            ref.wait()
        return statistics.median(api_runs), statistics.median(ref_runs), len(body)
    finally:
        api.terminate()
        api.wait()


def schedule_ids(root: Path, names: list[str]) -> list[str]:
    from schedsync.engine.state import StateStore

    store = StateStore.open(".schedsync/state.db", root)
    try:
        return [store.ensure_schedule("bench", name).id for name in names]
    finally:
        store.close()


def bench_writes(root: Path, plain: Path, token: str) -> dict[str, list[float]]:
    """One PATCH of one field per file, in a different file each time, each right after
    a bare ``git commit`` in the same-size repository ``plain`` (the reference sees
    the same moment of a busy machine).

    "api": the whole round trip; "http": the same minus the live apply as the server
    reports it in ``Server-Timing`` (``apply;dur=``), i.e. YAML edit + validation +
    commit + state + audit through the real server, HTTP included; "git": the
    reference. "api_cpu" / "git_cpu": CPU seconds of the server process (its git
    children included; the live apply cannot be told apart) and of the bare commit."""
    ids = schedule_ids(root, [f"f{n * 6:03d}.job000" for n in range(WRITES)])
    port = free_port()
    api = start(["-m", "schedsync", "--repo", str(root), "serve", "--port", str(port),
                 "--log-level", "warning"], port)
    times: dict[str, list[float]] = {"api": [], "http": [], "git": [], "api_cpu": [],
                                      "git_cpu": []}
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        for n, sid in enumerate(ids):
            git_s, git_cpu = git_write(plain, n * 6, f"edited by git {n}")
            times["git"].append(git_s)
            times["git_cpu"].append(git_cpu)
            body = orjson.dumps({"description": f"edited by the benchmark {n}"})
            cpu = _cpu_of(api.pid)
            started = time.perf_counter()
            conn.request("PATCH", f"/api/v1/projects/bench/schedules/{sid}", body=body,
                         headers=headers)
            response = conn.getresponse()
            response.read()
            took = time.perf_counter() - started
            if response.status != 200:
                raise RuntimeError(f"PATCH answered {response.status}")
            times["api"].append(took)
            times["http"].append(took - _apply_seconds(response.getheader("server-timing")))
            times["api_cpu"].append(_cpu_of(api.pid) - cpu)
        return times
    finally:
        api.terminate()
        api.wait()


def _cpu_of(pid: int) -> float:
    """CPU seconds of process ``pid`` and of its children that it has waited for."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _apply_seconds(header: str | None) -> float:
    for part in (header or "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "apply":
            return float(duration) / 1000
    raise RuntimeError(f"no apply duration in Server-Timing: {header!r}")


def bench_pipeline(root: Path, plain: Path) -> dict[str, list[float]]:
    """The write pipeline in process, without the live apply: YAML edit + validation +
    commit + state + audit (what the server does before it calls the scheduler), each
    right after a bare ``git commit`` in ``plain``. "pipeline_cpu": CPU seconds of this
    process and of its git children."""
    from unittest import mock

    from schedsync.server import edits, writes
    from schedsync.server.auth import Caller
    from schedsync.server.context import ApiContext

    ids = schedule_ids(root, [f"f{n * 6 + 1:03d}.job000" for n in range(WRITES)])
    ctx = ApiContext.open(root)
    caller = Caller("bench", "bench@example.com", True, {}, False)
    times: dict[str, list[float]] = {"pipeline": [], "git": [], "pipeline_cpu": [],
                                      "git_cpu": []}
    try:
        with mock.patch.object(writes, "apply_live", return_value={"status": "applied"}):
            for n, sid in enumerate(ids):
                git_s, git_cpu = git_write(plain, n * 6 + 1, f"edited by git {n}")
                times["git"].append(git_s)
                times["git_cpu"].append(git_cpu)
                change = edits.patch("bench", sid, {"description": f"in process {n}"})
                cpu = time.process_time() + _children_cpu()
                started = time.perf_counter()
                writes.run_write(ctx, caller, "bench", change, {"action": "update"})
                times["pipeline"].append(time.perf_counter() - started)
                times["pipeline_cpu"].append(time.process_time() + _children_cpu() - cpu)
    finally:
        ctx.close()
    return times


def git_write(root: Path, file: int, text: str) -> tuple[float, float]:
    """The reference: a one-line change of schedule file ``file`` and a bare commit.
    Returns (wall seconds, CPU seconds of this process and of git)."""
    path = root / "schedules" / "bench" / f"f{file:03d}.yaml"
    edited = path.read_text().replace("a generated schedule for the benchmark", text, 1)
    cpu = time.process_time() + _children_cpu()
    started = time.perf_counter()
    path.write_text(edited)
    git(root, "commit", "-q", "-m", f"edit {file}", "--", str(path.relative_to(root)))
    return time.perf_counter() - started, time.process_time() + _children_cpu() - cpu


def apply_all(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "schedsync", "--repo", str(root), "apply",
                    "--auto-approve"], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="schedsync-bench-") as tmp:
        root, plain = Path(tmp) / "repo", Path(tmp) / "plain"
        build_repo(root)
        build_repo(plain)
        token = make_token(root)
        print(f"repository: {SCHEDULES} schedules in {SCHEDULES // PER_FILE} files")
        if "--apply-all" in sys.argv:
            print(f"  live apply of all took {apply_all(root):.1f} s")
        api_rps, ref_rps, size = bench_reads(root, token)
        print(f"list page of {PAGE} ({size} bytes), auth on: schedsync {api_rps:,.0f} req/s, "
              f"minimal Starlette+orjson {ref_rps:,.0f} req/s (median of {ROUNDS}, "
              f"{'wrk' if shutil.which('wrk') else f'{CLIENTS} Python clients'})")
        print(f"  ratio {api_rps / ref_rps:.2f}x")
        over_http, in_process = bench_writes(root, plain, token), bench_pipeline(root, plain)
        print(f"sequential writes, medians of {WRITES}, each right after a bare git commit "
              "of a one-line change in a same-size repository:")
        for label, times, reference in (
            ("API PATCH over HTTP, YAML edit + validation + commit + state + audit "
             "(live apply excluded: Server-Timing)", over_http["http"], over_http["git"]),
            ("the same in process, no HTTP", in_process["pipeline"], in_process["git"]),
            ("whole API PATCH over HTTP incl. the live apply", over_http["api"],
             over_http["git"]),
        ):
            took, git_s = statistics.median(times), statistics.median(reference)
            print(f"  {label}: {1 / took:.1f}/s ({took * 1000:.1f} ms); git commit "
                  f"{1 / git_s:.1f}/s ({git_s * 1000:.1f} ms); ratio {git_s / took:.2f}x")
        # Means, not medians: the kernel counts a process's CPU in 10 ms ticks.
        print("  CPU time per write (means; ratio = git's CPU / ours):")
        for label, cpu, reference in (
            ("in process, no HTTP (live apply excluded)", in_process["pipeline_cpu"],
             in_process["git_cpu"]),
            ("server process over HTTP incl. the live apply", over_http["api_cpu"],
             over_http["git_cpu"]),
        ):
            ours, git_cpu = statistics.mean(cpu), statistics.mean(reference)
            print(f"    {label}: {ours * 1000:.1f} ms; git commit {git_cpu * 1000:.1f} ms; "
                  f"ratio {git_cpu / ours:.2f}x")
        print(f"  load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--reference":
        reference_server(int(sys.argv[2]), sys.argv[3])
    else:
        parser = argparse.ArgumentParser(description=__doc__)
        parser.add_argument("--apply-all", action="store_true",
                            help="first apply all schedules to the live store (slow)")
        parser.parse_args()
        os.environ.setdefault("PYTHONHASHSEED", "0")
        main()

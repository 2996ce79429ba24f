"""Schemathesis against ``/api/v1/openapi.json`` of a real ``schedsync serve`` (uvicorn)
over a real git repository: no 5xx, every answer as the document describes it; then
hostile bytes and queries on every route. A small budget here; ``python -m stress fuzz``
sends over 10,000."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fuzz_support import ApiReport, Server, fuzz_openapi, fuzz_raw, serve, server_tracebacks
from fuzz_support import write_repo as make_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("schemathesis")
    root = make_repo(work / "repo", {})
    with serve(root, work) as running:
        yield running


def _check(report: ApiReport, server: Server) -> None:
    assert report.server_errors == []
    assert report.nonconforming == []
    assert server_tracebacks(server) == 0, server.log_text()[-4000:]


def test_openapi_operations_conform_and_never_fail(server: Server) -> None:
    report = fuzz_openapi(server, examples=6)
    _check(report, server)
    assert report.inputs >= 100, report.inputs
    # The cases reached the handlers: successes and refusals both happened.
    assert any(200 <= status < 300 for status in report.statuses), report.statuses
    assert report.statuses[422] + report.statuses[400] > 0, report.statuses


def test_hostile_bytes_and_queries_never_fail(server: Server) -> None:
    report = fuzz_raw(server, examples=120)
    _check(report, server)
    assert report.inputs == 120


def test_the_repository_stays_clean(server: Server) -> None:
    import subprocess

    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                            cwd=server.root, capture_output=True, text=True, check=True)
    assert status.stdout == ""
    outside = [p for p in (server.root / "schedules").iterdir() if p.name not in ("acme",)]
    assert outside == [], outside
    assert not (server.root.parent / "x.yaml").exists()
    assert Path(server.root / "schedsync.yaml").read_text().startswith("version: 1")

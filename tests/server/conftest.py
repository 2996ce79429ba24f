"""Fixtures for the API tests (helpers live in ``api_support``, a unique module name)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_support import Api, make_repo, make_tokens
from starlette.testclient import TestClient


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


@pytest.fixture
def api(repo: Path) -> Iterator[Api]:
    from schedsync.server import create_app

    tokens = make_tokens(repo)
    app = create_app(repo)
    with TestClient(app) as client:
        yield Api(client, repo, tokens)

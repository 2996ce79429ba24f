"""Headers that a proxy would normally refuse reach the app under other servers (and in
tests): an odd Content-Length must be a 400 or 413, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fuzz_support import make_token, write_repo
from starlette.testclient import TestClient

from schedsync.server import create_app


@pytest.fixture(scope="module")
def client_and_token(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[TestClient, str]]:
    root = write_repo(tmp_path_factory.mktemp("headers") / "repo", {})
    token = make_token(root)
    with TestClient(create_app(root), raise_server_exceptions=False) as client:
        yield client, token


@pytest.mark.parametrize(("length", "status"), [
    (b"\xc2\xb2", 400),  # '²': str.isdigit() says yes, int() says no
    (b"\xd9\xa1\xd9\xa2", 400),  # Arabic-Indic digits
    (b"9" * 5000, 413),  # over int()'s 4,300-digit limit
    (b"1048577", 413),
    (b"-1", 400),
    (b"", 400),
    (b" 2 ", 200),
    (b"0" * 30 + b"2", 200),
])
def test_odd_content_lengths(client_and_token: tuple[TestClient, str], length: bytes,
                             status: int) -> None:
    client, token = client_and_token
    response = client.post(
        "/api/v1/projects/acme/schedules:diff", content=b"{}",
        headers=[(b"authorization", f"Bearer {token}".encode()),
                 (b"content-type", b"application/json"), (b"content-length", length)],
    )
    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["error"] in ("invalid_request", "payload_too_large")


def test_raw_header_list_reaches_the_app(client_and_token: tuple[TestClient, str]) -> None:
    # The test above is only meaningful if the client sends the header as given.
    client, token = client_and_token
    response = client.post("/api/v1/projects/acme/schedules:diff", content=b"{}",
                           headers=[(b"authorization", f"Bearer {token}".encode()),
                                    (b"content-length", b"x")])
    assert response.status_code == 400

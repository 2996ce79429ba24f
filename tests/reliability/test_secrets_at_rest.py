"""Tokens and session ids are stored only as digests (SPEC section 6): after handing
out tokens (CLI) and sessions (API), no table, column or file of the state holds one."""

from __future__ import annotations

from pathlib import Path

from security_support import (
    config_with_state,
    make_auth_secrets,
    make_repo,
    scan_database,
    scan_files,
    sqlite_state_files,
)

STATE = ".schedsync/state.db"


def _repo(root: Path, state: str) -> Path:
    make_repo(root)
    (root / "schedsync.yaml").write_text(config_with_state(state))
    return root


def _raw_secrets(secrets: list[str]) -> list[str]:
    # The CSRF values are not credentials (a page can read them); tokens and sessions are.
    tokens, sessions = secrets[:3], secrets[3::2]
    return tokens + sessions


def test_sqlite_state_holds_no_token_or_session(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", STATE)
    secrets, digests = make_auth_secrets(root)
    raw = _raw_secrets(secrets)
    assert len(raw) == 6
    in_tables = scan_database(f"sqlite:///{root / STATE}", raw + digests)
    in_files = scan_files(sqlite_state_files(root), raw + digests)
    # The scans work: each token's digest is found where it belongs.
    for digest in digests:
        assert in_tables[digest] == ["schedsync_tokens.token_hash"]
        assert in_files[digest]
    leaks = {s[:8] + "...": where for s in raw for where in (in_tables[s] + in_files[s],)
             if where}
    assert not leaks, leaks


def test_postgres_state_holds_no_token_or_session(tmp_path: Path, postgres_url: str) -> None:
    root = _repo(tmp_path / "repo", postgres_url)
    secrets, digests = make_auth_secrets(root)
    raw = _raw_secrets(secrets)
    found = scan_database(postgres_url, raw + digests)
    for digest in digests:
        assert found[digest] == ["schedsync_tokens.token_hash"]
    leaks = {s[:8] + "...": found[s] for s in raw if found[s]}
    assert not leaks, leaks

"""Opening old, new and broken state databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedsync.engine.state import SCHEMA_VERSION, StateError, StateSchemaTooNew, StateStore
from schedsync.engine.state.connect import postgres_url
from schedsync.engine.state.schema import metadata

LINEAGE = "5b0c4c8e-8f8e-4b55-9a4e-5a1d3c2b1a00"

# Version 1 as released: written out by hand, so that a change to the migrations that
# would no longer upgrade real users' files fails here.
V1 = """
CREATE TABLE schedsync_meta (id INTEGER NOT NULL PRIMARY KEY,
  schema_version INTEGER NOT NULL, lineage VARCHAR(36) NOT NULL, serial BIGINT NOT NULL,
  created_at VARCHAR(32) NOT NULL);
CREATE TABLE schedsync_schedules (id VARCHAR(36) NOT NULL PRIMARY KEY,
  project VARCHAR(200) NOT NULL, name VARCHAR(400) NOT NULL,
  created_at VARCHAR(32) NOT NULL, updated_at VARCHAR(32) NOT NULL,
  CONSTRAINT schedsync_schedules_project_name UNIQUE (project, name));
CREATE TABLE schedsync_bindings (
  schedule_id VARCHAR(36) NOT NULL REFERENCES schedsync_schedules (id),
  scheduler VARCHAR(200) NOT NULL, entry_key VARCHAR(400) NOT NULL, base_spec TEXT NOT NULL,
  managed BOOLEAN NOT NULL, applied_at VARCHAR(32) NOT NULL,
  PRIMARY KEY (schedule_id, scheduler));
CREATE TABLE schedsync_fires (seq {serial}, id VARCHAR(36) NOT NULL UNIQUE,
  schedule_id VARCHAR(36) REFERENCES schedsync_schedules (id),
  task_id VARCHAR(255) NOT NULL UNIQUE, fired_at VARCHAR(32) NOT NULL,
  source VARCHAR(16) NOT NULL, status VARCHAR(16) NOT NULL, finished_at VARCHAR(32),
  error TEXT);
CREATE INDEX schedsync_fires_by_time ON schedsync_fires (schedule_id, fired_at, seq);
CREATE TABLE schedsync_apply_lock (name VARCHAR(32) NOT NULL PRIMARY KEY,
  token VARCHAR(64) NOT NULL, holder VARCHAR(400) NOT NULL, host VARCHAR(255) NOT NULL,
  pid INTEGER NOT NULL, acquired_at VARCHAR(32) NOT NULL);
INSERT INTO schedsync_meta VALUES (1, 1, '{lineage}', 7, '2025-06-01T00:00:00.000000Z');
INSERT INTO schedsync_schedules VALUES ('0d9a3c52-5f7e-5a54-9f0e-000000000001', 'acme',
  'email.digest', '2025-06-01T00:00:00.000000Z', '2025-06-02T00:00:00.000000Z');
INSERT INTO schedsync_bindings VALUES ('0d9a3c52-5f7e-5a54-9f0e-000000000001', 'aps',
  'acme.email.digest', '{{"task": "email.send"}}', TRUE, '2025-06-02T00:00:00.000000Z');
INSERT INTO schedsync_fires (id, schedule_id, task_id, fired_at, source, status)
  VALUES ('f1', '0d9a3c52-5f7e-5a54-9f0e-000000000001', 'task-1',
  '2025-06-03T09:00:00.000000Z', 'schedule', 'pending');
"""


@pytest.fixture(params=["sqlite", "postgres"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(location for StateStore.open, SQLAlchemy URL) of an empty database."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        yield url, url
    else:
        yield "state.db", f"sqlite:///{tmp_path / 'state.db'}"


def _run(url: str, script: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in filter(str.strip, script.split(";")):
            conn.exec_driver_sql(statement)
    engine.dispose()


def _columns(url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(url)
    inspector = sa.inspect(engine)
    found = {t: {c["name"] for c in inspector.get_columns(t)}
             for t in inspector.get_table_names() if t.startswith("schedsync_")}
    engine.dispose()
    return found


EXPECTED = {t.name: {c.name for c in t.columns} for t in metadata.sorted_tables}


def test_a_fresh_database_has_exactly_the_current_schema(empty_db: tuple[str, str],
                                                         tmp_path: Path) -> None:
    location, url = empty_db
    StateStore.open(location, tmp_path).close()
    assert _columns(url) == EXPECTED


def test_a_version_1_database_is_upgraded_keeping_its_data(empty_db: tuple[str, str],
                                                          tmp_path: Path) -> None:
    location, url = empty_db
    serial = "SERIAL PRIMARY KEY" if url.startswith("postgresql") else "INTEGER PRIMARY KEY"
    _run(url, V1.format(serial=serial, lineage=LINEAGE))
    with StateStore.open(location, tmp_path) as store:
        assert (store.lineage, store.serial()) == (LINEAGE, 7)
        record = store.schedule_records("acme")["email.digest"]
        assert record.updated_at == datetime(2025, 6, 2, tzinfo=UTC)
        assert record.last_run_at is None  # a v2 column, added empty
        binding = store.bindings("acme", "aps")["email.digest"]
        assert binding.base_spec == {"task": "email.send"}
        assert binding.live_digest is None  # a v4 column, added empty: plans read it whole
        assert [f.task_id for f in store.fires("acme", "email.digest")[0]] == ["task-1"]
        # What version 2 added works on the upgraded file.
        store.set_run_times("acme", "email.digest", datetime(2025, 6, 3, 9, tzinfo=UTC), None)
        store.upsert_user("ann", roles={"acme": "admin"})
        store.audit(actor="ann", action="patch", project="acme", target="email.digest",
                    result="ok")
        # What version 4 added works on the upgraded file.
        store.record_applied_many("acme", "aps", [("email.digest", "email.digest",
                                                  {"task": "email.send"})], digests={
            "email.digest": "d1"})
        assert store.bindings("acme", "aps")["email.digest"].live_digest == "d1"
        assert store.check_integrity() == []
    assert _columns(url) == EXPECTED
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        version, auth_version = conn.exec_driver_sql(
            "SELECT schema_version, auth_version FROM schedsync_meta").one()
    engine.dispose()
    assert version == SCHEMA_VERSION == 4
    assert auth_version == 1  # v3: the access change above (upsert_user) was counted


def test_a_newer_schema_is_refused_with_a_clear_message(empty_db: tuple[str, str],
                                                        tmp_path: Path) -> None:
    location, url = empty_db
    StateStore.open(location, tmp_path).close()
    _run(url, "UPDATE schedsync_meta SET schema_version = 99")
    wanted = rf"schema version 99.*up to {SCHEMA_VERSION}; upgrade schedsync"
    with pytest.raises(StateSchemaTooNew, match=wanted):
        StateStore.open(location, tmp_path)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").write_bytes(b"this is a YAML file, not SQLite\n" * 100)
    with pytest.raises(StateError, match=r"state\.db.*schedsync state file"):
        StateStore.open("state.db", tmp_path)


def test_an_unsupported_location_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match=r"unsupported scheme.*postgresql:// URL"):
        StateStore.open("mysql://db/state", tmp_path)


def test_an_unreachable_postgres_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StateError, match=r"127\.0\.0\.1:1/x.*reachable") as caught:
        StateStore.open("postgresql://postgres:secret@127.0.0.1:1/x", tmp_path)
    assert "secret" not in str(caught.value)


def test_postgres_urls_use_psycopg_3() -> None:
    assert postgres_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert postgres_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert postgres_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_an_absolute_sqlite_path_and_a_sqlite_url(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    with StateStore.open(str(other / "s.db"), tmp_path / "repo") as store:
        store.bump_serial()
    with StateStore.open(f"sqlite:///{other / 's.db'}", tmp_path / "repo") as store:
        assert store.serial() == 1

"""Step-by-step schema upgrades.

Each step takes a database at version N-1 to N and is never edited once released: its
tables are declared here, frozen, not taken from ``schema.py`` (which always describes
the newest version). A fresh database runs every step from 0, so the path that upgrades
users' files is the path every test exercises.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import sqlalchemy as sa

from schedsync.engine.state.coltypes import JSONText, UTCDateTime, utcnow
from schedsync.engine.state.errors import StateSchemaTooNew
from schedsync.engine.state.schema import PREFIX, SCHEMA_VERSION, meta

P = PREFIX


def _to_v1(conn: sa.Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        f"{P}meta",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("schema_version", sa.Integer, nullable=False),
        sa.Column("lineage", sa.String(36), nullable=False),
        sa.Column("serial", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    sched = sa.Table(
        f"{P}schedules",
        md,
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project", sa.String(200), nullable=False),
        sa.Column("name", sa.String(400), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("project", "name", name=f"{P}schedules_project_name"),
    )
    sa.Table(
        f"{P}bindings",
        md,
        sa.Column("schedule_id", sa.String(36), sa.ForeignKey(sched.c.id), primary_key=True),
        sa.Column("scheduler", sa.String(200), primary_key=True),
        sa.Column("entry_key", sa.String(400), nullable=False),
        sa.Column("base_spec", JSONText, nullable=False),
        sa.Column("managed", sa.Boolean, nullable=False),
        sa.Column("applied_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        f"{P}fires",
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("schedule_id", sa.String(36), sa.ForeignKey(sched.c.id)),
        sa.Column("task_id", sa.String(255), nullable=False, unique=True),
        sa.Column("fired_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("error", sa.Text),
        sa.Index(f"{P}fires_by_time", "schedule_id", "fired_at", "seq"),
    )
    sa.Table(
        f"{P}apply_lock",
        md,
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("holder", sa.String(400), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", UTCDateTime, nullable=False),
    )
    md.create_all(conn)
    conn.execute(
        meta.insert().values(
            id=1,
            schema_version=1,
            lineage=str(uuid.uuid4()),
            serial=0,
            created_at=utcnow(),
        )
    )


def _to_v2(conn: sa.Connection) -> None:
    """Run times on schedules; audit log, users, tokens and browser sessions."""
    for column in ("last_run_at", "next_run_at"):
        conn.exec_driver_sql(f"ALTER TABLE {P}schedules ADD COLUMN {column} VARCHAR(32)")
    md = sa.MetaData()
    user_table = sa.Table(
        f"{P}users",
        md,
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        f"{P}audit",
        md,
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("project", sa.String(200), nullable=False, index=True),
        sa.Column("target", sa.String(400), nullable=False),
        sa.Column("result", sa.String(100), nullable=False),
        sa.Column("details", JSONText),
    )
    user_fk = sa.ForeignKey(user_table.c.name)
    sa.Table(
        f"{P}user_roles",
        md,
        sa.Column("user_name", sa.String(200), user_fk, primary_key=True),
        sa.Column("project", sa.String(200), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    sa.Table(
        f"{P}tokens",
        md,
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_name",
            sa.String(200),
            sa.ForeignKey(user_table.c.name),
            nullable=False,
            index=True,
        ),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    sa.Table(
        f"{P}sessions",
        md,
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column(
            "user_name",
            sa.String(200),
            sa.ForeignKey(user_table.c.name),
            nullable=False,
            index=True,
        ),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    md.create_all(conn)


def _to_v3(conn: sa.Connection) -> None:
    """A counter of access changes, so servers stop reloading users after every write."""
    conn.exec_driver_sql(
        f"ALTER TABLE {P}meta ADD COLUMN auth_version BIGINT NOT NULL DEFAULT 0")


def _to_v4(conn: sa.Connection) -> None:
    """Each binding's digest of the live entry as its apply left it (plans skip reading
    entries that still have it)."""
    conn.exec_driver_sql(f"ALTER TABLE {P}bindings ADD COLUMN live_digest VARCHAR(128)")
    conn.exec_driver_sql(
        f"CREATE INDEX {P}bindings_digested ON {P}bindings (scheduler) "
        "WHERE live_digest IS NOT NULL")


STEPS: dict[int, Callable[[sa.Connection], None]] = {
    1: _to_v1, 2: _to_v2, 3: _to_v3, 4: _to_v4,
}
assert sorted(STEPS) == list(range(1, SCHEMA_VERSION + 1)), "a migration step is missing"


def stored_version(conn: sa.Connection) -> int:
    """0 for an empty database."""
    if not sa.inspect(conn).has_table(meta.name):
        return 0
    version = conn.execute(sa.select(meta.c.schema_version).where(meta.c.id == 1)).scalar()
    return int(version) if version is not None else 0


def migrate(conn: sa.Connection, where: str) -> int:
    """Bring the database to ``SCHEMA_VERSION`` inside the caller's write transaction.

    Returns the version found. The caller holds the write lock, so a second process
    opening the same file at the same time sees the upgraded schema, not a half one.
    """
    found = stored_version(conn)
    if found > SCHEMA_VERSION:
        raise StateSchemaTooNew(
            f"{where}: the state has schema version {found}, but this schedsync only "
            f"knows versions up to {SCHEMA_VERSION}; upgrade schedsync (the state was "
            "written by a newer release) or point `state:` in schedsync.yaml elsewhere"
        )
    for target in range(found + 1, SCHEMA_VERSION + 1):
        STEPS[target](conn)
        conn.execute(meta.update().where(meta.c.id == 1).values(schema_version=target))
    return found

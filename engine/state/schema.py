"""The current schema (version ``SCHEMA_VERSION``), used by every query.

Tables carry a ``schedsync_`` prefix so that the state can share a PostgreSQL database
with a scheduler's own tables. ``migrations.py`` builds exactly this shape step by step;
a test compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa

from schedsync.engine.state.coltypes import JSONText, UTCDateTime

SCHEMA_VERSION = 4
PREFIX = "schedsync_"

metadata = sa.MetaData()

meta = sa.Table(
    f"{PREFIX}meta",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
    sa.Column("schema_version", sa.Integer, nullable=False),
    sa.Column("lineage", sa.String(36), nullable=False),
    sa.Column("serial", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # Bumped by every change of users, roles, tokens or sessions that can end or narrow
    # access, so servers know when their cached look-ups are stale (v3).
    sa.Column("auth_version", sa.BigInteger, nullable=False, server_default="0"),
)

schedules = sa.Table(
    f"{PREFIX}schedules",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("project", sa.String(200), nullable=False),
    sa.Column("name", sa.String(400), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_run_at", UTCDateTime),
    sa.Column("next_run_at", UTCDateTime),
    sa.UniqueConstraint("project", "name", name=f"{PREFIX}schedules_project_name"),
)

bindings = sa.Table(
    f"{PREFIX}bindings",
    metadata,
    sa.Column("schedule_id", sa.String(36), sa.ForeignKey(schedules.c.id), primary_key=True),
    sa.Column("scheduler", sa.String(200), primary_key=True),
    sa.Column("entry_key", sa.String(400), nullable=False),
    sa.Column("base_spec", JSONText, nullable=False),
    sa.Column("managed", sa.Boolean, nullable=False),
    sa.Column("applied_at", UTCDateTime, nullable=False),
    # The store's digest of the entry as that apply left it (None: not known), read in
    # the transaction that wrote it: while the entry's digest is still this, it holds
    # the base, and a plan need not read it whole (``Binding.live_digest``).
    sa.Column("live_digest", sa.String(128)),
    sa.Index(f"{PREFIX}bindings_digested", "scheduler",
             sqlite_where=sa.text("live_digest IS NOT NULL"),
             postgresql_where=sa.text("live_digest IS NOT NULL")),
)

fires = sa.Table(
    f"{PREFIX}fires",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    # NULL while only a worker's report is known (it may arrive before beat's record).
    sa.Column("schedule_id", sa.String(36), sa.ForeignKey(schedules.c.id)),
    sa.Column("task_id", sa.String(255), nullable=False, unique=True),
    sa.Column("fired_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("error", sa.Text),
    sa.Index(f"{PREFIX}fires_by_time", "schedule_id", "fired_at", "seq"),
)

apply_lock = sa.Table(
    f"{PREFIX}apply_lock",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("token", sa.String(64), nullable=False),
    sa.Column("holder", sa.String(400), nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
)

audit = sa.Table(
    f"{PREFIX}audit",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(100), nullable=False),
    sa.Column("project", sa.String(200), nullable=False, index=True),
    sa.Column("target", sa.String(400), nullable=False),
    sa.Column("result", sa.String(100), nullable=False),
    sa.Column("details", JSONText),
)

users = sa.Table(
    f"{PREFIX}users",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("admin", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

user_roles = sa.Table(
    f"{PREFIX}user_roles",
    metadata,
    sa.Column("user_name", sa.String(200), sa.ForeignKey(users.c.name), primary_key=True),
    sa.Column("project", sa.String(200), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
)

tokens = sa.Table(
    f"{PREFIX}tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),  # sha256 hex, never the token
    sa.Column("user_name", sa.String(200), sa.ForeignKey(users.c.name), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

sessions = sa.Table(
    f"{PREFIX}sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("user_name", sa.String(200), sa.ForeignKey(users.c.name), nullable=False, index=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
)

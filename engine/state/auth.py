"""Users, API tokens and browser sessions.

Tokens and session ids are 256-bit random secrets, so a plain sha256 is a safe thing to
store (no salt or slow hash is needed against guessing); the plaintext is shown once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import sqlalchemy as sa

from schedsync.engine.errors import NotFound
from schedsync.engine.state.errors import InvalidRole
from schedsync.engine.state.records import ROLES, User
from schedsync.engine.state.schema import meta, sessions, tokens, user_roles, users
from schedsync.engine.state.sql import upsert

TOKEN_PREFIX = "ssk_"  # noqa: S105 (a prefix, not a secret)
# PostgreSQL: notified in every transaction that ends or narrows access, so servers
# drop their cached look-ups at once (SQLite servers watch the file's data_version).
AUTH_CHANNEL = "schedsync_auth"


def _notify(conn: sa.Connection) -> None:
    """In the transaction of the change: servers watching SQLite read the counter when
    the file's data_version moves; PostgreSQL servers also get the NOTIFY at once."""
    conn.execute(meta.update().where(meta.c.id == 1)
                 .values(auth_version=meta.c.auth_version + 1))
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"NOTIFY {AUTH_CHANNEL}"))


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def load_user(conn: sa.Connection, name: str) -> User | None:
    row = conn.execute(users.select().where(users.c.name == name)).first()
    if row is None:
        return None
    query = sa.select(user_roles.c.project, user_roles.c.role).where(user_roles.c.user_name == name)
    roles = {r.project: r.role for r in conn.execute(query)}
    return User(name=row.name, email=row.email, admin=bool(row.admin), roles=roles)


def _require(conn: sa.Connection, name: str) -> User:
    user = load_user(conn, name)
    if user is None:
        raise NotFound(
            f"state: no user {name!r}; create it with `schedsync token create --user {name}`"
        )
    return user


def _check_roles(roles: dict[str, str]) -> None:
    for project, role in roles.items():
        if role not in ROLES:
            raise InvalidRole(
                f"role {role!r} for project {project!r}: use one of {', '.join(ROLES)} "
                f"(e.g. --role {project}=operator)"
            )


def upsert_user(
    conn: sa.Connection,
    name: str,
    *,
    email: str | None,
    admin: bool | None,
    roles: dict[str, str] | None,
    now: datetime,
) -> User:
    """Create or extend: unset arguments keep what is stored, roles are merged."""
    _check_roles(roles or {})
    existing = load_user(conn, name)
    if existing is None:
        conn.execute(
            users.insert().values(name=name, email=email, admin=bool(admin), created_at=now)
        )
    else:
        values: dict[str, object] = {}
        if email is not None:
            values["email"] = email
        if admin is not None:
            values["admin"] = admin
        if values:
            conn.execute(users.update().where(users.c.name == name).values(**values))
    rows = [{"user_name": name, "project": p, "role": r} for p, r in (roles or {}).items()]
    upsert(conn, user_roles, ("user_name", "project"), rows)
    _notify(conn)  # roles or admin may have changed
    return _require(conn, name)


def create_token(conn: sa.Connection, user: str, now: datetime) -> str:
    _require(conn, user)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(tokens.insert().values(token_hash=digest(token), user_name=user, created_at=now))
    return token


def revoke_tokens(conn: sa.Connection, user: str) -> int:
    """Ends every token and every browser session of ``user``; returns tokens ended."""
    _require(conn, user)
    conn.execute(sessions.delete().where(sessions.c.user_name == user))
    ended = tokens.delete().where(tokens.c.user_name == user).returning(tokens.c.token_hash)
    _notify(conn)
    return len(conn.execute(ended).all())  # not rowcount: psycopg may say -1


def user_for_token(conn: sa.Connection, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    wanted = digest(token)
    row = conn.execute(
        sa.select(tokens.c.token_hash, tokens.c.user_name).where(tokens.c.token_hash == wanted)
    ).first()
    # The lookup already matched; the constant-time compare keeps the check explicit.
    if row is None or not hmac.compare_digest(row.token_hash, wanted):
        return None
    return load_user(conn, row.user_name)


def create_session(
    conn: sa.Connection, user: str, now: datetime, expires_at: datetime
) -> tuple[str, str]:
    _require(conn, user)
    conn.execute(sessions.delete().where(sessions.c.expires_at <= now))  # sweep old ones
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    conn.execute(
        sessions.insert().values(
            session_hash=digest(session_id),
            user_name=user,
            csrf_token=csrf,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return session_id, csrf


def session_user(conn: sa.Connection, session_id: str, now: datetime) -> tuple[User, str] | None:
    wanted = digest(session_id)
    row = conn.execute(sessions.select().where(sessions.c.session_hash == wanted)).first()
    if row is None or row.expires_at <= now or not hmac.compare_digest(row.session_hash, wanted):
        return None
    user = load_user(conn, row.user_name)
    return None if user is None else (user, row.csrf_token)


def delete_session(conn: sa.Connection, session_id: str) -> None:
    conn.execute(sessions.delete().where(sessions.c.session_hash == digest(session_id)))
    _notify(conn)

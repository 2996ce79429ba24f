"""Who is calling, and what they may do.

Bearer tokens and browser sessions both resolve to a state-store ``User``. A request
carried by the session cookie must repeat the CSRF value in ``X-CSRF-Token`` when it
changes anything (compared in constant time); a bearer token cannot be sent by a
foreign page, so it needs no CSRF check.
"""

from __future__ import annotations

import enum
import hmac
import sqlite3
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from schedsync.engine.errors import FatalError
from schedsync.engine.state.auth import AUTH_CHANNEL
from schedsync.engine.state.schema import meta
from schedsync.server.errors import ApiError

if TYPE_CHECKING:
    from schedsync.engine.state import StateStore

SESSION_COOKIE = "schedsync_session"
CSRF_COOKIE = "schedsync_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# POSTs that only read (their options travel in a body): the SPEC table asks no CSRF.
READ_ONLY_POSTS = ("/schedules:diff",)


class Role(enum.IntEnum):
    NONE = 0
    VIEWER = 1
    OPERATOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str | None) -> Role:
        if not text:
            return cls.NONE
        return cls.__members__.get(text.upper(), cls.NONE)


ROLE_NAMES = ("viewer", "operator", "admin")


@dataclass(frozen=True)
class Caller:
    name: str
    email: str | None
    admin: bool
    roles: dict[str, str]
    via_session: bool

    def role_in(self, project: str) -> Role:
        if self.admin:
            return Role.ADMIN
        return Role.parse(self.roles.get(project))

    @property
    def author_email(self) -> str:
        return self.email or f"{self.name}@users.schedsync.invalid"


def _caller(user: Any, via_session: bool) -> Caller:
    return Caller(
        name=str(user.name),
        email=getattr(user, "email", None),
        admin=bool(getattr(user, "admin", False)),
        roles=dict(getattr(user, "roles", {}) or {}),
        via_session=via_session,
    )


_CACHE_SECONDS = 1.0


class SqliteChanges:
    """Whether users, roles, tokens or sessions changed since the last look (~4 us).

    ``PRAGMA data_version`` changes when another connection (any process: the
    ``schedsync token revoke`` CLI included) commits; only then is the state's
    ``auth_version`` read, which every access change bumps in its own transaction. The
    server's own schedule writes move data_version but not auth_version, so they no
    longer cost the next request a reload of its user.
    """

    def __init__(self, path: Path) -> None:
        self.seen: int | None = None
        self.auth_seen: int | None = None
        uri = path.resolve().as_uri() + "?mode=ro"
        self.conn = sqlite3.connect(uri, uri=True, check_same_thread=False,
                                    isolation_level=None)
        weakref.finalize(self, self.conn.close)  # closed with the app's cache

    def changed(self) -> bool:
        try:
            version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
            if version == self.seen:
                return False
            row = self.conn.execute(
                f"SELECT auth_version FROM {meta.name} WHERE id = 1").fetchone()
        except sqlite3.Error:
            self.seen = None
            return True  # unsure: look up again
        self.seen = version
        auth = int(row[0]) if row is not None else None
        changed, self.auth_seen = auth is None or auth != self.auth_seen, auth
        return changed


class PostgresChanges:
    """Whether a user, token or session changed, from PostgreSQL's NOTIFY (~0.1 ms).

    ``engine.state.auth`` notifies ``AUTH_CHANNEL`` in the transaction of every revoke,
    logout and role change. A notification reaches the listening socket a moment after
    the notifier's commit, so polling the socket alone can miss a revoke that has just
    returned; a round trip (``SELECT 1``) makes the server hand over every notification
    committed before it. Without the listening connection (the server was down or
    restarted) every call says "changed", so nothing stale is ever served.
    """

    RETRY_SECONDS = 1.0

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None
        self.tried = 0.0
        self.notified = False
        self.connect()

    def connect(self) -> None:
        import psycopg

        self.tried = time.monotonic()
        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=2)
        except psycopg.Error:
            self.conn = None
            return
        weakref.finalize(self, conn.close)  # closed with the app's cache
        conn.add_notify_handler(self._note)
        try:
            conn.execute(f"LISTEN {AUTH_CHANNEL}")
        except psycopg.Error:
            conn.close()
            self.conn = None
            return
        self.conn = conn

    def changed(self) -> bool:
        import psycopg

        if self.conn is None:
            if time.monotonic() - self.tried >= self.RETRY_SECONDS:
                self.connect()
            return True
        try:
            self.conn.execute("SELECT 1")  # delivers what was committed before it
        except psycopg.Error:
            self.conn.close()
            self.conn = None
            return True
        notified, self.notified = self.notified, False
        return notified

    def _note(self, _notify: Any) -> None:
        self.notified = True


def watch_state(location: str, root: Path) -> SqliteChanges | PostgresChanges | None:
    """The change signal of the state at ``location`` (as in schedsync.yaml)."""
    from schedsync.engine.state.connect import is_postgres, sqlite_path

    try:
        if is_postgres(location):
            return PostgresChanges("postgresql://" + location.split("://", 1)[1])
        path = sqlite_path(location, root)
        return SqliteChanges(path) if path.is_file() else None
    except (sqlite3.Error, FatalError):
        return None


class AuthCache:
    """Recent token and session look-ups.

    The state store answers a look-up in about 1.5 ms, several times the rest of a
    list request, so answers are kept for up to ``_CACHE_SECONDS``; but any change of
    users, tokens or sessions (any commit to a SQLite state file; a NOTIFY on
    PostgreSQL) drops them all first, so a revoked token is refused on its next request.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, Any]] = {}
        self.changes: SqliteChanges | PostgresChanges | None = None
        self.watching = False

    def watch(self, location: str, root: Path) -> None:
        """Follow the state at ``location`` (once; later calls cost nothing)."""
        if not self.watching:
            self.watching = True
            self.changes = watch_state(location, root)

    def get(self, key: str, load: Any) -> Any:
        now = time.monotonic()
        if self.changes is not None and self.changes.changed():
            self.entries.clear()
        hit = self.entries.get(key)
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
        if len(self.entries) > 10_000:
            self.entries.clear()
        value = load()
        if value is not None:
            self.entries[key] = (now, value)
        return value

    def forget(self, key: str) -> None:
        self.entries.pop(key, None)


def authenticate(request: Request, state: StateStore, cache: AuthCache | None = None) -> Caller:
    """The caller of ``request``, with the CSRF check for session-carried writes."""
    cache = cache or AuthCache()
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                "unauthenticated",
                "the Authorization header must be 'Bearer <token>'; create a token with "
                "`schedsync token create --user NAME`",
            )
        token = token.strip()
        user = cache.get("t:" + token, lambda: state.user_for_token(token))
        if user is None:
            raise ApiError("unauthenticated", "the token is unknown or was revoked")
        return _caller(user, via_session=False)
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        found = cache.get("s:" + session_id, lambda: state.session_user(session_id))
        if found is None:
            raise ApiError("unauthenticated", "the session has ended; log in again")
        user, csrf = found
        if changes_something(request):
            check_csrf(request, csrf)
        return _caller(user, via_session=True)
    raise ApiError(
        "unauthenticated",
        "send 'Authorization: Bearer <token>' or log in with POST /api/v1/auth/session",
    )


def changes_something(request: Request) -> bool:
    if request.method in SAFE_METHODS:
        return False
    return not (request.method == "POST" and request.url.path.endswith(READ_ONLY_POSTS))


def check_csrf(request: Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise ApiError(
            "csrf_failed",
            "this request is carried by a session cookie and needs the value of the "
            f"{CSRF_COOKIE} cookie in the X-CSRF-Token header",
        )


def require_role(caller: Caller, project: str, known: bool, need: Role) -> None:
    """404 for an unknown project or a non-member (indistinguishable), 403 if too low."""
    have = caller.role_in(project) if known else Role.NONE
    if have is Role.NONE:
        raise ApiError("not_found", f"project {project!r} not found")
    if have < need:
        raise ApiError(
            "forbidden",
            f"this needs the {need.label} role in project {project!r}; you are "
            f"{have.label}",
            {"have": have.label, "need": need.label},
        )

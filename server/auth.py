"""Who is calling, and what they may do.

Bearer tokens and browser sessions both resolve to a state-store ``User``. A request
carried by the session cookie must repeat the CSRF value in ``X-CSRF-Token`` when it
changes anything (compared in constant time); a bearer token cannot be sent by a
foreign page, so it needs no CSRF check.
"""

from __future__ import annotations

import enum
import hmac
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

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


class AuthCache:
    """Recent token and session look-ups, for ``_CACHE_SECONDS``.

    The state store answers a look-up in a few milliseconds, more than the rest of a
    list request; a revoked token or ended session stops working within a second.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Any) -> Any:
        now = time.monotonic()
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

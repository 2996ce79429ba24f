"""Keeping secrets out of what schedsync prints, logs, returns and records.

Two kinds of secret are masked wherever text is formatted for a person or a file:
the password of any URL (``scheme://user:PASSWORD@host``, ``?password=...``), and the
values that ``${VAR}`` brought into ``schedsync.yaml`` from the environment when they
look like secrets (a URL's password, or a variable whose name says secret, password,
token, key...). ``engine.config`` reports each expanded variable here.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import threading
from typing import TypeVar
from urllib.parse import quote, unquote, urlsplit

T = TypeVar("T")
MASK = "***"
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:)(?P<password>[^\s@'\"]+)(?=@)"
)
_QUERY_PASSWORD = re.compile(r"(?P<head>[?&](?:password|passwd|pwd|secret|token)=)"
                             r"(?P<password>[^&\s'\"#]+)", re.IGNORECASE)
# In a value from the environment, also without a scheme: "user:PASSWORD@host/db".
_USERINFO_PASSWORD = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*://)?[^\s:/@]*:(?P<password>[^\s@]+)@")
_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|CRED|AUTH|PRIVATE", re.IGNORECASE)
_MIN_LENGTH = 4  # shorter values would mask innocent text

_known: set[str] = set()
_lock = threading.Lock()


def redact_url(url: str) -> str:
    """``url`` with its password (if any) masked; any text works, not only URLs."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, url)
    return _QUERY_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def remember(secret: str) -> None:
    """Mask ``secret`` (and its URL-encoded forms) in everything ``redact`` sees."""
    forms = {secret, quote(secret, safe=""), unquote(secret)}
    with _lock:
        _known.update(form for form in forms if len(form) >= _MIN_LENGTH)


def remember_env(name: str, value: str) -> None:
    """A value ``${name}`` expanded to: its URL passwords, or all of it if named a secret."""
    if _SECRET_NAME.search(name):
        remember(value)
    for pattern in (_URL_PASSWORD, _USERINFO_PASSWORD):
        for match in pattern.finditer(value):
            remember(match.group("password"))
    for match in _QUERY_PASSWORD.finditer(value):
        remember(match.group("password"))
    if "://" in value:
        try:
            password = urlsplit(value).password
        except ValueError:  # a malformed URL: the patterns above still applied
            password = None
        if password:
            remember(password)


def redacted(item: T, *fields: str) -> T:
    """A copy of the (frozen) dataclass ``item`` with its text ``fields`` masked."""
    changes = {name: redact(value) for name in fields
               if isinstance(value := getattr(item, name), str)}
    return dataclasses.replace(item, **changes)  # type: ignore[type-var]


def redact(text: str) -> str:
    """``text`` with URL passwords and remembered secrets masked."""
    text = redact_url(text)
    with _lock:
        known = sorted(_known, key=len, reverse=True)  # longest first: no partial masks
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Masks secrets in a log record's message and traceback before any handler runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def protect_logger(name: str) -> None:
    """Install the filter on logger ``name`` once (records logged to it directly)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())

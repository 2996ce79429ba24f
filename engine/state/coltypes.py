"""Column types that store the same bytes on SQLite and PostgreSQL.

Datetimes are fixed-width RFC 3339 UTC text (``2026-12-01T09:00:00.000000Z``): it sorts
as time sorts, reads well in ``sqlite3``, and has no per-database time-zone behaviour.
JSON is orjson text with sorted keys, so equal specs are equal bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

_WIDTH = len("2026-12-01T09:00:00.000000Z")


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_utc(value: datetime) -> datetime:
    """Aware UTC; a naive datetime is a bug in the caller (its zone is unknowable)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: pass an aware datetime (UTC)")
    return value.astimezone(UTC)


def format_instant(value: datetime) -> str:
    # isoformat always pads the year to 4 digits; strftime("%Y") does not on glibc.
    return to_utc(value).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def parse_instant(text: str) -> datetime:
    # fromisoformat is ~20x faster than strptime; the format check keeps it strict.
    if len(text) != _WIDTH or text[-1] != "Z":
        raise ValueError(f"not a stored instant: {text!r}")
    return datetime.fromisoformat(text)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    impl = sa.String(32)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else format_instant(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else parse_instant(value)


def dump_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class JSONText(sa.types.TypeDecorator[Any]):
    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else dump_json(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else orjson.loads(value)

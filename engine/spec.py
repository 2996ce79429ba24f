"""The canonical spec: one schedule as the planner compares it.

Repository schedules, live scheduler entries and the base recorded in the state file
are all turned into this shape, so that equal meaning gives equal bytes and equal
hashes. A spec is a plain JSON-able dict:

    {"name", "trigger_type", "trigger", "task", "args", "kwargs", "enabled",
     "timezone", "queue", "priority", "expires", "description"}

Runtime fields (``last_run_at``, ``next_run_at``, run counts) are never part of it.
"""

from __future__ import annotations

import functools
import hashlib
import operator
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

Spec = dict[str, Any]

SPEC_FIELDS: tuple[str, ...] = (
    "trigger_type",
    "trigger",
    "task",
    "args",
    "kwargs",
    "enabled",
    "timezone",
    "queue",
    "priority",
    "expires",
    "description",
)
OPTIONAL_FIELDS: frozenset[str] = frozenset({"queue", "priority", "expires", "description"})
RUNTIME_FIELDS: frozenset[str] = frozenset({"last_run_at", "next_run_at", "total_run_count"})

_DOW_NAMES = {"sun": "0", "mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6"}
_MONTH_NAMES = {
    name: str(number)
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}


@functools.lru_cache(maxsize=4096)
def _canonical_cron_field(field: str, text: str) -> str:
    text = "".join(str(text).split()).lower()
    names = {"day_of_week": _DOW_NAMES, "month_of_year": _MONTH_NAMES}.get(field, {})
    for name, number in names.items():
        text = text.replace(name, number)
    if field == "day_of_week":
        # 7 and 0 are both Sunday (SPEC section 1); only a lone 7 is rewritten so that
        # ranges such as 5-7 keep their meaning.
        text = ",".join("0" if part == "7" else part for part in text.split(","))
    return text


def canonical_trigger(trigger_type: str, trigger: dict[str, Any]) -> dict[str, Any]:
    """Normalise a trigger so equal meaning compares equal."""
    if trigger_type == "cron":
        fields = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
        out = {f: _canonical_cron_field(f, str(trigger.get(f, "*"))) for f in fields}
        second = trigger.get("second")
        if second not in (None, "0"):
            out["second"] = _canonical_cron_field("second", str(second))
        return out
    if trigger_type == "interval":
        return {"every": int(trigger["every"]), "period": trigger.get("period", "seconds")}
    if trigger_type == "clocked":
        return {"run_at": canonical_instant(trigger["run_at"])}
    if trigger_type == "solar":
        return {
            "event": trigger["event"],
            "latitude": float(trigger["latitude"]),
            "longitude": float(trigger["longitude"]),
        }
    return dict(trigger)


def canonical_instant(value: str | datetime) -> str:
    """Any aware moment -> ``2026-12-01T09:00:00Z``."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") + "Z"


def make_spec(
    *,
    name: str,
    trigger_type: str,
    trigger: dict[str, Any],
    task: str,
    args: Iterable[Any] = (),
    kwargs: dict[str, Any] | None = None,
    enabled: bool = True,
    timezone: str | None = None,
    queue: str | None = None,
    priority: int | None = None,
    expires: float | None = None,
    description: str | None = None,
) -> Spec:
    """Build a canonical spec; the one constructor every side uses."""
    return {
        "name": name,
        "trigger_type": trigger_type,
        "trigger": canonical_trigger(trigger_type, trigger),
        "task": task,
        "args": list(args),
        "kwargs": dict(kwargs or {}),
        "enabled": bool(enabled),
        "timezone": timezone,
        "queue": queue,
        "priority": priority,
        "expires": float(expires) if expires is not None else None,
        "description": description,
    }


def comparable(spec: Spec, fields: Iterable[str]) -> Spec:
    """The part of ``spec`` a store can hold; other fields are never differences."""
    return {f: spec.get(f) for f in fields}


def spec_bytes(spec: Spec) -> bytes:
    """The whole spec as canonical bytes: what the state file keeps as a base
    (``coltypes.dump_json`` writes the same bytes as text)."""
    return orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)


# The canonical text of a spec split around its time zone: (what sorts before
# ``"timezone"``, what sorts after). A schedule file's cache keeps it, because the zone
# comes from the config, not the file; ``joined_bytes`` then gives the spec's bytes
# without serialising its ~20 objects again (10k specs scattered in memory: ~40 ms).
CanonicalParts = tuple[str, str]


def canonical_parts(spec: Spec) -> CanonicalParts | None:
    """``spec``'s canonical text without its time zone; None if a side is empty (then
    there is nothing to splice around, and ``spec_bytes`` serves)."""
    before = {k: v for k, v in spec.items() if k < "timezone"}
    after = {k: v for k, v in spec.items() if k > "timezone"}
    if not before or not after:
        return None
    sort = orjson.OPT_SORT_KEYS
    head = orjson.dumps(before, option=sort)[:-1]  # without its closing brace
    tail = orjson.dumps(after, option=sort)[1:]  # without its opening brace
    return head.decode(), tail.decode()


def joined_bytes(parts: CanonicalParts, timezone: str | None) -> bytes:
    """``spec_bytes`` of the spec ``parts`` came from, with ``timezone`` as its zone."""
    head, tail = parts
    return f'{head},"timezone":{_zone_json(timezone)},{tail}'.encode()


@functools.lru_cache(maxsize=256)
def _zone_json(timezone: str | None) -> str:
    return orjson.dumps(timezone).decode()


def spec_key(spec: Spec, fields: tuple[str, ...] = SPEC_FIELDS) -> bytes:
    """Equal for specs equal in ``fields``: what the planner compares (no digest needed
    when both sides are at hand). The values in ``fields`` order, not a dict: a third
    cheaper, and only ever compared with a key made from the same ``fields``; a field
    the spec lacks counts as None."""
    try:
        values = _values_of(fields)(spec)
    except KeyError:  # e.g. a base recorded before a field existed
        get = spec.get
        values = tuple(get(f) for f in fields)
    return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)


@functools.lru_cache(maxsize=64)
def _values_of(fields: tuple[str, ...]) -> Callable[[Spec], tuple[Any, ...]]:
    # ``itemgetter`` picks the values in C: the planner keys 20-30k specs per 10k plan.
    if len(fields) > 1:
        return operator.itemgetter(*fields)
    return lambda spec: tuple(spec[f] for f in fields)


def spec_hash(spec: Spec, fields: tuple[str, ...] = SPEC_FIELDS) -> str:
    return hashlib.blake2b(spec_key(spec, fields), digest_size=16).hexdigest()

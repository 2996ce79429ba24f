"""Read APScheduler 3.x ``job_state`` pickles without importing anything of the user's.

A job row is a pickled dict whose ``trigger`` is an APScheduler trigger object and whose
``args``/``kwargs`` may hold anything the user's code put there. Plain ``pickle.loads``
would import (and run) whatever the pickle names, and APScheduler's own restoring
methods import the job function and DELETE the job when that fails (SCHEDULERS.md).
This unpickler resolves only an allow-list of classes: APScheduler's cron / interval /
date triggers with their field and expression classes, the datetime and time-zone
classes, and a few harmless builtins. Any other name becomes an ``Opaque`` placeholder
that records what it stood for and never runs code, so an entry with an unknown trigger
class or exotic args is reported precisely instead of being unreadable.
"""

from __future__ import annotations

import _compat_pickle
import datetime as _dt
import functools
import importlib
import io
import pickle
import zoneinfo
from typing import Any

_APS = "apscheduler.triggers"
_ALLOWED: frozenset[tuple[str, str]] = frozenset(
    {
        (f"{_APS}.cron", "CronTrigger"),
        (f"{_APS}.interval", "IntervalTrigger"),
        (f"{_APS}.date", "DateTrigger"),
        *(
            (f"{_APS}.cron.fields", name)
            for name in (
                "BaseField", "WeekField", "DayOfMonthField", "DayOfWeekField", "MonthField",
            )
        ),
        *(
            (f"{_APS}.cron.expressions", name)
            for name in (
                "AllExpression", "RangeExpression", "MonthRangeExpression",
                "WeekdayRangeExpression", "WeekdayPositionExpression",
                "LastDayOfMonthExpression",
            )
        ),
        ("datetime", "datetime"),
        ("datetime", "date"),
        ("datetime", "time"),
        ("datetime", "timedelta"),
        ("datetime", "timezone"),
        ("zoneinfo", "ZoneInfo"),
        # pytz zones (APScheduler < 3.10 stored them); resolved only if pytz is installed.
        ("pytz", "_p"),
        ("pytz", "_UTC"),
        ("builtins", "object"),  # copyreg._reconstructor(cls, object, None)
        ("builtins", "set"),
        ("builtins", "frozenset"),
        ("builtins", "bytearray"),
        ("builtins", "complex"),
        ("copyreg", "_reconstructor"),
        # protocols 0-2 pickle bytes (inside datetimes) as _codecs.encode(text, "latin1")
        ("_codecs", "encode"),
    }
)
# ``getattr`` is how protocol 4+ pickles ``ZoneInfo._unpickle``; the real builtin would
# let a pickle reach any attribute of an allowed class, so only these pairs resolve.
_ATTRIBUTES: frozenset[tuple[type, str]] = frozenset({(zoneinfo.ZoneInfo, "_unpickle")})


class Opaque:
    """Stands in for a class or function outside the allow-list; never runs code."""

    __slots__ = ("args", "ref")

    def __init__(self, ref: str, args: tuple[Any, ...] = ()) -> None:
        self.ref = ref
        self.args = args

    def __call__(self, *args: Any, **kwargs: Any) -> Opaque:
        return Opaque(self.ref, args)

    def __setstate__(self, state: Any) -> None:
        return None

    def __repr__(self) -> str:
        return f"<{self.ref}>"


class _OpaqueClass(Opaque):
    """An ``Opaque`` reached through NEWOBJ (``cls.__new__(cls, *args)``)."""

    __slots__ = ()

    def __new__(cls, *args: Any, **kwargs: Any) -> _OpaqueClass:
        return super().__new__(cls)


def _safe_getattr(obj: Any, name: str) -> Any:
    if (obj, name) in _ATTRIBUTES:
        return getattr(obj, name)
    return Opaque(f"getattr({obj!r}, {name!r})")


@functools.lru_cache(maxsize=1024)
def _resolve(module: str, name: str) -> Any:
    # Python 2 names (protocols 0-2: copy_reg, __builtin__), as pickle's own find_class.
    module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    if module == "builtins" and name == "getattr":
        return _safe_getattr
    if (module, name) not in _ALLOWED:
        return _opaque_type(f"{module}.{name}")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return _opaque_type(f"{module}.{name}")


_OPAQUE_TYPES: dict[str, type[_OpaqueClass]] = {}


def _opaque_type(ref: str) -> type[_OpaqueClass]:
    """A placeholder *class* per name, so NEWOBJ, REDUCE and BUILD all stay harmless."""
    found = _OPAQUE_TYPES.get(ref)
    if found is None:

        def new(cls: type[_OpaqueClass], *args: Any, **kwargs: Any) -> _OpaqueClass:
            obj = object.__new__(cls)
            obj.ref, obj.args = ref, args
            return obj

        def init(self: _OpaqueClass, *args: Any, **kwargs: Any) -> None:
            return None

        found = type("Opaque", (_OpaqueClass,), {"__slots__": (), "__new__": new,
                                                  "__init__": init})
        _OPAQUE_TYPES[ref] = found
    return found


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return _resolve(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not supported")


def restricted_loads(data: bytes) -> Any:
    """``pickle.loads`` limited to the allow-list; other names load as ``Opaque``."""
    return _Unpickler(io.BytesIO(data)).load()


def is_opaque(value: Any) -> bool:
    return isinstance(value, Opaque) or (
        isinstance(value, type) and issubclass(value, Opaque)
    )


def opaque_name(value: Any) -> str:
    return str(getattr(value, "ref", None) or type(value).__qualname__)


TZ_TYPES: tuple[type, ...] = (zoneinfo.ZoneInfo, _dt.timezone)

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
import copy
import datetime as _dt
import functools
import importlib
import io
import operator
import pickle
import sys
import threading
import zoneinfo
from typing import Any

from schedsync.engine.adapters.recent import Recent

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


# --- writing -------------------------------------------------------------------------
#
# Pickling a trigger costs ~40-100 us (a reduce per cron field and expression, a module
# look-up per class), a next run time ~8 us, and the jobs of a batch share a few hundred
# (trigger, next run time) pairs. A job's pickle is therefore assembled from the part
# holding that pair, pickled once per pair of objects, and the job's own fields,
# pickled in the pickler's "fast" mode: without a memo, so those bytes hold no memo
# slot numbers and fit after any shared part (a value that occurs twice, such as the
# job id that is also its name, is written twice). The result is an ordinary pickle
# that ``pickle.loads`` restores to an equal dict; only the key order differs (the
# shared keys come first).

PROTOCOL = pickle.HIGHEST_PROTOCOL
_SHARED = frozenset({"trigger", "next_run_time"})
_HEAD = pickle.PROTO + bytes([PROTOCOL]) + pickle.FRAME
_FRAME_HEAD = 11  # PROTO n, FRAME + 8-byte length
_MEMO_LIST = pickle.EMPTY_LIST + pickle.MEMOIZE + pickle.MARK
_FAST_LIST = pickle.EMPTY_LIST + pickle.MARK
_DICT_HEAD = pickle.EMPTY_DICT + pickle.MEMOIZE + pickle.MARK
_TAIL = pickle.SETITEMS + pickle.STOP
# As many as there are cached cron and date triggers (``apscheduler_jobs._cached_trigger``).
_MAX_PARTS = 4096


class _SharedPart:
    __slots__ = ("items", "values")

    def __init__(self, values: tuple[Any, ...], items: bytes) -> None:
        self.values = values  # kept alive: the cache is keyed by their ids
        self.items = items


_PARTS: Recent[tuple[int, int], _SharedPart] = Recent(_MAX_PARTS)


def _list_items(data: bytes, head: bytes) -> bytes | None:
    """The opcodes between ``MARK`` and ``APPENDS`` of a pickled list of 2 to 1000
    items in one frame (``head``: how the list opens), or None for another shape."""
    start = _FRAME_HEAD + len(head)
    framed = (
        len(data) > start + 2
        and data[2:3] == pickle.FRAME
        and int.from_bytes(data[3:_FRAME_HEAD], "little") == len(data) - _FRAME_HEAD
    )
    if not framed or data[_FRAME_HEAD:start] != head:
        return None
    if data[-2:] != pickle.APPENDS + pickle.STOP:
        return None
    return data[start:-2]


def _shared_part(trigger: Any, next_run_time: Any) -> _SharedPart | None:
    key = (id(trigger), id(next_run_time))
    part = _PARTS.get(key)
    if part is not None and part.values[0] is trigger and part.values[1] is next_run_time:
        return part
    items = _anchored_items(trigger, next_run_time)
    if items is None:
        items = _cron_items(trigger, next_run_time)
    if items is None:
        items = _pickled_items(trigger, next_run_time)
    if items is None:
        return None
    part = _SharedPart((trigger, next_run_time), items)
    _PARTS.put(key, part)
    return part


def _pickled_items(trigger: Any, next_run_time: Any) -> bytes | None:
    # The list takes memo slot 0, as the job's dict will: the items' references into
    # the memo (a time zone used twice) stay right.
    return _list_items(
        pickle.dumps(["trigger", trigger, "next_run_time", next_run_time], PROTOCOL),
        _MEMO_LIST,
    )


# Interval triggers are anchored anew at each write (``apscheduler_jobs.build_trigger``),
# so every batch pickles its few hundred again (~75 us each). Two with the same interval
# and zone object pickle to the same bytes but for the 10-byte states of their start
# date and next run time (``datetime.__reduce_ex__``: SHORT_BINBYTES, then the zone by
# memo): the bytes around those are kept per (interval, zone) and the states spliced in.
# A template is only made when each state occurs exactly where expected; a test proves
# the spliced bytes equal ``pickle.dumps``'s.
_STATE_MARK = pickle.SHORT_BINBYTES + bytes([10])
_ANCHORED: Recent[tuple[Any, ...], tuple[Any, bytes, bytes, bytes]] = Recent(1024)


def _anchored_shape(trigger: Any, next_run_time: Any) -> tuple[Any, ...] | None:
    cls = type(trigger)
    if cls.__name__ != "IntervalTrigger" or cls.__module__ != f"{_APS}.interval":
        return None
    zone, start = trigger.timezone, trigger.start_date
    if (trigger.end_date is not None or trigger.jitter is not None
            or type(start) is not _dt.datetime or start.tzinfo is not zone
            or type(next_run_time) is not _dt.datetime or next_run_time.tzinfo is not zone
            or next_run_time is start or type(trigger.interval) is not _dt.timedelta):
        return None
    return (trigger.interval, id(zone))


def _state_bytes(moment: _dt.datetime) -> bytes:
    reduced: Any = moment.__reduce_ex__(PROTOCOL)
    state: bytes = reduced[1][0]
    return state


def _anchored_items(trigger: Any, next_run_time: Any) -> bytes | None:
    shape = _anchored_shape(trigger, next_run_time)
    if shape is None:
        return None
    start, first = _state_bytes(trigger.start_date), _state_bytes(next_run_time)
    template = _ANCHORED.get(shape)
    if template is None or template[0] is not trigger.timezone:
        items = _pickled_items(trigger, next_run_time)
        if items is not None:
            made = _template(items, start, first)
            if made is not None:
                _ANCHORED.put(shape, (trigger.timezone, *made))
        return items
    _, before, between, after = template
    return b"".join((before, _STATE_MARK, start, between, _STATE_MARK, first, after))


def _template(items: bytes, start: bytes, first: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The bytes before, between and after the two datetime states in ``items``, or
    None when they do not occur exactly once each (twice, if equal), start first."""
    marks = (_STATE_MARK + start, _STATE_MARK + first)
    if start == first:
        at = _find_all(items, marks[0])
        if len(at) != 2:
            return None
    else:
        found = [_find_all(items, mark) for mark in marks]
        if any(len(each) != 1 for each in found):
            return None
        at = [found[0][0], found[1][0]]
    width = len(marks[0])
    if not at[0] + width <= at[1]:
        return None
    return items[: at[0]], items[at[0] + width : at[1]], items[at[1] + width :]


def _find_all(data: bytes, needle: bytes) -> list[int]:
    found: list[int] = []
    at = data.find(needle)
    while at != -1:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


# A cron trigger is pickled once per process (~27 us; 1428 distinct crons in a 10k
# apply), but triggers built on the fields of ``register_cron_field`` (every cron
# ``apscheduler_jobs.cron_trigger`` builds) pickle to the same bytes whenever their fields
# have the same classes, names, attribute names and kinds of values, their zone is the
# same object and the next run time is in it: only the ints of the expressions (each
# written as BININT1, BININT2 or BININT, by size) and the next run time's 10-byte state
# differ. The bytes around those are kept per such shape, found at its second trigger
# by pickling a copy in which every int and the state differ in every byte, and kept
# only if splicing the values back gives both pickles exactly; a test proves the spliced
# parts equal ``pickle.dumps``'s over many random crons and zones.
_CRON_FIELDS: dict[int, tuple[Any, int, tuple[bytes, ...]]] = {}
_FIELD_SHAPES: dict[tuple[Any, ...], int] = {}
_CRON_SHAPES: Recent[tuple[Any, ...], Any] = Recent(1024)
_SEEN_ONCE = object()  # a shape met once: no template made yet
_NO_TEMPLATE = object()


def _int_width(value: int) -> int:
    """How many bytes ``pickle`` writes an int in (protocol 2+): 1, 2, 4, or 0 (LONG1)."""
    if 0 <= value <= 0xFF:
        return 1
    if 0 <= value <= 0xFFFF:
        return 2
    if -0x80000000 <= value <= 0x7FFFFFFF:
        return 4
    return 0


def _int_bytes(value: int, width: int) -> bytes:
    return value.to_bytes(width, "little", signed=width == 4)


def _interned(text: Any) -> bool:
    # Equal interned strings are one object: the memo then depends on the texts alone.
    return type(text) is str and sys.intern(text) is text


def _field_shape(field: Any) -> tuple[tuple[Any, ...], tuple[bytes, ...]] | None:
    attributes = getattr(field, "__dict__", None)
    if type(attributes) is not dict or not all(map(_interned, attributes)):
        return None
    name, expressions = attributes.get("name"), attributes.get("expressions")
    if (not _interned(name) or type(attributes.get("is_default")) is not bool
            or type(expressions) is not list or len(attributes) != 3):
        return None
    shape: list[Any] = [type(field), tuple(attributes), name, attributes["is_default"]]
    payloads: list[bytes] = []
    for expression in expressions:
        state = getattr(expression, "__dict__", None)
        if type(state) is not dict or not all(map(_interned, state)):
            return None
        kinds: list[Any] = []
        for value in state.values():
            if type(value) is int and _int_width(value):
                kinds.append(_int_width(value))
                payloads.append(_int_bytes(value, _int_width(value)))
            elif value is None or type(value) is bool:
                kinds.append((value,))
            else:
                return None
        shape.append((type(expression), tuple(state), tuple(kinds)))
    return tuple(shape), tuple(payloads)


def register_cron_field(field: Any) -> Any:
    """Note a cron field object that is never changed (``apscheduler_jobs._cron_field``)
    for the cron part templates; returns it."""
    found = _field_shape(field)
    if found is not None:
        if len(_CRON_FIELDS) >= 8192:
            _CRON_FIELDS.clear()  # unregistered fields are merely pickled whole
        shape_id = _FIELD_SHAPES.setdefault(found[0], len(_FIELD_SHAPES))
        _CRON_FIELDS[id(field)] = (field, shape_id, found[1])
    return field


class _CronTemplate:
    __slots__ = ("chunks", "zone")

    def __init__(self, zone: Any, chunks: list[bytes]) -> None:
        self.zone = zone
        self.chunks = chunks

    def splice(self, payloads: list[bytes]) -> bytes:
        parts: list[bytes] = [b""] * (2 * len(self.chunks) - 1)
        parts[0::2] = self.chunks
        parts[1::2] = payloads
        return b"".join(parts)


def _cron_items(trigger: Any, next_run_time: Any) -> bytes | None:
    cls = type(trigger)
    if cls.__name__ != "CronTrigger" or cls.__module__ != f"{_APS}.cron":
        return None
    zone, fields = trigger.timezone, trigger.fields
    if (trigger.start_date is not None or trigger.end_date is not None
            or trigger.jitter is not None or type(fields) is not list
            or type(next_run_time) is not _dt.datetime or next_run_time.tzinfo is not zone):
        return None
    key: list[Any] = [id(zone)]
    payloads: list[bytes] = []
    for field in fields:
        known = _CRON_FIELDS.get(id(field))
        if known is None or known[0] is not field:
            return None
        key.append(known[1])
        payloads.extend(known[2])
    payloads.append(_state_bytes(next_run_time))
    shape = tuple(key)
    template = _CRON_SHAPES.get(shape)
    if type(template) is _CronTemplate and template.zone is zone:
        return template.splice(payloads)
    items = _pickled_items(trigger, next_run_time)
    if template is None or (type(template) is _CronTemplate and template.zone is not zone):
        _CRON_SHAPES.put(shape, _SEEN_ONCE)
    elif template is _SEEN_ONCE and items is not None:
        made = _cron_template(trigger, next_run_time, items, payloads)
        _CRON_SHAPES.put(shape, _NO_TEMPLATE if made is None else made)
    return items


def _altered(value: int, width: int) -> int | None:
    """An int pickled in as many bytes as ``value``, each of them different."""
    for mask in (0x01010101, 0x03030303):
        other = value ^ (mask & ((1 << 8 * width) - 1))
        if _int_width(other) == width:
            return other
    return None


def _cron_template(trigger: Any, next_run_time: Any, items: bytes,
                   payloads: list[bytes]) -> _CronTemplate | None:
    """The bytes around ``payloads`` (the expressions' ints, then the next run time's
    state) in ``items``, or None unless splicing reproduces ``items`` and the pickle of a
    copy with every value changed."""
    other = copy.copy(trigger)
    other.fields = []
    other_payloads: list[bytes] = []
    for field in trigger.fields:
        twin = copy.copy(field)
        twin.expressions = []
        for expression in field.expressions:
            changed = copy.copy(expression)
            for name, value in expression.__dict__.items():
                if type(value) is int:
                    width = _int_width(value)
                    new = _altered(value, width)
                    if new is None:
                        return None
                    setattr(changed, name, new)
                    other_payloads.append(_int_bytes(new, width))
            twin.expressions.append(changed)
        other.fields.append(twin)
    later = next_run_time + _dt.timedelta(days=1, seconds=1, microseconds=1)
    other_payloads.append(_state_bytes(later))
    other_items = _pickled_items(other, later)
    if other_items is None or len(other_items) != len(items):
        return None
    # The next run time's state (it comes last): once in each pickle, at one place.
    state_mark, other_mark = _STATE_MARK + payloads[-1], _STATE_MARK + other_payloads[-1]
    state_at = items.find(state_mark)
    if (state_at == -1 or items.find(state_mark, state_at + 1) != -1
            or other_items.find(other_mark) != state_at
            or other_items.find(other_mark, state_at + 1) != -1):
        return None
    # Before it, the bytes that differ: one run per int, in order, as wide as it.
    starts: list[int] = []
    at = 0
    while at < state_at:
        if items[at] != other_items[at]:
            starts.append(at)
            while at < state_at and items[at] != other_items[at]:
                at += 1
        else:
            at += 1
    if items[state_at + len(state_mark):] != other_items[state_at + len(other_mark):]:
        return None
    starts.append(state_at + len(_STATE_MARK))
    if len(starts) != len(payloads):
        return None
    chunks: list[bytes] = []
    done = 0
    for start, payload in zip(starts, payloads, strict=True):
        if start < done:
            return None
        chunks.append(items[done:start])
        done = start + len(payload)
    chunks.append(items[done:])
    template = _CronTemplate(trigger.timezone, chunks)
    if template.splice(payloads) != items or template.splice(other_payloads) != other_items:
        return None
    return template


_SCALARS = frozenset({str, int, float, bool, type(None), bytes})


def _plain_tree(values: list[Any]) -> bool:
    """Whether ``values`` are plain data in which no list, tuple or dict occurs twice:
    then a pickle without a memo restores them exactly (otherwise it would restore
    two copies where the state has one object, and write it twice)."""
    seen: set[int] = set()
    stack = [value for value in values if type(value) not in _SCALARS]
    while stack:
        value = stack.pop()
        kind = type(value)
        if kind in _SCALARS:
            continue
        if kind not in (list, tuple, dict) or id(value) in seen:
            return False
        seen.add(id(value))
        stack.extend(value)
        if kind is dict:
            stack.extend(value.values())
    return True


_LOCAL = threading.local()


def _fast_dumps(value: Any) -> bytes:
    """``pickle.dumps`` without a memo, by a pickler each thread reuses (making one
    costs as much as pickling a job's own fields)."""
    made = getattr(_LOCAL, "fast", None)
    if made is None:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, PROTOCOL)
        pickler.fast = True  # no memo: see above (``_plain_tree``: acyclic, nothing shared)
        made = _LOCAL.fast = (pickler, buffer)
    pickler, buffer = made
    buffer.seek(0)
    buffer.truncate()
    pickler.dump(value)
    return buffer.getvalue()


_OWN_KEYS = ("version", "id", "func", "executor", "args", "kwargs", "name",
             "misfire_grace_time", "coalesce", "max_instances")
_OWN_VALUES = operator.itemgetter(*_OWN_KEYS)
_OWN_TEMPLATE = [x for key in _OWN_KEYS for x in (key, None)]


def _usual_own_items(state: dict[str, Any]) -> list[Any] | None:
    """The own fields as ``[key, value, ...]`` when they are the usual ones (every job
    schedsync writes): APScheduler's twelve keys, scalars but for args (a tuple) and
    kwargs (a dict) that hold scalars. Such a tree is plain (``_plain_tree``) without
    walking it. None for any other state."""
    if len(state) != 12:
        return None
    try:
        values = _OWN_VALUES(state)
    except KeyError:
        return None
    args, kwargs = values[4], values[5]
    plain = (
        type(args) is tuple
        and type(kwargs) is dict
        and _SCALARS.issuperset(map(type, values[:4]))
        and _SCALARS.issuperset(map(type, values[6:]))
        and _SCALARS.issuperset(map(type, args))
        and _SCALARS.issuperset(map(type, kwargs))
        and _SCALARS.issuperset(map(type, kwargs.values()))
    )
    if not plain:
        return None
    items = _OWN_TEMPLATE.copy()
    items[1::2] = values
    return items


def dumps_job_state(state: dict[str, Any]) -> bytes:
    """``pickle.dumps(state)``, reusing the pickled trigger and next run time (above)."""
    if "trigger" not in state or "next_run_time" not in state:
        return pickle.dumps(state, PROTOCOL)
    part = _shared_part(state["trigger"], state["next_run_time"])
    rest = _usual_own_items(state)
    plain = rest is not None
    if rest is None:
        rest = [x for item in state.items() if item[0] not in _SHARED for x in item]
        plain = _plain_tree(rest)
    if part is None or not plain or not 2 <= len(rest) <= 1000:
        return pickle.dumps(state, PROTOCOL)
    items = _list_items(_fast_dumps(rest), _FAST_LIST)
    if items is None:
        return pickle.dumps(state, PROTOCOL)
    size = len(_DICT_HEAD) + len(part.items) + len(items) + len(_TAIL)
    return b"".join(
        (_HEAD, size.to_bytes(8, "little"), _DICT_HEAD, part.items, items, _TAIL)
    )

"""Parse one cron field into the set of values it selects.

The canonical grammar (SPEC section 1) is the common ground of cron, Celery and
APScheduler: ``*``, ``*/n``, ``a``, ``a-b``, ``a-b/n``, ``a/n`` (``a`` to the field's
maximum, as in classic cron) and comma lists of those. Day-of-week counts 0 = Sunday
and also accepts 7 for Sunday; day-of-week and month accept three-letter names.
Everything downstream (checks, translation, fire times) works on the value sets, so
that equal meaning is equal data whatever way it was written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DOW_NAMES: tuple[str, ...] = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MONTH_NAMES: tuple[str, ...] = (
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
)


@dataclass(frozen=True, slots=True)
class FieldRule:
    name: str
    low: int
    high: int  # highest value accepted as written (7 for day_of_week)
    names: tuple[str, ...] = ()  # names[i] means low + i
    name_base: int = 0

    @property
    def expected(self) -> str:
        text = f"'*', numbers {self.low}-{self.high}, ranges a-b, steps */n or a-b/n, lists"
        if self.name == "day_of_week":
            text += "; 0 and 7 are Sunday; names sun..sat"
        if self.name == "month_of_year":
            text += "; names jan..dec"
        return text


RULES: dict[str, FieldRule] = {
    "second": FieldRule("second", 0, 59),
    "minute": FieldRule("minute", 0, 59),
    "hour": FieldRule("hour", 0, 23),
    "day_of_month": FieldRule("day_of_month", 1, 31),
    "month_of_year": FieldRule("month_of_year", 1, 12, MONTH_NAMES, 1),
    "day_of_week": FieldRule("day_of_week", 0, 7, DOW_NAMES, 0),
    # APScheduler's weekday field: our grammar with Monday = 0 and no 7.
    "apscheduler_day_of_week": FieldRule(
        "day_of_week", 0, 6, ("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 0,
    ),
}
FIELD_ORDER: tuple[str, ...] = (
    "minute", "hour", "day_of_month", "month_of_year", "day_of_week",
)

_PART = re.compile(r"^(?:(?P<star>\*)|(?P<a>\w+)(?:-(?P<b>\w+))?)(?:/(?P<step>\w*))?$")


class FieldError(ValueError):
    """One field cannot be read; carries what was found and how to fix it."""

    def __init__(self, field: str, found: str, message: str, fix: str) -> None:
        super().__init__(message)
        self.field = field
        self.found = found
        self.message = message
        self.fix = fix


def _number(rule: FieldRule, token: str, text: str) -> int:
    lowered = token.lower()
    if lowered in rule.names:
        return rule.names.index(lowered) + rule.name_base
    if not token.isdigit() or not token.isascii():
        hint = f" or a name ({', '.join(rule.names)})" if rule.names else ""
        raise FieldError(
            rule.name, text, f"{token!r} is not a number{hint}",
            f"use a number {rule.low}-{rule.high}{hint}",
        )
    value = int(token)
    if not rule.low <= value <= rule.high:
        raise FieldError(
            rule.name, text, f"{value} is out of range {rule.low}-{rule.high}",
            f"use a value from {rule.low} to {rule.high}",
        )
    return value


def _step(rule: FieldRule, token: str | None, text: str) -> int:
    if token is None:
        return 1
    if not token.isdigit() or int(token) == 0:
        raise FieldError(
            rule.name, text, f"step {token!r} is not a positive whole number",
            "write the step as a number of at least 1, e.g. */5",
        )
    return int(token)


def _part(rule: FieldRule, part: str, text: str) -> range:
    match = _PART.match(part)
    if match is None:
        raise FieldError(
            rule.name, text, f"cannot read {part!r}",
            "write '*', a number, a range a-b, a step */n or a-b/n, or a comma list",
        )
    step = _step(rule, match["step"], text)
    if match["star"]:
        return range(rule.low, rule.high + 1, step)
    first = _number(rule, match["a"], text)
    if match["b"] is not None:
        last = _number(rule, match["b"], text)
    else:
        last = rule.high if match["step"] is not None else first
    if last < first:
        raise FieldError(
            rule.name, text, f"range {part!r} runs backwards",
            f"write it low to high, or as two ranges (e.g. {match['b']}-{match['a']} "
            "becomes two parts joined by a comma)",
        )
    return range(first, last + 1, step)


@lru_cache(maxsize=65536)
def parse_field(name: str, text: str) -> frozenset[int]:
    """``parse_field("day_of_week", "mon-fri")`` -> ``{1, 2, 3, 4, 5}`` (7 becomes 0)."""
    rule = RULES[name]
    cleaned = "".join(text.split())
    if not cleaned:
        raise FieldError(name, text, "the field is empty", "write '*' for every value")
    values: set[int] = set()
    for part in cleaned.split(","):
        if not part:
            raise FieldError(name, text, "empty item in the list", "remove the extra comma")
        values.update(_part(rule, part, text))
    if name == "day_of_week" and 7 in values:
        values.discard(7)
        values.add(0)
    return frozenset(values)


def full_set(name: str) -> frozenset[int]:
    rule = RULES[name]
    high = 6 if name == "day_of_week" else rule.high
    return frozenset(range(rule.low, high + 1))


def _runs(values: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for value in values:
        if runs and runs[-1][1] == value - 1:
            runs[-1] = (runs[-1][0], value)
        else:
            runs.append((value, value))
    return runs


def _step_form(name: str, values: list[int]) -> str | None:
    """``*/n`` when the set is exactly every n-th value from the field's start."""
    rule = RULES[name]
    if len(values) < 2 or values[0] != rule.low:
        return None
    step = values[1] - values[0]
    high = max(full_set(name))
    if list(range(rule.low, high + 1, step)) == values:
        return f"*/{step}"
    return None


def compact(name: str, values: frozenset[int], numbers: dict[int, str] | None = None) -> str:
    """The one canonical text for a value set: ``*``, ``*/n`` or ranges and numbers."""
    if values == full_set(name):
        return "*"
    ordered = sorted(values)
    if numbers is None:
        stepped = _step_form(name, ordered)
        if stepped is not None:
            return stepped
    label = numbers or {}
    parts = []
    for first, last in _runs(ordered):
        a, b = label.get(first, str(first)), label.get(last, str(last))
        if first == last:
            parts.append(a)
        elif last == first + 1:
            parts.append(f"{a},{b}")
        else:
            parts.append(f"{a}-{b}")
    return ",".join(parts)

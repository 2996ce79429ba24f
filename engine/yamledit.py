"""Surgical edits of schedule files: change what was asked, keep every other byte.

Why splicing rather than a ruamel round-trip dump: even configured to the file's style,
a dump re-flows what it did not understand (odd indents, comment placement, quoting of
untouched scalars, CRLF) and costs ~600 ms for a 100-schedule file (PERFORMANCE.md).
Instead we compose the file with libyaml (every node carries its character positions),
work out the smallest set of text splices that gives the new data, apply them, and parse
the result again to prove that the file now means exactly the expected data. Anything
the splices did not touch is byte-for-byte the original.

    >>> update_schedule('schedules:\\n  - name: a\\n    trigger: {minute: "0", hour: "9"}\\n',
    ...                 "a", {"trigger": {"minute": "0", "hour": "10"}})
    'schedules:\\n  - name: a\\n    trigger: {minute: "0", hour: "10"}\\n'
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

from schedsync.engine.errors import FatalError, NotFound
from schedsync.engine.loader import MAX_ALIAS_VALUES

# libyaml is ~10x faster; both report character (not byte) positions.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    """SafeLoader with the per-node path-resolver work skipped and plain tags memoised.

    SafeLoader registers no path resolvers, so the tags are the same; composing a
    file gets ~2x faster (the resolver is Python code called for every node).
    """

    _memo: dict[str, str] = {}

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: Any, value: Any, implicit: tuple[bool, bool]) -> Any:
        if kind is ScalarNode:
            if not implicit[0]:
                return _TAG + "str"
            tag = self._memo.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._memo) < 100_000:
                    self._memo[value] = tag
            return tag
        return _TAG + ("seq" if kind is SequenceNode else "map")


__all__ = [
    "ENTRY_ORDER",
    "ScheduleExists",
    "ScheduleFileError",
    "ScheduleNotFound",
    "add_schedule",
    "find_schedule_names",
    "item_span",
    "remove_schedule",
    "rename_schedule",
    "update_schedule",
]

ENTRY_ORDER: tuple[str, ...] = (
    "name",
    "scheduler",
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
    "renamed_from",
)
_TAG = "tag:yaml.org,2002:"
_DEFAULT_INDENT = 2
# A quote character, or how to find the file's own when a value turns out to need one.
Quote = str | Callable[[], str]


class ScheduleFileError(FatalError):
    """The file is not a schedule file we can edit safely (syntax, shape, anchors)."""


class ScheduleNotFound(NotFound, KeyError):
    """No schedule of that name in the file (a ``KeyError`` too, for dict-like callers)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ScheduleExists(FatalError):
    """A schedule of that name is already in the file."""


# --------------------------------------------------------------------------- public API


def find_schedule_names(text: str) -> list[str]:
    """The ``name`` of every schedule in the file, in file order."""
    doc = _Doc(text)
    return [name for name, _ in doc.items()]


def add_schedule(text: str, entry: dict[str, Any]) -> str:
    """Append ``entry`` to the ``schedules:`` list (created when missing)."""
    name = entry.get("name")
    if not isinstance(name, str):
        raise ScheduleFileError("a new schedule needs a string 'name'")
    doc = _Doc(text)
    if name in dict(doc.items()):
        raise ScheduleExists(
            f"a schedule named {name!r} already exists in this file; "
            "choose another name or update the existing one"
        )
    ordered = _ordered(entry)
    doc.append_item(ordered)
    expected = doc.data_with(lambda items: [*items, ordered])
    return doc.finish(expected)


def update_schedule(
    text: str, name: str, changes: dict[str, Any], *, line: int | None = None
) -> str:
    """Apply top-level ``changes`` to schedule ``name``; ``None`` deletes a field.

    Mappings (``trigger``, ``kwargs``) are edited key by key, so changing ``hour``
    touches only the text of ``hour``.

    ``line``: the 1-based line where the schedule's mapping starts, as a parse of this
    very ``text`` found it (a loaded repository whose hash of the file matches). The
    edit then parses and verifies only that list item (``item_span``), not the file;
    where that cannot be done safely it falls back to the whole file.
    """
    if line is not None and changes.get("name", name) == name:
        edited = _update_item(text, name, changes, line)
        if edited is not None:
            return edited
    return _update(_Doc(text), name, changes)


def _update(doc: _Doc, name: str, changes: dict[str, Any]) -> str:
    index, item = doc.find(name)
    new_name = changes.get("name", name)
    if new_name != name and new_name in dict(doc.items()):
        raise ScheduleExists(
            f"cannot rename {name!r} to {new_name!r}: that name is already taken in this file"
        )
    old_value = doc.values[index]
    new_value = dict(old_value)
    for key, value in changes.items():
        if value is None:
            new_value.pop(key, None)
        else:
            new_value[key] = value
    doc.edit_item(item, new_value)

    def replace(items: list[Any]) -> list[Any]:
        return [new_value if i == index else v for i, v in enumerate(items)]

    return doc.finish(doc.data_with(replace))


_DASH = re.compile(r"( *)- +[^ \r\n#]")


def item_span(text: str, line: int) -> tuple[int, int] | None:
    """Where the ``schedules`` item whose mapping starts on ``line`` lies: ``[start, end)``
    from the start of its ``- `` line to the end of its last line indented deeper than
    the dash (comment and blank lines after it are not part of it).

    None when the item cannot be cut out by lines (line breaks libyaml counts that we
    would not, the mapping not on the dash line). A cut that ends inside a multi-line
    quoted scalar or flow collection leaves it unclosed, so parsing the cut fails and
    callers fall back to the whole file: a cut that parses is the whole item.
    """
    if line < 2 or _odd_breaks(text):
        return None
    start = 0
    for _ in range(line - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return None
    pos = _next_line(text, start)
    dash = _DASH.match(text, start, pos)
    if dash is None:
        return None
    indent, end = len(dash.group(1)), pos
    while pos < len(text):
        after = _next_line(text, pos)
        body = text[pos:after].lstrip(" ")
        if body.strip() and not body.startswith("#"):
            if after - pos - len(body) <= indent:
                break
            end = after
        pos = after
    return start, end


def _odd_breaks(text: str) -> bool:
    """Line breaks libyaml counts that a split on newlines would not."""
    if "\x85" in text or "\u2028" in text or "\u2029" in text:
        return True
    return "\r" in text and text.count("\r") != text.count("\r\n")


def _next_line(text: str, pos: int) -> int:
    nl = text.find("\n", pos)
    return len(text) if nl < 0 else nl + 1


def _update_item(text: str, name: str, changes: dict[str, Any], line: int) -> str | None:
    """``update_schedule`` on the item alone (``item_span``); None: use the whole file.

    The item is parsed as ``schedules:`` plus its own lines. Whatever the splices do
    stays inside those lines and is verified there; the rest of the file is not
    touched, and since the cut parses as one closed item, the lines after it still
    begin the next item (or key) exactly as before.
    """
    span = item_span(text, line)
    if span is None:
        return None
    start, end = span
    item = text[start:end]
    # An anchor may be used by other items (editing it would change them unseen).
    if "&" in item:
        return None
    newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    head = "schedules:" + newline
    try:
        doc = _Doc(head + item, quote_source=text)
        if doc.seq is None or len(doc.seq.value) != 1 or _has_block_scalar(doc.seq):
            return None
        edited = _update(doc, name, changes)
    except (ScheduleFileError, ScheduleNotFound):
        return None
    if not edited.startswith(head):
        return None
    return text[:start] + edited[len(head) :] + text[end:]


def _has_block_scalar(node: Node) -> bool:
    # A '|+' scalar last in the item keeps the blank lines after the cut: leave such
    # items to the whole-file path rather than reason about them.
    if isinstance(node, ScalarNode):
        return node.style in ("|", ">")
    if isinstance(node, MappingNode):
        return any(_has_block_scalar(k) or _has_block_scalar(v) for k, v in node.value)
    if isinstance(node, SequenceNode):
        return any(_has_block_scalar(v) for v in node.value)
    return False


def remove_schedule(text: str, name: str) -> str:
    """Remove schedule ``name`` with its own comment lines; nothing else changes."""
    doc = _Doc(text)
    index, _ = doc.find(name)
    doc.remove_item(index)
    return doc.finish(doc.data_with(lambda items: [v for i, v in enumerate(items) if i != index]))


def rename_schedule(text: str, old: str, new: str) -> str:
    """Set ``name`` to ``new`` and ``renamed_from`` to ``old`` (keeps id and history)."""
    return update_schedule(text, old, {"name": new, "renamed_from": old})


# --------------------------------------------------------------------------- values


def _ordered(entry: dict[str, Any]) -> dict[str, Any]:
    known = {k: entry[k] for k in ENTRY_ORDER if k in entry and entry[k] is not None}
    rest = {k: v for k, v in entry.items() if k not in known and v is not None}
    return {**known, **rest}


def _construct(node: Node) -> Any:
    """Plain data as ``schedsync.engine.loader`` builds it (timestamps stay text).

    With the loader's limit: anchors and aliases may add at most ``MAX_ALIAS_VALUES``
    values to what the text holds (an alias bomb is refused after that many)."""
    budget = [MAX_ALIAS_VALUES]
    try:
        return _build(node, budget, set(), False)
    except (RecursionError, TypeError) as exc:  # recursive aliases, unhashable keys
        raise ScheduleFileError(
            f"line {node.start_mark.line + 1}: this YAML uses recursive aliases or "
            "non-text keys, which schedule files cannot; write the values out in full"
        ) from exc


def _build(node: Node, budget: list[int], seen: set[int], copy: bool) -> Any:
    """``copy``: ``node`` is inside an alias of a container built before, so it is a
    value the aliases add (the loader counts them the same way)."""
    if copy:
        budget[0] -= 1
        if budget[0] < 0:
            raise ScheduleFileError(
                f"anchors and aliases expand the file by over {MAX_ALIAS_VALUES:,} values "
                "(aliases of aliases?); write the values out instead of aliasing aliases"
            )
    elif not isinstance(node, ScalarNode):
        copy = id(node) in seen  # met again: an alias, its values are copies
        seen.add(id(node))
    if isinstance(node, MappingNode):
        return {_build(k, budget, seen, copy): _build(v, budget, seen, copy)
                for k, v in node.value}
    if isinstance(node, SequenceNode):
        return [_build(v, budget, seen, copy) for v in node.value]
    tag, value = node.tag, node.value
    if tag == _NULL:
        return None
    if tag == _INT and _DECIMAL.fullmatch(value):
        return int(value)
    if tag in (_INT, _BOOL, _FLOAT):
        return _CONSTRUCTOR.construct_object(node)
    return value


_NULL, _INT, _BOOL, _FLOAT = (_TAG + t for t in ("null", "int", "bool", "float"))
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _same(a: Any, b: Any) -> bool:
    """Equality that tells ``1``, ``1.0`` and ``True`` apart (they are different YAML)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@+:-]*(?: [A-Za-z0-9_./@+:-]+)*")
_RESOLVER = Resolver()
# Characters YAML cannot carry raw inside double quotes (or reads as line breaks).
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\x00": "\\0"}


def _plain_ok(value: str, flow: bool) -> bool:
    if not _PLAIN.fullmatch(value) or (flow and ":" in value):
        return False
    if ": " in value or value.endswith(":"):
        return False
    tag: str = _RESOLVER.resolve(ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag == _TAG + "str"


def _printable(ch: str) -> bool:
    code = ord(ch)
    if code in (0x85, 0x2028, 0x2029, 0xFEFF):
        return False
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or code >= 0x10000
    )


def _double_quoted(value: str) -> str:
    out = []
    for ch in value:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _printable(ch):
            out.append(ch)
        elif ord(ch) <= 0xFF:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    return '"' + "".join(out) + '"'


def _string(value: str, flow: bool, quote: Quote, plain: bool = True) -> str:
    """Plain when allowed and safe, else quoted with ``quote`` (``'`` only if it can)."""
    if plain and _plain_ok(value, flow):
        return value
    if not isinstance(quote, str):
        quote = quote()  # the file's style is worked out only when a value needs quotes
    if quote == "'" and all(_printable(ch) for ch in value):
        return "'" + value.replace("'", "''") + "'"
    return _double_quoted(value)


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    # YAML 1.1 (PyYAML) needs a dot in the mantissa and a signed exponent.
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return mantissa + ("e" + exponent if exponent else "")


def _scalar(value: Any, flow: bool, quote: Quote, plain: bool = True) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, str):
        return _string(value, flow, quote, plain)
    raise ScheduleFileError(
        f"cannot write a value of type {type(value).__name__} to YAML; "
        "use JSON values (strings, numbers, booleans, null, lists, objects)"
    )


def _text(value: Any, quote: Quote, flow: bool) -> str:
    """One-line YAML for any JSON value; ``flow`` says whether we are inside brackets."""
    if isinstance(value, dict):
        pairs = (f"{_key(k, quote, True)}: {_text(v, quote, True)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v, quote, True) for v in value) + "]"
    return _scalar(value, flow, quote)


def _key(key: Any, quote: Quote, flow: bool) -> str:
    if not isinstance(key, str):
        raise ScheduleFileError(f"mapping keys must be strings, got {key!r}")
    return _string(key, flow, quote)


# --------------------------------------------------------------------------- the document


@dataclass(order=True)
class _Splice:
    start: int
    end: int
    seq: int
    text: str = field(compare=False)


class _Doc:
    """One parsed file plus the splices planned against it."""

    def __init__(self, text: str, quote_source: str | None = None) -> None:
        # ``quote_source``: the whole file, when ``text`` is one item cut out of it.
        self.quote_source = quote_source
        # libyaml skips a byte-order mark without counting it in positions.
        self.bom = "\ufeff" if text.startswith("\ufeff") else ""
        text = text[len(self.bom) :]
        self.text = text
        self.newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
        self.splices: list[_Splice] = []
        try:
            self.root = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise ScheduleFileError(
                f"the schedule file is not valid YAML ({_one_line(exc)}); "
                "fix the syntax (schedsync validate shows where) before editing it"
            ) from exc
        self.seq_key, self.seq_value = self._schedules()
        self.seq = self.seq_value if isinstance(self.seq_value, SequenceNode) else None
        self.data: dict[str, Any] = _construct(self.root) if self.root is not None else {}
        self.values: list[Any] = self.data["schedules"] if self.seq is not None else []
        self._quote: str | None = None

    # -- reading ---------------------------------------------------------------------

    def _schedules(self) -> tuple[Node | None, Node | None]:
        root = self.root
        if root is None:
            return None, None
        if not isinstance(root, MappingNode):
            raise ScheduleFileError(
                "a schedule file must be a mapping with a 'schedules:' list at the top"
            )
        for key, value in root.value:
            if isinstance(key, ScalarNode) and key.value == "schedules":
                if isinstance(value, SequenceNode) or value.tag == _TAG + "null":
                    return key, value
                raise ScheduleFileError(
                    f"line {value.start_mark.line + 1}: 'schedules' must be a list of "
                    "mappings (each starting with '- name: ...')"
                )
        return None, None

    def items(self) -> list[tuple[str, MappingNode]]:
        out = []
        for item in self.seq.value if self.seq is not None else []:
            if not isinstance(item, MappingNode):
                raise ScheduleFileError(
                    f"line {item.start_mark.line + 1}: every entry of 'schedules' must be a "
                    "mapping starting with 'name:'"
                )
            name = next((v for k, v in item.value if k.value == "name"), None)
            if isinstance(name, ScalarNode):
                out.append((name.value, item))
        return out

    def find(self, name: str) -> tuple[int, MappingNode]:
        hits = [
            (i, item)
            for i, item in enumerate(self.seq.value if self.seq is not None else [])
            if isinstance(item, MappingNode)
            and any(k.value == "name" and _construct(v) == name for k, v in item.value)
        ]
        if not hits:
            raise ScheduleNotFound(f"no schedule named {name!r} in this file")
        if len(hits) > 1:
            lines = ", ".join(str(item.start_mark.line + 1) for _, item in hits)
            raise ScheduleFileError(
                f"the name {name!r} appears {len(hits)} times (lines {lines}); "
                "names must be unique: rename or remove the duplicates first"
            )
        return hits[0]

    def _quote_style(self) -> str:
        counts = {'"': 0, "'": 0}

        def walk(node: Node) -> None:
            if isinstance(node, ScalarNode):
                if node.style in counts:
                    counts[node.style] += 1
            elif isinstance(node, MappingNode):
                for k, v in node.value:
                    walk(k)
                    walk(v)
            elif isinstance(node, SequenceNode):
                for v in node.value:
                    walk(v)

        if self.seq is not None:
            walk(self.seq)
        return "'" if counts["'"] > counts['"'] else '"'

    # -- positions -------------------------------------------------------------------

    def end(self, node: Node) -> int:
        """Index just after the last character of ``node``'s own text."""
        if isinstance(node, ScalarNode):
            if node.style in ("|", ">"):
                return self._trim_back(node.end_mark.index, node.start_mark.index)
            return int(node.end_mark.index)
        if getattr(node, "flow_style", False) or not node.value:
            return int(node.end_mark.index)
        last = node.value[-1]
        return self.end(last[1] if isinstance(node, MappingNode) else last)

    def _trim_back(self, index: int, floor: int) -> int:
        while index > floor and self.text[index - 1] in " \t\r\n":
            index -= 1
        return index

    def line_start(self, index: int) -> int:
        return self.text.rfind("\n", 0, index) + 1

    def line_end(self, index: int) -> int:
        """Index after the newline of the line holding ``index`` (or the text's end)."""
        nl = self.text.find("\n", index)
        return len(self.text) if nl < 0 else nl + 1

    def _line(self, start: int) -> str:
        return self.text[start : self.line_end(start)]

    def _prev_line_start(self, start: int) -> int | None:
        return None if start == 0 else self.line_start(start - 1)

    def _indent_of(self, start: int) -> int:
        line = self._line(start)
        return len(line) - len(line.lstrip(" "))

    def _is_blank(self, start: int) -> bool:
        return start < len(self.text) and not self._line(start).strip()

    def _is_comment(self, start: int) -> bool:
        return self._line(start).lstrip(" ").startswith("#")

    def _colon_after(self, key: Node) -> int:
        return self.text.index(":", key.end_mark.index)

    def _column(self, index: int) -> int:
        return index - self.line_start(index)

    def _alone_on_line(self, index: int) -> bool:
        return not self.text[self.line_start(index) : index].strip()

    # -- splicing --------------------------------------------------------------------

    def splice(self, start: int, end: int, text: str) -> None:
        self.splices.append(_Splice(start, end, len(self.splices), text))

    def finish(self, expected: Any) -> str:
        text = self.text
        previous_start = len(text) + 1
        for s in sorted(self.splices, key=lambda s: (s.start, s.seq), reverse=True):
            if s.end > previous_start:
                raise ScheduleFileError(_BUG)
            text = text[: s.start] + s.text + text[s.end :]
            previous_start = s.start
        self._verify(text, expected)
        return self.bom + text

    def _verify(self, text: str, expected: Any) -> None:
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as exc:
            raise ScheduleFileError(f"{_BUG} ({_one_line(exc)})") from exc
        got = _construct(root) if root is not None else None
        if not _same(got, expected):
            raise ScheduleFileError(_BUG)

    def data_with(self, change: Any) -> Any:
        return {**self.data, "schedules": change(list(self.values))}

    def quote(self) -> str:
        """The quote character the file uses most (for values that need quoting)."""
        if self._quote is None:
            whole = self if self.quote_source is None else _Doc(self.quote_source)
            self._quote = whole._quote_style()
        return self._quote

    # -- editing a mapping -----------------------------------------------------------

    def edit_item(self, item: MappingNode, new: dict[str, Any]) -> None:
        """Edit a schedule into ``new`` field by field (fields missing from it go)."""
        for _, value in item.value:
            self._guard_inside(value, item)
        flow = bool(item.flow_style) or bool(self.seq is not None and self.seq.flow_style)
        self._edit_nested_mapping(item, new, flow)

    def _guard_inside(self, value: Node, item: Node) -> None:
        # An alias shares its anchor's node (and positions): editing it would edit the
        # anchor, silently changing every schedule that uses it.
        if value.start_mark.index < item.start_mark.index or self.end(value) > self.end(item):
            raise ScheduleFileError(
                f"line {item.start_mark.line + 1}: this schedule uses a YAML alias "
                "(*name) or merge key; write its values out in full before editing it here"
            )

    def edit_value(self, node: Node, new: Any, key: Node | None, flow: bool) -> None:
        """Turn ``node`` (the value of ``key``, or a list item) into ``new``."""
        if _same(_construct(node), new):
            return
        inner = flow or bool(getattr(node, "flow_style", False))
        if isinstance(node, MappingNode) and isinstance(new, dict) and new:
            self._edit_nested_mapping(node, new, inner)
        elif isinstance(node, SequenceNode) and isinstance(new, list) and new:
            self._edit_sequence(node, new, inner)
        elif isinstance(node, ScalarNode):
            self._replace_scalar(node, new, flow)
        else:
            self._replace_whole(node, new, key, flow)

    def _edit_nested_mapping(self, node: MappingNode, new: dict[str, Any], flow: bool) -> None:
        pairs = list(node.value)
        old_keys = [_construct(k) for k, _ in pairs]
        deleting = any(k not in new for k in old_keys)  # so there is a first pair
        if deleting and (
            node.flow_style
            or (old_keys[0] not in new and not self._alone_on_line(pairs[0][0].start_mark.index))
        ):
            # Deleting from {...}, or the key after '- ': rewrite the mapping in place.
            self.splice(node.start_mark.index, self.end(node), _text(new, self.quote, True))
            return
        for i, ((key, value), name) in enumerate(zip(pairs, old_keys, strict=True)):
            if name not in new:
                self._delete_pair(node, pairs, i)
            else:
                self.edit_value(value, new[name], key, flow)
        added = {k: v for k, v in new.items() if k not in old_keys}
        if added:
            self._insert_pairs(node, added, flow)

    def _replace_scalar(self, node: ScalarNode, new: Any, flow: bool) -> None:
        start, end = node.start_mark.index, self.end(node)
        if node.style in ("'", '"'):  # keep the author's quoting
            text = (
                _text(new, node.style, flow)
                if isinstance(new, (dict, list))
                else _scalar(new, flow, node.style, plain=False)
            )
        else:
            text = _text(new, self.quote, flow)
        if start == end and node.value == "":  # an empty (null) value right after 'key:'
            text = " " + text
        self.splice(start, end, text)

    def _replace_whole(self, node: Node, new: Any, key: Node | None, flow: bool) -> None:
        text = _text(new, self.quote, flow)
        if key is not None and not flow and not getattr(node, "flow_style", True):
            # A block collection starts on the next line: rewrite from the colon to the
            # end of its last line (a comment there described the old value).
            end = self._content_line_end(node)
            end -= len(self.text[:end]) - len(self.text[:end].rstrip("\r\n"))
            self.splice(self._colon_after(key) + 1, end, " " + text)
        else:
            self.splice(node.start_mark.index, self.end(node), text)

    def _edit_sequence(self, node: SequenceNode, new: list[Any], flow: bool) -> None:
        old = node.value
        if flow and len(old) != len(new):
            self.splice(node.start_mark.index, self.end(node), _text(new, self.quote, True))
            return
        for index in range(len(new), len(old)):
            self.splice(*self._block_item_span(node, index, with_comments=False), "")
        for item, value in zip(old, new, strict=False):
            self.edit_value(item, value, None, flow)
        extra = new[len(old) :]
        if extra:
            indent = " " * self._column(self._dash(old[-1]))
            lines = "".join(f"{indent}- {_text(v, self.quote, False)}{self.newline}" for v in extra)
            self._insert_lines(self._content_line_end(node), lines)

    def _delete_pair(self, node: MappingNode, pairs: list[tuple[Node, Node]], i: int) -> None:
        key, value = pairs[i]
        if self._alone_on_line(key.start_mark.index):
            start = self.line_start(key.start_mark.index)
            self.splice(start, self.line_end(self.end(value) - 1), "")
        elif i + 1 < len(pairs):  # first key on a '- ' line: pull the next key up
            self.splice(key.start_mark.index, pairs[i + 1][0].start_mark.index, "")
        else:
            raise ScheduleFileError(_BUG)

    def _flow_delete(self, spans: list[tuple[int, int]], i: int) -> None:
        if i > 0:
            self.splice(spans[i - 1][1], spans[i][1], "")
        elif len(spans) > 1:
            self.splice(spans[0][0], spans[1][0], "")
        else:
            self.splice(spans[0][0], spans[0][1], "")

    def _insert_pairs(self, node: MappingNode, added: dict[str, Any], flow: bool) -> None:
        if node.flow_style or flow:
            body = ", ".join(
                f"{_key(k, self.quote, True)}: {_text(v, self.quote, True)}"
                for k, v in added.items()
            )
            if node.value:
                at = self.end(node.value[-1][1])
                self.splice(at, at, ", " + body)
            else:
                self.splice(node.start_mark.index + 1, node.start_mark.index + 1, body)
            return
        indent = " " * node.value[0][0].start_mark.column
        lines = "".join(
            f"{indent}{_key(k, self.quote, False)}: {_text(v, self.quote, False)}{self.newline}"
            for k, v in added.items()
        )
        self._insert_lines(self._content_line_end(node), lines)

    def _content_line_end(self, node: Node) -> int:
        return self.line_end(self.end(node) - 1)

    def _insert_lines(self, at: int, lines: str) -> None:
        """Insert whole lines at ``at`` (a line start, or the end of an unterminated file)."""
        if at == len(self.text) and self.text and not self.text.endswith("\n"):
            lines = self.newline + lines[: -len(self.newline)]
        self.splice(at, at, lines)

    # -- the schedules list ----------------------------------------------------------

    def _dash(self, item: Node) -> int:
        index = item.start_mark.index - 1
        while index >= 0 and self.text[index] in " \t\r\n":
            index -= 1
        if index < 0 or self.text[index] != "-":
            raise ScheduleFileError(_BUG)
        return index

    def _block_item_span(
        self, seq: SequenceNode, index: int, with_comments: bool
    ) -> tuple[int, int]:
        item = seq.value[index]
        dash = self._dash(item)
        if not self._alone_on_line(dash):
            raise ScheduleFileError(
                f"line {item.start_mark.line + 1}: the list item does not start its own "
                "line; put each '- name: ...' on a line of its own before editing"
            )
        dash_col = self._column(dash)
        start = self.line_start(dash)
        end = self.line_end(self.end(item) - 1)
        if with_comments:
            prev = self._prev_line_start(start)
            while prev is not None and self._is_comment(prev) and self._indent_of(prev) >= dash_col:
                start = prev
                prev = self._prev_line_start(start)
            while (
                end < len(self.text) and self._is_comment(end) and self._indent_of(end) > dash_col
            ):
                end = self.line_end(end)
        return start, end

    def remove_item(self, index: int) -> None:
        seq, key = self.seq, self.seq_key
        if seq is None or key is None:
            raise ScheduleFileError(_BUG)
        if seq.flow_style:
            self._flow_delete([(v.start_mark.index, self.end(v)) for v in seq.value], index)
            return
        start, end = self._block_item_span(seq, index, with_comments=True)
        prev = self._prev_line_start(start)
        prev_blank = prev is not None and self._is_blank(prev)
        # Keep one blank separator between items, not two, and none dangling.
        if (prev_blank or index == 0) and self._is_blank(end):
            end = self.line_end(end)
        elif prev_blank and prev is not None and end >= len(self.text):
            start = prev
        if end >= len(self.text) and not self.text.endswith("\n") and start > 0:
            # The file ends without a newline: keep it so (drop the one before us).
            start -= 2 if self.text[start - 2 : start] == "\r\n" else 1
        self.splice(start, end, "")
        if len(seq.value) == 1:
            colon = self._colon_after(key) + 1
            self.splice(colon, colon, " []")

    def append_item(self, entry: dict[str, Any]) -> None:
        seq = self.seq
        if seq is None or not seq.value:
            self._new_list(entry)
            return
        last = seq.value[-1]
        if seq.flow_style:
            at = self.end(last)
            self.splice(at, at, ", " + _text(entry, self.quote, True))
            return
        dash_col = self._column(self._dash(last))
        if isinstance(last, MappingNode) and last.flow_style:
            block = f"{' ' * dash_col}- {_text(entry, self.quote, False)}{self.newline}"
        else:
            offset = last.start_mark.column - dash_col if self._on_dash_line(last) else 2
            block = self._block_entry(entry, dash_col, offset, last)
        start, end = self._block_item_span(seq, len(seq.value) - 1, with_comments=True)
        prev = self._prev_line_start(start)
        if len(seq.value) > 1 and prev is not None and self._is_blank(prev):
            block = self.newline + block  # the file separates items with a blank line
        self._insert_lines(end, block)

    def _on_dash_line(self, item: Node) -> bool:
        return "\n" not in self.text[self._dash(item) : item.start_mark.index]

    def _block_entry(
        self, entry: dict[str, Any], dash_col: int, offset: int, model: Node | None
    ) -> str:
        """``- key: value`` lines; nested mappings follow the model item's style."""
        lines = []
        for key, value in entry.items():
            nested = self._nested_indent(model, key)
            head = f"{_key(key, self.quote, False)}:"
            if nested and isinstance(value, dict) and value:
                lines.append(head)
                lines.extend(
                    f"{' ' * nested}{_key(k, self.quote, False)}: {_text(v, self.quote, False)}"
                    for k, v in value.items()
                )
            else:
                lines.append(f"{head} {_text(value, self.quote, False)}")
        first = " " * dash_col + "-" + " " * (offset - 1) + lines[0]
        rest = [" " * (dash_col + offset) + line for line in lines[1:]]
        return "".join(line + self.newline for line in [first, *rest])

    def _nested_indent(self, model: Node | None, key: str) -> int:
        """The indent of ``key``'s block mapping in the nearest item that has one."""
        if model is None or self.seq is None:
            return 0
        for item in reversed(self.seq.value):
            for k, v in item.value if isinstance(item, MappingNode) else ():
                if k.value == key and isinstance(v, MappingNode) and not v.flow_style and v.value:
                    return int(v.value[0][0].start_mark.column - k.start_mark.column)
        return 0

    def _new_list(self, entry: dict[str, Any]) -> None:
        key = self.seq_key
        if key is None:  # no 'schedules' key at all: append one at the end
            column = 0
            if isinstance(self.root, MappingNode) and self.root.value:
                if self.root.flow_style:
                    raise ScheduleFileError(
                        "the file is a one-line {...} mapping; write it in block style "
                        "(one 'key: value' per line) before adding schedules"
                    )
                column = self.root.value[0][0].start_mark.column
            block = self._block_entry(entry, column + _DEFAULT_INDENT, 2, None)
            self._insert_lines(len(self.text), f"{' ' * column}schedules:{self.newline}{block}")
            return
        colon = self._colon_after(key) + 1
        if self.seq_value is not None:  # 'schedules: []' or 'schedules: null'
            self.splice(colon, self.end(self.seq_value), "")
        block = self._block_entry(entry, key.start_mark.column + _DEFAULT_INDENT, 2, None)
        self._insert_lines(self.line_end(colon), block)


_BUG = (
    "schedsync could not edit this file without changing other content (a bug; the "
    "file was left untouched): please report it with the file, and edit it by hand"
)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())

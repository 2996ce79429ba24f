"""The read path: YAML bytes -> plain dicts/lists plus the position of every key and value.

Why PyYAML's libyaml composer and not ruamel.yaml (which the issue first named): a
ruamel round-trip load of 10k schedules takes ~30-40 s and even its C ``safe`` loader is
2x slower than libyaml (PERFORMANCE.md). libyaml composes a node graph whose nodes
carry their marks; building plain containers from that graph ourselves gives us the
positions for free and lets us refuse what we must never construct: non-standard tags
(no Python objects, ever), duplicate keys, non-string keys and alias bombs.
Round-trip parsing (ruamel) is used only for files that are being written
(``schedsync.engine.yamledit``).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
import yaml.reader
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from schedsync.engine.diagnostics import Diagnostic, Severity, format_path

# libyaml is the fast path; the pure-Python composer gives the same graph.
_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_Base):  # type: ignore[misc]
    """SafeLoader's composer with a leaner tag resolver.

    libyaml calls back into Python to resolve the tag of every node, and PyYAML's
    resolver spends most of that time on path resolvers (``descend_resolver`` /
    ``ascend_resolver``, twice per node) that SafeLoader never registers. Skipping
    them and memoising the answer per (plain scalar text) resolves exactly the same
    tags as SafeLoader with a third of the calls.
    """

    _memo: dict[str, str] = {}

    # libyaml calls these twice per node; C builtins that ignore their arguments cost
    # no Python frame (a class attribute that is a builtin is not bound as a method).
    descend_resolver = operator.is_
    ascend_resolver = tuple

    def resolve(self, kind: Any, value: Any, implicit: tuple[bool, bool]) -> Any:
        # BaseResolver.resolve without path resolvers: quoted scalars are strings,
        # collections get the default tags, plain scalars go through the implicit
        # resolvers (memoised: the same few plain values repeat all over a file).
        if kind is ScalarNode:
            if not implicit[0]:
                return _STR
            tag = self._memo.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)
                if len(self._memo) < 100_000:
                    self._memo[value] = tag
            return tag
        return _SEQ if kind is SequenceNode else _MAP


Path = tuple[str | int, ...]
Position = tuple[int, int]

# Values that anchors and aliases may add to a document beyond what its text holds.
# Anchors for shared defaults add a few hundred; an alias bomb ("billion laughs")
# exceeds this after a few levels and is refused before it is built, so building a
# document never costs more than its own size plus this (~200 bytes per value).
MAX_ALIAS_VALUES = 100_000
MAX_NODES = MAX_ALIAS_VALUES  # the name callers and tests knew it by
# Real files nest a handful of levels (args/kwargs a few more); building is recursive,
# so a deeper document would hit Python's recursion limit instead of a diagnostic.
MAX_DEPTH = 100
# Integers are stored and sent as JSON, whose readers (orjson, the schedulers) stop at
# 64 bits; a longer literal is refused before ``int()`` spends time on it.
MIN_INT, MAX_INT = -(2**63), 2**64 - 1
_MAX_INT_TEXT = 100

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null"))
_TIMESTAMP, _MAP, _SEQ, _MERGE = (f"{_TAG}{t}" for t in ("timestamp", "map", "seq", "merge"))
_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)\Z")
_SCALARS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _TIMESTAMP})
_constructor = SafeConstructor()


@dataclass
class Document:
    """One parsed file.

    ``values[path]`` is the (line, column) of the value at ``path`` and ``keys[path]``
    the position of the mapping key that introduces it (both 1-based). ``data`` is
    ``None`` when the file could not be parsed (``diagnostics`` says why).
    """

    file: str
    data: Any = None
    values: dict[Path, Position] = field(default_factory=dict)
    keys: dict[Path, Position] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # Paths whose value the loader already reported (a duplicate key, a refused tag):
    # later checks stay quiet about them instead of piling up follow-on errors.
    poisoned: set[Path] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def position(self, path: Path, *, key: bool = False) -> Position:
        """The position of ``path``, or of its nearest ancestor that has one."""
        table = self.keys if key else self.values
        probe = path
        while probe:
            found = table.get(probe) or self.values.get(probe)
            if found is not None:
                return found
            probe = probe[:-1]
        return self.values.get((), (1, 1))


class _Refused(Exception):
    """Building stops: the document holds something we never construct."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def load_document(content: bytes, file: str) -> Document:
    """Parse ``content`` (the bytes of ``file``, a repo-relative path)."""
    doc = Document(file)
    text = _decode(content, doc)
    if text is None:
        return doc
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        doc.diagnostics.append(_syntax_error(exc, file))
        return doc
    except yaml.reader.ReaderError as exc:  # control characters: a position, no mark
        doc.diagnostics.append(_reader_error(exc, text, file))
        return doc
    if root is None:
        doc.values[()] = (1, 1)
        return doc
    builder = _Builder(doc)
    try:
        if "&" in text:  # without an anchor there is no alias, so nothing to expand
            builder.check_size(root)
        doc.data = builder.build(root, ())
    except _Refused as refused:
        doc.data = None
        doc.diagnostics.append(refused.diagnostic)
    return doc


def _decode(content: bytes, doc: Document) -> str | None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = content[: exc.start]
        line = before.count(b"\n") + 1
        column = exc.start - (before.rfind(b"\n") + 1) + 1
        doc.diagnostics.append(
            _error(
                doc.file,
                (line, column),
                (),
                "invalid-utf8",
                f"the file is not valid UTF-8 (byte 0x{content[exc.start]:02x} at offset "
                f"{exc.start})",
                "UTF-8 text",
                f"byte 0x{content[exc.start]:02x}",
                "save the file as UTF-8 (most editors: 'Save with encoding')",
            )
        )
        return None
    return text[1:] if text.startswith("\ufeff") else text


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> Diagnostic:
    before = text[: exc.position]
    line = before.count("\n") + 1
    column = exc.position - (before.rfind("\n") + 1) + 1
    character = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "?"
    return _error(
        file,
        (line, column),
        (),
        "syntax",
        f"the file contains the control character {character}, which YAML forbids",
        "printable text",
        character,
        "delete the character (often a stray paste)",
    )


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    position = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    problem = exc.problem or "invalid YAML"
    context = (
        f" ({exc.context}"
        + (f" at line {exc.context_mark.line + 1})" if exc.context_mark is not None else ")")
        if exc.context
        else ""
    )
    fix = "fix the YAML syntax at this place"
    both = f"{problem} {exc.context or ''}"
    if "found character '*'" in both or "alias" in both:
        fix = "quote values that start with '*', e.g. minute: \"*/5\""
    elif "expected a single document" in both:
        fix = "keep one document per file: remove the '---' separator"
    elif "mapping values are not allowed" in problem:
        fix = "quote the value if it contains ': ', or fix the indentation"
    return _error(
        file,
        position,
        (),
        "syntax",
        f"YAML syntax error: {problem}{context}",
        "valid YAML",
        None,
        fix,
    )


def _error(
    file: str,
    position: Position,
    path: Path,
    code: str,
    message: str,
    expected: str | None,
    found: str | None,
    fix: str | None,
) -> Diagnostic:
    return Diagnostic(
        Severity.ERROR,
        code,
        file,
        position[0],
        position[1],
        format_path(path),
        message,
        expected,
        found,
        fix,
    )


def _mark(node: Node) -> Position:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)


class _Builder:
    """Turns a composed node graph into plain containers, recording positions."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.values = doc.values
        self.keys = doc.keys
        # Nodes being built right now: meeting one again means a recursive alias.
        self.active: set[int] = set()

    def check_size(self, root: Node) -> None:
        """Count the nodes the document expands to (aliases included) in linear time,
        and the nodes its text holds (each container and its direct children once)."""
        sizes: dict[int, int] = {}
        written = 1

        def size(node: Node, depth: int) -> int:
            if isinstance(node, ScalarNode):
                return 1
            known = sizes.get(id(node))
            if known is not None:
                return known
            if depth > MAX_DEPTH:
                self.depth_error(node)
            sizes[id(node)] = 1  # a recursive alias counts once, the build refuses it
            nonlocal written
            written += len(node.value) * (2 if isinstance(node, MappingNode) else 1)
            total = 1
            if isinstance(node, MappingNode):
                for key, value in node.value:
                    total += size(key, depth + 1) + size(value, depth + 1)
            else:
                for item in node.value:
                    total += size(item, depth + 1)
            sizes[id(node)] = total
            return total

        total = size(root, 0)
        added = total - written
        if added > MAX_ALIAS_VALUES:
            raise _Refused(
                _error(
                    self.doc.file,
                    _mark(root),
                    (),
                    "too-many-nodes",
                    f"anchors and aliases expand the document by {added:,} values "
                    f"(limit {MAX_ALIAS_VALUES:,}): {written:,} written, {total:,} expanded",
                    f"aliases adding at most {MAX_ALIAS_VALUES:,} values",
                    f"{added:,}",
                    "do not nest aliases of aliases; write the values out instead",
                )
            )

    def build(self, node: Node, path: Path) -> Any:
        self.values[path] = _mark(node)
        if isinstance(node, ScalarNode):
            return self.scalar(node, path)
        if id(node) in self.active:
            self.recursion_error(node, path)
        if len(path) > MAX_DEPTH:
            self.depth_error(node)
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            if node.tag != _SEQ:
                self.tag_error(node, path)
                return None
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def scalar(self, node: ScalarNode, path: Path) -> Any:
        tag, value = node.tag, node.value
        if tag in (_STR, _TIMESTAMP):
            # Timestamps stay text: the models parse them, and plain data (kwargs)
            # must remain JSON-able.
            return value
        if tag == _INT:
            return self.integer(node, path)
        if tag == _NULL:
            return None
        if tag == _BOOL:
            return _constructor.construct_yaml_bool(node)
        if tag == _FLOAT:
            return _constructor.construct_yaml_float(node)
        self.tag_error(node, path)
        return None

    def integer(self, node: ScalarNode, path: Path) -> int | None:
        text = node.value
        number: int | None = None
        if len(text) <= _MAX_INT_TEXT:
            number = int(text) if _DECIMAL.match(text) else _constructor.construct_yaml_int(node)
        if number is not None and MIN_INT <= number <= MAX_INT:
            return number
        shown = text if len(text) <= 30 else f"{text[:27]}... ({len(text)} characters)"
        self.report(
            _error(
                self.doc.file,
                _mark(node),
                path,
                "number-too-large",
                f"the integer {shown} does not fit in 64 bits",
                f"a whole number from {MIN_INT} to {MAX_INT}",
                shown,
                "use a smaller number, or quote it to pass it as text",
            ),
            path,
        )
        return None

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any] | None:
        if node.tag != _MAP:
            self.tag_error(node, path)
            return None
        result: dict[str, Any] = {}
        merged: list[MappingNode] = []
        values, keys = self.values, self.keys
        for key_node, value_node in node.value:
            if key_node.tag == _STR and key_node.value not in result:
                # The common case, inlined: a new string key (most values are scalars).
                name = key_node.value
                child = (*path, name)
                mark = key_node.start_mark
                keys[child] = (mark.line + 1, mark.column + 1)
                if type(value_node) is ScalarNode:
                    mark = value_node.start_mark
                    values[child] = (mark.line + 1, mark.column + 1)
                    if value_node.tag == _STR:
                        result[name] = value_node.value
                    else:
                        result[name] = self.scalar(value_node, child)
                else:
                    result[name] = self.build(value_node, child)
                continue
            if key_node.tag == _MERGE:
                merged.extend(self.merge_sources(value_node, path))
                continue
            name = self.key(key_node, path)
            if name is None:
                continue
            child = (*path, name)
            if name in result:
                first = self.keys[child]
                self.report(
                    _error(
                        self.doc.file,
                        _mark(key_node),
                        child,
                        "duplicate-key",
                        f"duplicate key {name!r}: it is also set at line {first[0]}",
                        "each key once per mapping",
                        f"{name!r} at lines {first[0]} and {_mark(key_node)[0]}",
                        "remove one of the two (YAML keeps only the last, silently)",
                    ),
                    child,
                )
                continue
            self.keys[child] = _mark(key_node)
            result[name] = self.build(value_node, child)
        for source in merged:  # explicit keys win over merged ones (YAML merge rules)
            for key_node, value_node in source.value:
                name = self.key(key_node, path)
                if name is not None and name not in result:
                    self.keys[(*path, name)] = _mark(key_node)
                    result[name] = self.build(value_node, (*path, name))
        return result

    def merge_sources(self, node: Node, path: Path) -> list[MappingNode]:
        if isinstance(node, MappingNode):
            return [node]
        if isinstance(node, SequenceNode) and all(
            isinstance(item, MappingNode) for item in node.value
        ):
            return list(node.value)
        raise _Refused(
            _error(
                self.doc.file,
                _mark(node),
                path,
                "invalid-merge",
                "a merge key '<<' needs a mapping or a list of mappings",
                "<<: *anchor",
                node.tag,
                "point '<<' at an anchored mapping",
            )
        )

    def report(self, diagnostic: Diagnostic, path: Path | None = None) -> None:
        self.doc.diagnostics.append(diagnostic)
        if path is not None:
            self.doc.poisoned.add(path)

    def key(self, node: Node, path: Path) -> str | None:
        """The key's text, or None (reported) when it is not a string."""
        if isinstance(node, ScalarNode) and node.tag == _STR:
            return str(node.value)
        if isinstance(node, ScalarNode) and node.tag in _SCALARS:
            self.report(
                _error(
                    self.doc.file,
                    _mark(node),
                    path,
                    "non-string-key",
                    f"mapping keys must be strings; {node.value!r} is read as "
                    f"{node.tag.removeprefix(_TAG)}",
                    "a string key",
                    node.value,
                    f'quote the key: "{node.value}":',
                )
            )
            return None
        self.report(
            _error(
                self.doc.file,
                _mark(node),
                path,
                "non-string-key",
                "mapping keys must be strings, not lists, mappings or tagged values",
                "a string key",
                node.tag,
                "use a plain string as the key",
            )
        )
        return None

    def recursion_error(self, node: Node, path: Path) -> None:
        raise _Refused(
            _error(
                self.doc.file,
                _mark(node),
                path,
                "recursive-alias",
                "an alias refers to a mapping that contains it (a recursive structure)",
                "a finite document",
                "a recursive alias",
                "remove the alias that points back into its own anchor",
            )
        )

    def depth_error(self, node: Node) -> None:
        raise _Refused(
            _error(
                self.doc.file,
                _mark(node),
                (),
                "too-deep",
                f"the document nests lists and mappings more than {MAX_DEPTH} levels deep",
                f"at most {MAX_DEPTH} levels",
                f"more than {MAX_DEPTH} levels",
                "flatten the structure (args and kwargs rarely need more than a few levels)",
            )
        )

    def tag_error(self, node: Node, path: Path) -> None:
        self.report(
            _error(
                self.doc.file,
                _mark(node),
                path,
                "unsupported-tag",
                f"the tag {node.tag!r} is not allowed: schedule files hold plain data only",
                "a string, number, boolean, null, list or mapping",
                node.tag,
                "remove the tag (e.g. '!!python/...' or '!custom') and write the plain value",
            ),
            path,
        )
        return None

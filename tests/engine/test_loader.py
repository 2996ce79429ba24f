"""The read path: plain data, positions of every key and value, and what it refuses."""

from __future__ import annotations

import pytest

from schedsync.engine.loader import MAX_NODES, Document, load_document


def codes(doc: Document) -> list[tuple[str, int, int, str]]:
    return [(d.code, d.line, d.column, d.path) for d in doc.diagnostics]


def test_plain_data_with_positions_of_values_and_keys() -> None:
    doc = load_document(
        b"schedules:\n  - name: a\n    trigger: {minute: 0, hour: '9'}\n    args: [1, x]\n",
        "f.yaml",
    )
    assert doc.ok
    assert doc.data == {"schedules": [{"name": "a", "trigger": {"minute": 0, "hour": "9"},
                                       "args": [1, "x"]}]}
    assert doc.values[("schedules", 0, "name")] == (2, 11)
    assert doc.keys[("schedules", 0, "name")] == (2, 5)
    assert doc.values[("schedules", 0, "trigger", "hour")] == (3, 32)
    assert doc.keys[("schedules", 0, "trigger", "hour")] == (3, 26)
    assert doc.values[("schedules", 0, "args", 1)] == (4, 15)
    assert doc.values[("schedules", 0)] == (2, 5)


def test_position_falls_back_to_the_nearest_ancestor() -> None:
    doc = load_document(b"a:\n  b: 1\n", "f.yaml")
    assert doc.position(("a", "b", "missing")) == (2, 6)
    assert doc.position(("a", "nope"), key=True) == (1, 1)
    assert doc.position(("a", "b"), key=True) == (2, 3)


def test_yaml_scalars_resolve_like_safe_loader() -> None:
    doc = load_document(
        b"i: 0x1f\nf: 1.5\nb: yes\nn: ~\nt: 2026-12-24T18:00:00+01:00\ns: '0'\nu: 1_000\n",
        "f.yaml",
    )
    assert doc.data == {"i": 31, "f": 1.5, "b": True, "n": None,
                        "t": "2026-12-24T18:00:00+01:00", "s": "0", "u": 1000}


def test_timestamps_stay_text_so_data_remains_json() -> None:
    doc = load_document(b"d: 2026-01-01\n", "f.yaml")
    assert doc.data == {"d": "2026-01-01"}


def test_duplicate_key_names_both_lines_and_keeps_going() -> None:
    doc = load_document(b"a: 1\nb: 2\na: 3\nc: !!binary aGk=\n", "f.yaml")
    assert codes(doc) == [("duplicate-key", 3, 1, "a"), ("unsupported-tag", 4, 4, "c")]
    assert doc.diagnostics[0].message == "duplicate key 'a': it is also set at line 1"
    assert doc.diagnostics[0].found == "'a' at lines 1 and 3"
    assert doc.data == {"a": 1, "b": 2, "c": None}
    assert ("a",) in doc.poisoned


@pytest.mark.parametrize(
    "text",
    [
        b"a: !!python/object/apply:os.system ['echo pwned']\n",
        b"a: !!python/name:os.system\n",
        b"a: !custom x\n",
        b"a: !!set {x: null}\n",
    ],
)
def test_tags_are_refused_and_never_constructed(text: bytes) -> None:
    doc = load_document(text, "f.yaml")
    assert [d.code for d in doc.diagnostics] == ["unsupported-tag"]
    assert doc.diagnostics[0].line == 1
    assert doc.diagnostics[0].column == 4
    assert "schedule files hold plain data only" in doc.diagnostics[0].message
    assert doc.data == {"a": None}


def test_non_string_keys_are_refused_with_the_quoting_fix() -> None:
    doc = load_document(b"1: x\nyes: y\nok: z\n", "f.yaml")
    assert codes(doc) == [("non-string-key", 1, 1, ""), ("non-string-key", 2, 1, "")]
    assert doc.diagnostics[1].message == "mapping keys must be strings; 'yes' is read as bool"
    assert doc.diagnostics[1].fix == 'quote the key: "yes":'
    assert doc.data == {"ok": "z"}


def test_syntax_error_carries_the_libyaml_mark() -> None:
    doc = load_document(b"schedules:\n  - name: a\n    trigger: {minute: 0\n", "f.yaml")
    assert doc.data is None
    assert [d.code for d in doc.diagnostics] == ["syntax"]
    diagnostic = doc.diagnostics[0]
    assert (diagnostic.line, diagnostic.column) == (4, 1)
    assert diagnostic.message.startswith("YAML syntax error: did not find expected ',' or '}'")


def test_unquoted_star_gets_the_quoting_fix() -> None:
    doc = load_document(b"minute: */5\n", "f.yaml")
    assert doc.diagnostics[0].code == "syntax"
    assert doc.diagnostics[0].fix == "quote values that start with '*', e.g. minute: \"*/5\""


def test_several_documents_are_refused() -> None:
    doc = load_document(b"a: 1\n---\nb: 2\n", "f.yaml")
    assert doc.diagnostics[0].code == "syntax"
    assert doc.diagnostics[0].line == 2
    assert doc.diagnostics[0].fix == "keep one document per file: remove the '---' separator"


def test_invalid_utf8_points_at_the_byte() -> None:
    doc = load_document(b"a: 1\nb: caf\xe9\n", "f.yaml")
    assert doc.data is None
    assert codes(doc) == [("invalid-utf8", 2, 7, "")]
    assert doc.diagnostics[0].message == "the file is not valid UTF-8 (byte 0xe9 at offset 11)"


def test_control_character_is_a_positioned_syntax_error() -> None:
    doc = load_document(b"a: ok\nb: \x07\n", "f.yaml")
    assert codes(doc) == [("syntax", 2, 4, "")]
    assert doc.diagnostics[0].found == "U+0007"


def test_bom_is_ignored() -> None:
    assert load_document(b"\xef\xbb\xbfa: 1\n", "f.yaml").data == {"a": 1}


def test_anchors_aliases_and_merge_keys_work() -> None:
    doc = load_document(
        b"base: &b {queue: q, enabled: true}\nx:\n  <<: *b\n  queue: own\nl: &l [1, 2]\nm: *l\n",
        "f.yaml",
    )
    assert doc.ok
    assert doc.data["x"] == {"queue": "own", "enabled": True}
    assert doc.data["m"] == [1, 2]


def test_alias_bomb_is_refused_before_it_is_built() -> None:
    lines = [b"a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 8):
        ref = f"*a{level - 1}".encode()
        lines.append(f"a{level}: &a{level} [".encode() + b", ".join([ref] * 10) + b"]")
    doc = load_document(b"\n".join(lines) + b"\n", "bomb.yaml")
    assert doc.data is None
    assert [d.code for d in doc.diagnostics] == ["too-many-nodes"]
    assert f"(limit {MAX_NODES:,})" in doc.diagnostics[0].message


def test_recursive_alias_is_refused() -> None:
    doc = load_document(b"a: &a\n  b: *a\n", "f.yaml")
    assert doc.data is None
    assert codes(doc) == [("recursive-alias", 1, 4, "a.b")]  # the anchored node


def test_empty_file_is_no_data_and_no_error() -> None:
    doc = load_document(b"# only a comment\n", "f.yaml")
    assert doc.ok
    assert doc.data is None

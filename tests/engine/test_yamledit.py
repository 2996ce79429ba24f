"""Surgical YAML edits: exact expected text for many file styles, plus random round trips."""

from __future__ import annotations

import difflib
import itertools
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from schedsync.engine.errors import FatalError, NotFound
from schedsync.engine.loader import load_document
from schedsync.engine.yamledit import (
    ScheduleExists,
    ScheduleFileError,
    ScheduleNotFound,
    add_schedule,
    find_schedule_names,
    item_span,
    remove_schedule,
    rename_schedule,
    update_schedule,
)

SPEC_STYLE = """\
# schedules/acme/email.yaml
schedules:
  # the digest
  - name: email.daily-digest          # unique inside the project
    scheduler: celery-beat            # a scheduler configured for this project
    trigger_type: cron
    trigger: {minute: "0", hour: "9", day_of_week: "*"}
    task: email.send_daily_digest
    args: []
    kwargs: {locale: en-US}
    enabled: true                     # default true

  - name: email.weekly
    scheduler: celery-beat
    trigger_type: cron
    trigger:
      minute: '0'
      hour: '9'   # nine
    task: email.weekly
    description: |
      hello
      world
    # trailing comment
"""

FOUR_SPACE_NO_OFFSET = """\
schedules:
-   name: a
    scheduler: aps
    trigger_type: interval
    trigger:
        every: 5
        period: minutes
    task: jobs.a
    enabled: yes
-   name: b
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: jobs.b
"""

ZERO_OFFSET = """\
version: 1
schedules:
- name: a
  scheduler: aps
  trigger_type: cron
  trigger: {minute: '*/5'}   # every five
  task: jobs.a
other: keep me
"""


def changed_lines(old: str, new: str) -> list[str]:
    """The -/+ lines of a diff: what a reviewer would see."""
    return [
        line
        for line in difflib.unified_diff(old.splitlines(True), new.splitlines(True), n=0)
        if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]


def load(text: str) -> Any:
    return yaml.safe_load(text)


# --------------------------------------------------------------------------- update


def test_flow_trigger_hour_change_touches_only_that_line() -> None:
    trigger = {"minute": "0", "hour": "10", "day_of_week": "*"}
    new = update_schedule(SPEC_STYLE, "email.daily-digest", {"trigger": trigger})
    assert new == SPEC_STYLE.replace('hour: "9"', 'hour: "10"', 1)
    assert changed_lines(SPEC_STYLE, new) == [
        '-    trigger: {minute: "0", hour: "9", day_of_week: "*"}\n',
        '+    trigger: {minute: "0", hour: "10", day_of_week: "*"}\n',
    ]


def test_block_trigger_keeps_quotes_and_end_of_line_comment() -> None:
    new = update_schedule(SPEC_STYLE, "email.weekly", {"trigger": {"minute": "0", "hour": "7"}})
    assert new == SPEC_STYLE.replace("hour: '9'   # nine", "hour: '7'   # nine")


def test_new_fields_go_after_the_last_field_before_trailing_comment() -> None:
    new = update_schedule(SPEC_STYLE, "email.weekly", {"enabled": False, "queue": "q1"})
    assert new == SPEC_STYLE.replace(
        "      world\n", "      world\n    enabled: false\n    queue: q1\n"
    )


def test_none_deletes_a_block_scalar_field() -> None:
    new = update_schedule(SPEC_STYLE, "email.weekly", {"description": None})
    assert new == SPEC_STYLE.replace("    description: |\n      hello\n      world\n", "")


def test_values_that_would_change_type_are_quoted() -> None:
    new = update_schedule(
        SPEC_STYLE,
        "email.daily-digest",
        {"args": ["yes", "on", "0", "*/5", "null", "1.5", "héllo wörld", 1, 2.5e20, None]},
    )
    assert (
        '    args: ["yes", "on", "0", "*/5", "null", "1.5", "héllo wörld", 1, 2.5e+20, null]\n'
        in (new)
    )
    assert load(new)["schedules"][0]["args"] == [
        "yes", "on", "0", "*/5", "null", "1.5", "héllo wörld", 1, 2.5e20, None,
    ]  # fmt: skip
    assert len(changed_lines(SPEC_STYLE, new)) == 2


def test_kwargs_mapping_changes_only_changed_keys() -> None:
    new = update_schedule(
        SPEC_STYLE, "email.daily-digest", {"kwargs": {"locale": "de-DE", "n": {"a": [1]}}}
    )
    assert "    kwargs: {locale: de-DE, n: {a: [1]}}\n" in new
    assert len(changed_lines(SPEC_STYLE, new)) == 2


def test_four_space_style_block_trigger_and_cron_string() -> None:
    new = update_schedule(
        FOUR_SPACE_NO_OFFSET, "a", {"trigger": {"every": 10, "period": "minutes"}}
    )
    assert new == FOUR_SPACE_NO_OFFSET.replace("every: 5", "every: 10")
    new = update_schedule(FOUR_SPACE_NO_OFFSET, "b", {"trigger": "30 9 * * *"})
    assert new == FOUR_SPACE_NO_OFFSET.replace('"0 9 * * *"', '"30 9 * * *"')
    # A cron string becoming a mapping stays on its one line.
    new = update_schedule(FOUR_SPACE_NO_OFFSET, "b", {"trigger": {"minute": "0", "hour": "9"}})
    assert new == FOUR_SPACE_NO_OFFSET.replace('"0 9 * * *"', '{minute: "0", hour: "9"}')


def test_block_mapping_replaced_by_scalar_and_sub_key_deleted() -> None:
    new = update_schedule(FOUR_SPACE_NO_OFFSET, "a", {"trigger": {"every": 5}})
    assert new == FOUR_SPACE_NO_OFFSET.replace("        period: minutes\n", "")
    new = update_schedule(FOUR_SPACE_NO_OFFSET, "a", {"trigger": "0 9 * * *"})
    assert new == FOUR_SPACE_NO_OFFSET.replace(
        "    trigger:\n        every: 5\n        period: minutes\n", '    trigger: "0 9 * * *"\n'
    )


def test_yaml11_bool_replaced_plain() -> None:
    new = update_schedule(FOUR_SPACE_NO_OFFSET, "a", {"enabled": False})
    assert new == FOUR_SPACE_NO_OFFSET.replace("enabled: yes", "enabled: false")
    # Same value written differently: nothing to do.
    assert update_schedule(FOUR_SPACE_NO_OFFSET, "a", {"enabled": True}) == FOUR_SPACE_NO_OFFSET


def test_zero_offset_keeps_single_quotes_and_other_keys() -> None:
    new = update_schedule(ZERO_OFFSET, "a", {"trigger": {"minute": "*/10"}, "queue": "fast"})
    assert new == ZERO_OFFSET.replace("'*/5'", "'*/10'").replace(
        "  task: jobs.a\n", "  task: jobs.a\n  queue: fast\n"
    )


def test_crlf_file_keeps_crlf() -> None:
    crlf = SPEC_STYLE.replace("\n", "\r\n")
    new = update_schedule(crlf, "email.weekly", {"queue": "q", "task": "email.weekly2"})
    assert new == crlf.replace("task: email.weekly\r\n", "task: email.weekly2\r\n").replace(
        "      world\r\n", "      world\r\n    queue: q\r\n"
    )


def test_no_trailing_newline_is_kept() -> None:
    text = "schedules:\n  - name: a\n    task: t.a"
    assert update_schedule(text, "a", {"queue": "q"}) == text + "\n    queue: q"
    assert update_schedule(text, "a", {"task": "t.b"}) == text.replace("t.a", "t.b")


def test_flow_item_edit() -> None:
    text = "schedules:\n  - {name: a, task: t.a, enabled: true}  # one-liner\n"
    new = update_schedule(text, "a", {"enabled": False, "queue": "q", "task": None})
    assert new == "schedules:\n  - {name: a, enabled: false, queue: q}  # one-liner\n"


def test_block_list_grows_and_shrinks_in_place() -> None:
    text = "schedules:\n  - name: a\n    args:\n      - 1\n      - 2   # two\n    task: t.a\n"
    grown = update_schedule(text, "a", {"args": [1, 3, "x y"]})
    assert grown == text.replace("- 2   # two\n", "- 3   # two\n      - x y\n")
    shrunk = update_schedule(text, "a", {"args": [5]})
    assert shrunk == text.replace("      - 1\n      - 2   # two\n", "      - 5\n")
    assert update_schedule(text, "a", {"args": []}) == text.replace(
        "    args:\n      - 1\n      - 2   # two\n", "    args: []\n"
    )


def test_null_value_gets_a_value() -> None:
    text = "schedules:\n  - name: a\n    description:\n    task: t.a\n"
    new = update_schedule(text, "a", {"description": "hi"})
    assert new == text.replace("description:\n", "description: hi\n")


def test_strings_with_specials_are_double_quoted_and_escaped() -> None:
    value = 'a: "b" # c\n\t\u2028\x85 end'
    new = update_schedule(ZERO_OFFSET, "a", {"description": value})
    assert load(new)["schedules"][0]["description"] == value
    assert "\u2028" not in new
    assert "\x85" not in new


def test_single_quoted_value_stays_single_quoted() -> None:
    new = update_schedule(ZERO_OFFSET, "a", {"trigger": {"minute": "it's"}})
    assert "  trigger: {minute: 'it''s'}   # every five\n" in new


def test_update_unknown_name_raises_not_found() -> None:
    with pytest.raises(ScheduleNotFound, match="no schedule named 'zzz'") as info:
        update_schedule(SPEC_STYLE, "zzz", {"enabled": False})
    assert isinstance(info.value, KeyError)
    assert isinstance(info.value, NotFound)
    assert str(info.value) == "no schedule named 'zzz' in this file"


def test_alias_values_are_refused_not_edited_through() -> None:
    text = (
        "defaults: &d {minute: '0'}\n"
        "schedules:\n  - name: a\n    trigger: *d\n  - name: b\n    trigger: *d\n"
    )
    with pytest.raises(ScheduleFileError, match="alias"):
        update_schedule(text, "a", {"trigger": {"minute": "5"}})


def test_syntax_error_is_a_fatal_error() -> None:
    with pytest.raises(FatalError, match="not valid YAML"):
        update_schedule("schedules: [\n", "a", {})


# --------------------------------------------------------------------------- rename


def test_rename_sets_name_and_renamed_from() -> None:
    new = rename_schedule(SPEC_STYLE, "email.weekly", "email.week")
    assert new == SPEC_STYLE.replace("- name: email.weekly\n", "- name: email.week\n").replace(
        "      world\n", "      world\n    renamed_from: email.weekly\n"
    )
    with pytest.raises(ScheduleExists):
        rename_schedule(SPEC_STYLE, "email.weekly", "email.daily-digest")


# --------------------------------------------------------------------------- remove


def test_remove_first_item_takes_its_comment_and_one_blank_line() -> None:
    new = remove_schedule(SPEC_STYLE, "email.daily-digest")
    head, _, tail = SPEC_STYLE.partition("  # the digest\n")
    assert new == head + tail.split("\n\n", 1)[1]


def test_remove_last_item_takes_trailing_comment_and_separator() -> None:
    new = remove_schedule(SPEC_STYLE, "email.weekly")
    assert new == SPEC_STYLE.split("\n\n")[0] + "\n"


def test_remove_only_item_leaves_empty_list() -> None:
    assert remove_schedule(ZERO_OFFSET, "a") == "version: 1\nschedules: []\nother: keep me\n"


def test_remove_middle_of_flow_list() -> None:
    text = "schedules: [{name: a}, {name: b}, {name: c}]\n"
    assert remove_schedule(text, "b") == "schedules: [{name: a}, {name: c}]\n"
    assert remove_schedule(text, "a") == "schedules: [{name: b}, {name: c}]\n"


def test_remove_unknown_raises() -> None:
    with pytest.raises(ScheduleNotFound):
        remove_schedule(SPEC_STYLE, "nope")


# --------------------------------------------------------------------------- add

ENTRY = {
    "enabled": True,
    "name": "email.new",
    "task": "email.jobs:run",
    "scheduler": "celery-beat",
    "trigger_type": "cron",
    "trigger": {"minute": "0", "hour": "6"},
    "args": [],
    "kwargs": {"to": "ops@example.com"},
    "queue": "mail",
}
ENTRY_LINES = [
    "name: email.new",
    "scheduler: celery-beat",
    "trigger_type: cron",
    'trigger: {minute: "0", hour: "6"}',
    "task: email.jobs:run",
    "args: []",
    "kwargs: {to: ops@example.com}",
    "enabled: true",
    "queue: mail",
]


def block(dash: int, offset: int, nl: str = "\n", lines: list[str] = ENTRY_LINES) -> str:
    first = " " * dash + "-" + " " * (offset - 1) + lines[0] + nl
    return first + "".join(" " * (dash + offset) + line + nl for line in lines[1:])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "schedules:\n" + block(2, 2)),
        ("# only a comment\n", "# only a comment\nschedules:\n" + block(2, 2)),
        ("schedules: []\n", "schedules:\n" + block(2, 2)),
        ("schedules: []  # none yet\n", "schedules:  # none yet\n" + block(2, 2)),
        ("schedules:\n", "schedules:\n" + block(2, 2)),
        ("schedules: null\nx: 1\n", "schedules:\n" + block(2, 2) + "x: 1\n"),
        ("version: 1", "version: 1\nschedules:\n" + block(2, 2).rstrip("\n")),
        (ZERO_OFFSET, ZERO_OFFSET.replace("other:", block(0, 2).replace('"', "'") + "other:")),
    ],
)
def test_add_in_many_styles(text: str, expected: str) -> None:
    assert add_schedule(text, ENTRY) == expected


def test_add_follows_four_space_style_and_block_trigger() -> None:
    new = add_schedule(FOUR_SPACE_NO_OFFSET, {**ENTRY, "trigger": {"every": 1}})
    lines = [*ENTRY_LINES[:3], "trigger:", "    every: 1", *ENTRY_LINES[4:]]
    assert new == FOUR_SPACE_NO_OFFSET + block(0, 4, lines=lines)


def test_add_keeps_blank_line_separation_and_crlf() -> None:
    crlf = SPEC_STYLE.replace("\n", "\r\n")
    new = add_schedule(crlf, {**ENTRY, "trigger": "0 6 * * *"})
    lines = [*ENTRY_LINES[:3], 'trigger: "0 6 * * *"', *ENTRY_LINES[4:]]
    assert new == crlf + "\r\n" + block(2, 2, "\r\n", lines)


def test_add_flow_items_file_appends_flow_item() -> None:
    text = "schedules:\n  - {name: a, task: t.a}\n"
    new = add_schedule(text, {"name": "b", "task": "t.b", "enabled": False})
    assert new == text + "  - {name: b, task: t.b, enabled: false}\n"


def test_add_duplicate_name_refused() -> None:
    with pytest.raises(ScheduleExists, match="already exists"):
        add_schedule(SPEC_STYLE, {"name": "email.weekly"})


def test_find_names() -> None:
    assert find_schedule_names(SPEC_STYLE) == ["email.daily-digest", "email.weekly"]
    assert find_schedule_names("") == []
    assert find_schedule_names("schedules: []\n") == []


# --------------------------------------------------------------------------- hypothesis

_text = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufeff"), max_size=12
)
_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**12), 10**12), _text,
    st.floats(allow_nan=False, allow_infinity=False, width=64),
)  # fmt: skip
_json = st.recursive(
    _json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_names = st.from_regex(r"[a-z][a-z0-9]{0,6}(\.[a-z0-9-]{1,6})?", fullmatch=True)
_entries = st.fixed_dictionaries(
    {
        "name": _names,
        "scheduler": st.sampled_from(["aps", "celery-beat", "yes", "0"]),
        "trigger_type": st.just("cron"),
        "trigger": st.fixed_dictionaries(
            {"minute": st.sampled_from(["0", "*/5", "1,2", "*"]), "hour": _text}
        ),
        "task": st.sampled_from(["a.b", "m:f", "on"]),
        "args": st.lists(_json, max_size=3),
        "kwargs": st.dictionaries(_text, _json, max_size=3),
        "enabled": st.booleans(),
    },
    optional={"description": _text, "priority": st.integers(0, 9)},
)
_styles = st.sampled_from(
    [
        SPEC_STYLE,
        SPEC_STYLE.replace("\n", "\r\n"),
        FOUR_SPACE_NO_OFFSET,
        ZERO_OFFSET,
        ZERO_OFFSET.rstrip("\n"),
        "",
        "schedules: []\n",
    ]
)


# No shrinking: shrinking these nested examples can take minutes; failures print in full.
@settings(
    max_examples=100,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=_styles,
    entries=st.lists(_entries, min_size=1, max_size=4, unique_by=lambda e: e["name"]),
    changes=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "trigger": st.fixed_dictionaries({"minute": st.sampled_from(["5", "*/2"])}),
                "kwargs": st.dictionaries(_text, _json, max_size=2),
                "args": st.lists(_json, max_size=2),
                "enabled": st.booleans(),
                "description": st.none() | _text,
                "queue": _text,
            },
        ),
        max_size=4,
    ),
)
def test_random_adds_then_updates_round_trip(
    base: str, entries: list[dict[str, Any]], changes: list[dict[str, Any]]
) -> None:
    existing = set(find_schedule_names(base))
    entries = [e for e in entries if e["name"] not in existing]
    text = base
    for entry in entries:
        text = add_schedule(text, entry)
    expected = {e["name"]: dict(e) for e in entries}
    for i, change in enumerate(changes):
        if not entries:
            break
        name = entries[i % len(entries)]["name"]
        before = text
        text = update_schedule(text, name, change)
        for key, value in change.items():
            if value is None:
                expected[name].pop(key, None)
            else:
                expected[name][key] = value
        # Text outside the changed schedule is untouched: without it, both are equal.
        assert remove_schedule(text, name) == remove_schedule(before, name)
    data = load(text)["schedules"]
    by_name = {item["name"]: item for item in data}
    for name, entry in expected.items():
        assert by_name[name] == entry
    if find_schedule_names(base):  # removing what we added gives the original back
        for entry in entries:
            text = remove_schedule(text, entry["name"])
        assert text == base


@pytest.mark.parametrize(
    "text",
    [
        "\ufeffschedules:\n  - name: a\n    task: t.a\n",
        "%YAML 1.1\n---\nschedules:\n- name: a\n  task: t.a\n...\n",
        "schedules:\n  -\n    name: a\n    task: t.a\n",
        "schedules:\r\n  - name: a\r\n    task: t.a",
    ],
)
def test_odd_documents_keep_their_framing(text: str) -> None:
    new = update_schedule(text, "a", {"task": "t.b"})
    assert new == text.replace("t.a", "t.b")
    added = add_schedule(text, {"name": "b", "task": "t.c"})
    assert added.startswith(text.rstrip(".\n\r"))
    assert find_schedule_names(added) == ["a", "b"]
    assert remove_schedule(added, "b") == text


COMMENTED = """\
# top comment
schedules:   # the list
  # about a
  - name: a   # first
    # before scheduler
    scheduler: aps  # which
    trigger_type: cron
    trigger:   # block trigger
      # minute first
      minute: "0"   # on the hour
      hour: "9"
    # queue: disabled-for-now
    task: jobs.a   # the task
    kwargs:
      locale: en-US   # language
    enabled: true
  # about b
  - name: b
    task: jobs.b
# end of file
"""


@pytest.mark.parametrize(
    ("changes", "old_line", "new_line"),
    [
        (
            {"scheduler": "celery"},
            "    scheduler: aps  # which\n",
            "    scheduler: celery  # which\n",
        ),
        (
            {"trigger": {"minute": "15", "hour": "9"}},
            '      minute: "0"   # on the hour\n',
            '      minute: "15"   # on the hour\n',
        ),
        ({"task": "jobs.z"}, "    task: jobs.a   # the task\n", "    task: jobs.z   # the task\n"),
        (
            {"kwargs": {"locale": "fr"}},
            "      locale: en-US   # language\n",
            "      locale: fr   # language\n",
        ),
        ({"enabled": False}, "    enabled: true\n", "    enabled: false\n"),
        ({"name": "a2"}, "  - name: a   # first\n", "  - name: a2   # first\n"),
    ],
)
def test_commented_file_one_field_one_line(
    changes: dict[str, Any], old_line: str, new_line: str
) -> None:
    new = update_schedule(COMMENTED, "a", changes)
    assert new == COMMENTED.replace(old_line, new_line)
    assert changed_lines(COMMENTED, new) == ["-" + old_line, "+" + new_line]


def test_commented_file_add_remove_keep_other_comments() -> None:
    new = update_schedule(COMMENTED, "a", {"queue": "q"})
    assert new == COMMENTED.replace("    enabled: true\n", "    enabled: true\n    queue: q\n")
    removed = remove_schedule(COMMENTED, "b")
    assert removed == COMMENTED.replace("  # about b\n  - name: b\n    task: jobs.b\n", "")
    removed = remove_schedule(COMMENTED, "a")
    assert (
        removed
        == "# top comment\nschedules:   # the list\n" + COMMENTED.split("    enabled: true\n")[1]
    )
    added = add_schedule(COMMENTED, {"name": "c", "task": "jobs.c"})
    assert added == COMMENTED.replace(
        "    task: jobs.b\n", "    task: jobs.b\n  - name: c\n    task: jobs.c\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &a [*a]\nschedules: []\n", "recursive aliases"),
        ("? [x]\n: 1\nschedules: []\n", "non-text keys"),
        ("- just a list\n", "a mapping with a 'schedules:' list"),
        ("schedules: 5\n", "must be a list"),
    ],
)
def test_hostile_or_wrong_documents_are_refused(text: str, message: str) -> None:
    with pytest.raises(ScheduleFileError, match=message):
        add_schedule(text, {"name": "x"})


def _bomb(levels: int) -> str:
    """Each level aliases the one before ten times: ~10**levels values from a few lines."""
    names = "abcdefghij"[: levels + 1]
    rows = "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n"
                   for p, c in itertools.pairwise(names))
    return "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + rows + "schedules: []\n"


def test_alias_bomb_is_refused_at_the_loaders_limit() -> None:
    import schedsync.engine.loader as loader
    import schedsync.engine.yamledit as yamledit

    assert yamledit.MAX_ALIAS_VALUES == loader.MAX_ALIAS_VALUES == 100_000
    with pytest.raises(ScheduleFileError, match="by over 100,000 values"):
        add_schedule(_bomb(4), {"name": "x"})  # adds ~123,000 values
    # What stays under the limit is edited as usual (the loader accepts it too).
    assert "name: x" in add_schedule(_bomb(3), {"name": "x"})  # adds ~12,000


def test_the_alias_limit_counts_added_values_not_written_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import schedsync.engine.yamledit as yamledit

    monkeypatch.setattr(yamledit, "MAX_ALIAS_VALUES", 1_000)
    # A big file without aliases (~1,600 values written) is edited whatever its size...
    big = "schedules:\n" + "".join(
        f"  - name: job{n}\n    task: jobs.run\n    args: [1, 2, 3, 4, 5]\n"
        for n in range(150)
    )
    assert add_schedule(big, {"name": "x", "task": "jobs.x"}).startswith(big)
    # ...while aliases adding more than the limit are refused, as the loader does.
    with pytest.raises(ScheduleFileError, match="by over 1,000 values"):
        add_schedule(_bomb(3), {"name": "x"})


def test_block_mappings_inside_a_block_list() -> None:
    text = "schedules:\n  - name: a\n    args:\n      - a: 1\n        b: 2\n      - 5\n"
    # Changing and deleting a later key keeps the layout; deleting the key after '- '
    # rewrites just that list item.
    assert update_schedule(text, "a", {"args": [{"a": 7}, 5]}) == text.replace(
        "      - a: 1\n        b: 2\n", "      - a: 7\n"
    )
    assert update_schedule(text, "a", {"args": [{"b": 2}, 5]}) == text.replace(
        "      - a: 1\n        b: 2\n", "      - {b: 2}\n"
    )


# --------------------------------------------------------------------------- the item path


def item_lines(text: str) -> dict[str, int]:
    """Where each schedule's mapping starts, as the repository loader records it."""
    doc = load_document(text.encode("utf-8"), "schedules/acme/x.yaml")
    return {
        item["name"]: doc.values[("schedules", index)][0]
        for index, item in enumerate(doc.data["schedules"])
    }


ITEM_STYLES = """\
# top
schedules:
  # first
  - name: a.one   # eol comment
    trigger: {minute: "0", hour: "9"}
    task: 'x.y:z'
    kwargs:
      k: v
    description: >
      folded
      text

  - name: a.two
    trigger:
      minute: '5'
    args:
      - 1
      - "two"
    description: "multi
      line quoted"
  -   name: a.three
      enabled: true
# column 0 comment
  - name: a.four
    kwargs: {x: [1, 2], y: {z: null}}
  - {name: a.five, task: t}
  - name: a.six
    task: &anchor t
  - name: a.seven
    task: *anchor
other: 1
"""
ITEM_CHANGES: list[dict[str, Any]] = [
    {"description": "new"}, {"description": None}, {"enabled": False},
    {"trigger": {"minute": "5", "hour": "10"}}, {"kwargs": {"a": "x: y", "b": [1, 2]}},
    {"queue": "it's"}, {"args": [1, "two", None]}, {"kwargs": None}, {"task": "0"},
]


@pytest.mark.parametrize(
    "text",
    [ITEM_STYLES, SPEC_STYLE, SPEC_STYLE.replace("\n", "\r\n"), FOUR_SPACE_NO_OFFSET,
     ZERO_OFFSET, ZERO_OFFSET.rstrip("\n")],
    ids=["styles", "spec", "crlf", "four-space", "zero-offset", "no-final-newline"],
)
def test_item_path_gives_exactly_the_whole_file_result(text: str) -> None:
    for name, line in item_lines(text).items():
        for change in ITEM_CHANGES:
            whole = outcome(text, name, change, None)
            assert outcome(text, name, change, line) == whole, (name, change)


def outcome(text: str, name: str, change: dict[str, Any], line: int | None) -> str:
    """The edited text, or the refusal (editing an anchor is refused either way)."""
    try:
        return update_schedule(text, name, change, line=line)
    except FatalError as exc:
        return f"{type(exc).__name__}: {exc}"


def test_item_path_parses_only_the_item() -> None:
    text = "schedules:\n  - name: a\n    task: t\n  - name: b\n    task: [unclosed\n"
    with pytest.raises(ScheduleFileError):  # the whole file does not parse...
        update_schedule(text, "a", {"task": "u"})
    # ...but the item does: only its line changes.
    edited = update_schedule(text, "a", {"task": "u"}, line=2)
    assert edited == text.replace("task: t", "task: u")


def test_item_path_with_a_wrong_line_falls_back_to_the_whole_file() -> None:
    lines = item_lines(SPEC_STYLE)
    for line in (lines["email.weekly"], 1, 3, 10_000):
        edited = update_schedule(SPEC_STYLE, "email.daily-digest", {"enabled": False}, line=line)
        assert edited == update_schedule(SPEC_STYLE, "email.daily-digest", {"enabled": False})


def test_item_span_is_the_item_without_the_comments_around_it() -> None:
    text = "schedules:\n  # a\n  - name: a\n    # inside\n\n    task: t\n  # b\n  - name: b\n"
    start, end = item_span(text, 3) or (0, 0)
    assert text[start:end] == "  - name: a\n    # inside\n\n    task: t\n"
    assert item_span(text.replace("\n", "\r"), 3) is None  # lines libyaml counts differently
    assert item_span(text, 2) is None  # not a '- ' line
    assert item_span("schedules:\n  -\n    name: a\n", 3) is None  # mapping not on the dash


@settings(
    max_examples=60,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    base=_styles,
    entries=st.lists(_entries, min_size=1, max_size=3, unique_by=lambda e: e["name"]),
    change=st.fixed_dictionaries(
        {},
        optional={
            "trigger": st.fixed_dictionaries({"minute": st.sampled_from(["5", "*/2"])}),
            "kwargs": st.dictionaries(_text, _json, max_size=2),
            "args": st.lists(_json, max_size=2),
            "enabled": st.booleans(),
            "description": st.none() | _text,
            "queue": _text,
        },
    ),
)
def test_random_item_path_edits_equal_whole_file_edits(
    base: str, entries: list[dict[str, Any]], change: dict[str, Any]
) -> None:
    existing = set(find_schedule_names(base))
    text = base
    for entry in entries:
        if entry["name"] not in existing:
            text = add_schedule(text, entry)
    for name, line in item_lines(text).items():
        assert update_schedule(text, name, change, line=line) == update_schedule(
            text, name, change
        )

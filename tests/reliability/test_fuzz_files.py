"""Hostile schedule files and ``schedsync.yaml``: every one gets diagnostics that say where,
what and how to fix, never an exception; alias bombs and deep nesting are refused fast
with bounded memory."""

from __future__ import annotations

import time
import tracemalloc
from datetime import date

import pytest
from fuzz_support import (
    CONFIG,
    GOOD,
    alias_bomb,
    assert_actionable,
    check_config_bytes,
    check_schedule_bytes,
    config_files,
    deep_nesting,
    schedule_files,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schedsync.engine.repository import load_repository_from_files

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILE = "schedules/acme/jobs.yaml"


@FAST
@given(content=schedule_files())
def test_schedule_files_never_raise(content: bytes) -> None:
    check_schedule_bytes(content)


@FAST
@given(content=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(content: bytes) -> None:
    check_schedule_bytes(content)
    check_config_bytes(content)


@FAST
@given(content=config_files())
def test_config_files_never_raise(content: bytes) -> None:
    check_config_bytes(content)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedules=schedule_files(), config=config_files() | st.just(CONFIG.encode()),
       folder=st.sampled_from(["acme", "other", "ACME", "a b", "..x", "acme/sub"]))
def test_whole_repository_never_raises(schedules: bytes, config: bytes, folder: str) -> None:
    """The contextual checks (schedulers, DST, min_interval, duplicates) on top."""
    files = {"schedsync.yaml": config, "schedules/acme/email.yaml": GOOD.encode(),
             f"schedules/{folder}/jobs.yaml": schedules}
    repo = load_repository_from_files(files, today=date(2026, 3, 1))
    for diagnostic in repo.diagnostics.items:
        assert_actionable(diagnostic)


# --- the named attacks, each with its exact answer ------------------------------------


def test_alias_bomb_is_refused_fast_with_bounded_memory() -> None:
    bomb = alias_bomb(levels=9, width=9)  # 9**9 = 387 million strings from 300 bytes
    tracemalloc.start()
    started = time.perf_counter()
    try:
        diagnostics = check_schedule_bytes(bomb)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [d.code for d in diagnostics] == ["too-many-nodes"]
    assert "anchors and aliases" in diagnostics[0].message
    assert elapsed < 1.0, elapsed
    assert peak < 5 * 2**20, peak


@pytest.mark.parametrize("levels", [3, 4, 7, 12, 30])
def test_alias_bombs_of_any_size_stay_cheap(levels: int) -> None:
    tracemalloc.start()
    try:
        codes = {d.code for d in check_schedule_bytes(alias_bomb(levels=levels, width=10))}
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Small expansions are built and then fail as ordinary wrong types.
    big = {"too-many-nodes"}
    assert codes == (big if levels > 3 else {"unknown-field", "wrong-type"})
    # Aliases add at most 100,000 values (~200 bytes each) to what the text holds.
    assert peak < 24 * 2**20, peak


def test_recursive_alias_is_refused() -> None:
    assert [d.code for d in check_schedule_bytes(b"schedules: &a [*a]\n")] == ["recursive-alias"]


@pytest.mark.parametrize("depth", [101, 500, 900])
@pytest.mark.parametrize("flow", [True, False])
def test_deep_nesting_is_refused(depth: int, flow: bool) -> None:
    diagnostics = check_schedule_bytes(deep_nesting(depth, flow))
    assert [d.code for d in diagnostics] == ["too-deep"]


def test_deeper_than_libyaml_allows_is_a_syntax_error() -> None:
    diagnostics = check_schedule_bytes(deep_nesting(5000))
    assert [d.code for d in diagnostics] == ["syntax"]
    assert "nesting depth" in diagnostics[0].message


def test_deep_kwargs_with_an_anchor_are_refused() -> None:
    # The alias size count walks the graph too: it must not recurse without bound.
    content = b"x: &x 1\nschedules: " + b"[" * 900 + b"]" * 900 + b"\n"
    assert [d.code for d in check_schedule_bytes(content)] == ["too-deep"]


def _one(field: str, value: str, trigger: str = "'0 9 * * *'", kind: str = "cron") -> bytes:
    return (f"schedules:\n- name: a\n  scheduler: aps\n  trigger_type: {kind}\n"
            f"  trigger: {trigger}\n  task: a.b\n  {field}: {value}\n").encode()


@pytest.mark.parametrize("literal", ["9" * 5000, "0x" + "f" * 5000, "-" + "9" * 30,
                                     "18446744073709551616", "1:" * 60 + "1"])
def test_huge_integers_are_refused_where_they_stand(literal: str) -> None:
    diagnostics = check_schedule_bytes(_one("priority", literal))
    assert [(d.code, d.line, d.column) for d in diagnostics] == [("number-too-large", 7, 13)]
    assert len(diagnostics[0].message) < 200  # the number is shortened, not printed whole


@pytest.mark.parametrize("literal", ["[.nan]", "{a: .inf}", "[[-.inf]]"])
def test_nan_and_infinity_in_args_are_not_json(literal: str) -> None:
    field = "kwargs" if literal.startswith("{") else "args"
    diagnostics = check_schedule_bytes(_one(field, literal))
    assert [d.code for d in diagnostics] == ["not-json"]
    assert "NaN and Infinity" in diagnostics[0].message


@pytest.mark.parametrize(("field", "value"), [("expires", ".inf"), ("expires", ".nan"),
                                              ("expires", "1e400")])
def test_non_finite_expires_is_refused(field: str, value: str) -> None:
    assert [d.path for d in check_schedule_bytes(_one(field, value))] == ["schedules[0].expires"]


@pytest.mark.parametrize("run_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+14:00",
                                    "1969-12-31T23:59:59Z"])
def test_clocked_moments_outside_utc_years_are_refused(run_at: str) -> None:
    content = _one("enabled", "true", trigger=f"{{run_at: '{run_at}'}}", kind="clocked")
    assert [d.code for d in check_schedule_bytes(content)] == ["invalid-timestamp"]


@pytest.mark.parametrize(("content", "code"), [
    (b"\xff\xfeschedules: []\n", "invalid-utf8"),
    (b"schedules:\n- name: \xc3\x28\n", "invalid-utf8"),
    (b"schedules:\n- name: a\x00b\n", "syntax"),
    (b"schedules:\n\t- name: a\n", "syntax"),
    (b"schedules: []\nschedules: []\n", "duplicate-key"),
    (b"schedules:\n- !!python/object/apply:os.system ['id']\n", "unsupported-tag"),
    (b"schedules: []\n---\nschedules: []\n", "syntax"),
])
def test_damaged_bytes_are_pinned_to_their_place(content: bytes, code: str) -> None:
    assert [d.code for d in check_schedule_bytes(content)] == [code]


def test_a_bom_is_ignored() -> None:
    assert check_schedule_bytes(b"\xef\xbb\xbf" + GOOD.encode()) == []


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a\x00b", "a/b", "\u202eevil", "..",
                                  "e\u0301", "\ufeffname"])
def test_path_tricks_in_names_are_invalid_names(name: str) -> None:
    import json

    diagnostics = check_schedule_bytes(_one("description", "x").replace(
        b"name: a", b"name: " + json.dumps(name).encode()))
    assert [d.path for d in diagnostics] == ["schedules[0].name"]
    assert diagnostics[0].fix


@pytest.mark.parametrize("slug", ["../x", "/abs", "a\x00b", "Acme", ".."])
def test_path_tricks_in_project_slugs_are_config_errors(slug: str) -> None:
    import json

    content = CONFIG.replace("  acme:", f"  {json.dumps(slug)}:").encode()
    diagnostics = check_config_bytes(content)
    assert any(d.path.startswith("projects.") and d.is_error for d in diagnostics), diagnostics

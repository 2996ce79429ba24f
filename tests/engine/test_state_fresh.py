"""Recording with ids planned before an apply (``plan_schedule_ids``): schedules new to
the state get their records and bindings by plain INSERTs, which must write exactly what
the general (upsert) path writes, and fall back to it when another writer got there
first. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import state_fixtures

from schedsync.engine.state import NAMESPACE, StateStore
from schedsync.engine.state import store as store_module

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
Items = list[tuple[str, str, dict[str, Any] | None]]

pg_database = state_fixtures.pg_database


def uuid5(text: str) -> str:
    return str(uuid.uuid5(NAMESPACE, text))


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return state_fixtures.pick_location(request, tmp_path)


@pytest.fixture
def store(location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StateStore]:
    monkeypatch.setattr(store_module, "utcnow", lambda: T0)  # equal rows, equal bytes
    opened = StateStore.open(location, tmp_path)
    yield opened
    opened.close()


def rows(store: StateStore) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Every schedule record and binding, as raw database values."""
    with store._engine.connect() as conn:
        schedules = conn.exec_driver_sql(
            "SELECT id, project, name, created_at, updated_at, last_run_at, next_run_at "
            "FROM schedsync_schedules ORDER BY project, name").all()
        bindings = conn.exec_driver_sql(
            "SELECT schedule_id, scheduler, entry_key, base_spec, managed, applied_at "
            "FROM schedsync_bindings ORDER BY schedule_id, scheduler").all()
    return [tuple(r) for r in schedules], [tuple(r) for r in bindings]


def empty(store: StateStore) -> None:
    with store._engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM schedsync_bindings")
        conn.exec_driver_sql("DELETE FROM schedsync_schedules")


def spec(i: int) -> dict[str, Any]:
    return {"task": "pkg.mod:run", "trigger_type": "cron", "args": [i],
            "kwargs": {"batch": f"b{i % 3}", "ü": "ß"}, "trigger": {"minute": str(i % 60)},
            "enabled": i % 5 != 0, "timezone": "Europe/Berlin", "queue": None}


def batches(names: list[str]) -> list[Items]:
    return [
        [(n, f"key.{n}", spec(i)) for i, n in enumerate(names[:700])],
        # a mixed batch: new names, one already bound (updated), one deleted, one new
        # name deleted before it was ever recorded
        [*((n, f"key.{n}", spec(i)) for i, n in enumerate(names[700:], 700)),
         (names[3], f"key.{names[3]}", {"task": "changed"}),
         (names[4], f"key.{names[4]}", None),
         ("never.bound", "key.never", None)],
    ]


def setup_history(store: StateStore) -> None:
    """Records the planning must respect: one bound already, one renamed away (its old
    name's natural id stays taken), one known without a binding."""
    store.record_applied("acme", "aps", "s0001", "key.s0001", {"task": "old"})
    store.ensure_schedule("acme", "old.name", now=T0)
    store.rename_schedule("acme", "old.name", "renamed")
    store.ensure_schedule("acme", "s0002", now=T0)


def test_planned_inserts_write_what_the_general_path_writes(store: StateStore) -> None:
    names = ["old.name", "s0001", "s0002", *(f"s{i:04}" for i in range(3, 1200))]
    setup_history(store)
    for items in batches(names):
        store.record_applied_many("acme", "aps", items)
    general = rows(store)

    empty(store)
    setup_history(store)
    before = rows(store)
    planned = store.plan_schedule_ids("acme", names)
    assert rows(store) == before  # planning only reads
    assert planned.ids["s0001"] == uuid5("acme/s0001")
    assert planned.ids["old.name"] == uuid5("acme/old.name#1")  # the natural one is taken
    assert not {"s0001", "s0002"} & planned.fresh  # known: not inserted again
    for items in batches(names):
        store.record_applied_many("acme", "aps", items, planned=planned)
    assert rows(store) == general
    assert planned.fresh == set()  # all recorded: nothing left to insert
    assert len(general[1]) == 1200 - 1  # s0004 deleted
    assert store.check_integrity() == []


def test_a_record_made_meanwhile_falls_back_to_the_general_path(store: StateStore) -> None:
    names = [f"s{i:04}" for i in range(300)]
    planned = store.plan_schedule_ids("acme", names)
    assert planned.fresh == set(names)
    # The live scheduler's integration records a fire of s0007 after the planning; the
    # record takes the very id planned for it.
    store.record_fire("acme", "s0007", task_id="t1", fired_at=T0, source="schedule")
    # And someone renames s0008's record away: its id is now taken under another name.
    store.ensure_schedule("acme", "s0008", now=T0)
    store.rename_schedule("acme", "s0008", "elsewhere")
    items: Items = [(n, f"key.{n}", {"n": n}) for n in names]
    store.record_applied_many("acme", "aps", items, planned=planned)
    bound = store.bindings("acme", "aps")
    assert {n: b.base_spec for n, b in bound.items()} == {n: {"n": n} for n in names}
    records = store.schedule_records("acme")
    assert records["s0007"].id == uuid5("acme/s0007")
    assert records["s0008"].id == uuid5("acme/s0008#1")
    assert records["elsewhere"].id == uuid5("acme/s0008")
    assert store.fires("acme", "s0007")[0][0].task_id == "t1"
    assert store.check_integrity() == []


def test_ids_planned_for_another_project_are_refused(store: StateStore) -> None:
    planned = store.plan_schedule_ids("acme", ["a"])
    with pytest.raises(ValueError, match="planned for project 'acme'"):
        store.record_applied_many("beta", "aps", [("a", "k", {})], planned=planned)
    assert rows(store) == ([], [])

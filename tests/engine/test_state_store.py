"""StateStore against real SQLite files and a real PostgreSQL database."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import state_fixtures
from hypothesis import given
from hypothesis import strategies as st

from schedsync.engine.errors import NotFound
from schedsync.engine.state import (
    NAMESPACE,
    InvalidCursor,
    InvalidRole,
    NameTaken,
    StateStore,
)
from schedsync.engine.state.coltypes import format_instant, parse_instant

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def uuid5(text: str) -> str:
    return str(uuid.uuid5(NAMESPACE, text))


pg_database = state_fixtures.pg_database  # registers the module-scoped fixture here


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return state_fixtures.pick_location(request, tmp_path)


@pytest.fixture
def store(location: str, tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(location, tmp_path)
    yield opened
    opened.close()


# -- lineage and serial ------------------------------------------------------------------

def test_lineage_is_created_once_and_serial_survives_reopen(location: str,
                                                            tmp_path: Path) -> None:
    with StateStore.open(location, tmp_path) as first:
        lineage = first.lineage
        assert uuid.UUID(lineage).version == 4
        assert first.serial() == 0
        assert [first.bump_serial(), first.bump_serial()] == [1, 2]
    with StateStore.open(location, tmp_path) as again:
        assert again.lineage == lineage
        assert again.serial() == 2


def test_sqlite_path_is_relative_to_the_repo_root_and_uses_wal(tmp_path: Path) -> None:
    with StateStore.open(".schedsync/state.db", tmp_path) as store:
        store.bump_serial()
        with store._read() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (tmp_path / ".schedsync" / "state.db").is_file()


# -- identity ------------------------------------------------------------------------------

def test_ensure_schedule_is_idempotent_with_a_uuid5_id(store: StateStore) -> None:
    first = store.ensure_schedule("acme", "email.digest", now=T0)
    again = store.ensure_schedule("acme", "email.digest", now=T0 + timedelta(days=1))
    assert first == again
    assert first.id == uuid5("acme/email.digest")
    assert (first.created_at, first.updated_at) == (T0, T0)
    assert first.created_at.tzinfo is UTC
    other = store.ensure_schedule("beta", "email.digest", now=T0)
    assert other.id == uuid5("beta/email.digest") != first.id


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        store.ensure_schedule("acme", "x", now=datetime(2026, 1, 1))


def test_records_by_name_and_by_id(store: StateStore) -> None:
    a = store.ensure_schedule("acme", "a", now=T0)
    b = store.ensure_schedule("acme", "b", now=T0)
    store.ensure_schedule("beta", "c", now=T0)
    assert store.schedule_records("acme") == {"a": a, "b": b}
    assert store.schedule_by_id("acme", b.id) == b
    assert store.schedule_by_id("beta", b.id) is None  # ids are scoped to their project
    assert store.schedule_by_id("acme", "nope") is None


def test_rename_keeps_id_bindings_fires_and_run_times(store: StateStore) -> None:
    old = store.ensure_schedule("acme", "old", now=T0)
    store.record_applied("acme", "aps", "old", "job-1", {"task": "t"})
    store.record_fire("acme", "old", task_id="t1", fired_at=T0, source="schedule")
    store.set_run_times("acme", "old", T0, T0 + timedelta(hours=1))
    store.rename_schedule("acme", "old", "new")
    records = store.schedule_records("acme")
    assert list(records) == ["new"]
    assert records["new"].id == old.id
    assert store.bindings("acme", "aps")["new"].entry_key == "job-1"
    assert [f.task_id for f in store.fires("acme", "new")[0]] == ["t1"]
    assert store.run_times("acme") == {"new": (T0, T0 + timedelta(hours=1))}


def test_rename_refuses_a_name_with_history(store: StateStore) -> None:
    store.ensure_schedule("acme", "a")
    store.record_applied("acme", "aps", "b", "k", {"task": "t"})
    with pytest.raises(NameTaken, match="already has that name"):
        store.rename_schedule("acme", "a", "b")
    store.record_applied("acme", "aps", "b", "k", None)
    store.record_fire("acme", "b", task_id="t1", fired_at=T0, source="manual")
    with pytest.raises(NameTaken):
        store.rename_schedule("acme", "a", "b")


def test_rename_is_repeatable_and_a_bare_record_gives_way(store: StateStore) -> None:
    old = store.ensure_schedule("acme", "old")
    store.ensure_schedule("acme", "new")  # e.g. a look-up before the rename was applied
    store.rename_schedule("acme", "old", "new")
    assert store.schedule_records("acme")["new"].id == old.id
    assert list(store.schedule_records("acme")) == ["new"]
    store.rename_schedule("acme", "old", "new")  # a resumed apply repeats it
    store.rename_schedule("acme", "ghost", "other")  # never known: nothing to move
    assert {r.id for r in store.schedule_records("acme").values()} == {old.id}


def test_new_schedule_on_a_renamed_ones_old_name_gets_a_unique_id(store: StateStore) -> None:
    original = store.ensure_schedule("acme", "report")
    store.rename_schedule("acme", "report", "report.v2")
    reborn = store.ensure_schedule("acme", "report")
    assert reborn.id != original.id
    assert reborn.id == uuid5("acme/report#1")
    # The batch path (record_applied_many) derives the same way, one counter further on.
    store.rename_schedule("acme", "report", "report.v3")
    store.record_applied_many("acme", "aps", [("report", "k", {"task": "t"})])
    ids = {r.id for r in store.schedule_records("acme").values()}
    assert len(ids) == 3
    assert store.schedule_records("acme")["report"].id == uuid5("acme/report#2")


def test_touch_and_forget(store: StateStore) -> None:
    store.ensure_schedule("acme", "a", now=T0)
    store.touch("acme", "a", T0 + timedelta(minutes=5))
    record = store.schedule_records("acme")["a"]
    assert (record.created_at, record.updated_at) == (T0, T0 + timedelta(minutes=5))
    with pytest.raises(NotFound):
        store.touch("acme", "ghost", T0)
    store.record_applied("acme", "aps", "a", "k", {"task": "t"})
    store.record_fire("acme", "a", task_id="t1", fired_at=T0, source="manual")
    store.forget_schedule("acme", "a")
    store.forget_schedule("acme", "a")  # forgetting twice is harmless
    assert store.schedule_records("acme") == {}
    assert store.bindings("acme", "aps") == {}
    assert store.fire("t1") is None
    assert store.check_integrity() == []


# -- bindings ------------------------------------------------------------------------------

def test_record_applied_creates_replaces_and_removes_bindings(store: StateStore) -> None:
    spec = {"task": "email.send", "trigger": {"hour": "9"}, "args": [1, "x"]}
    store.record_applied("acme", "aps", "a", "acme.a", spec)
    binding = store.bindings("acme", "aps")["a"]
    assert (binding.name, binding.entry_key, binding.base_spec, binding.managed) == (
        "a", "acme.a", spec, True)
    assert binding.applied_at.tzinfo is UTC
    store.record_applied("acme", "aps", "a", "acme.a", {"task": "other"}, managed=False)
    replaced = store.bindings("acme", "aps")["a"]
    assert (replaced.base_spec, replaced.managed) == ({"task": "other"}, False)
    assert store.bindings("acme", "beat") == {}  # scoped by scheduler
    assert store.bindings("beta", "aps") == {}  # and by project
    store.record_applied("acme", "aps", "a", "acme.a", None)
    assert store.bindings("acme", "aps") == {}
    assert "a" in store.schedule_records("acme")  # identity outlives the live entry


def test_record_applied_many_in_one_batch(store: StateStore) -> None:
    items = [(f"s{i:04}", f"key-{i}", {"i": i}) for i in range(1500)]
    store.record_applied_many("acme", "aps", items)
    assert len(store.bindings("acme", "aps")) == 1500
    records = store.schedule_records("acme")
    assert records["s0007"].id == uuid5("acme/s0007")
    # Deletes, updates and a name written twice (the last word wins) in one batch.
    store.record_applied_many("acme", "aps", [
        ("s0000", "key-0", None),
        ("s0001", "key-1", {"i": "changed"}),
        ("s0002", "key-2", None),
        ("s0002", "key-2b", {"i": "back"}),
    ])
    bound = store.bindings("acme", "aps")
    assert len(bound) == 1499
    assert "s0000" not in bound
    assert bound["s0001"].base_spec == {"i": "changed"}
    assert (bound["s0002"].entry_key, bound["s0002"].base_spec) == ("key-2b", {"i": "back"})


def test_ids_planned_up_front_record_a_batch_and_a_vanished_record_is_remade(
    store: StateStore,
) -> None:
    store.ensure_schedule("acme", "s0003", now=T0)  # known before: keeps its id and times
    store.ensure_schedule("acme", "s0009", now=T0)
    names = [f"s{i:04}" for i in range(300)]
    planned = store.plan_schedule_ids("acme", names)
    assert planned.ids == {name: uuid5(f"acme/{name}") for name in names}
    assert planned.fresh == set(names) - {"s0003", "s0009"}
    assert store.schedule_records("acme")["s0003"].created_at == T0
    store.forget_schedule("acme", "s0009")  # gone between the look-up and the record
    items = [(name, f"key-{name}", {"n": name}) for name in names[:20]]
    store.record_applied_many("acme", "aps", items, planned=planned)
    bound = store.bindings("acme", "aps")
    assert {name: b.base_spec for name, b in bound.items()} == {n: {"n": n} for n in names[:20]}
    assert store.schedule_records("acme")["s0009"].id == uuid5("acme/s0009")


# -- run times -----------------------------------------------------------------------------

def test_run_times(store: StateStore) -> None:
    store.ensure_schedule("acme", "a")
    berlin = datetime(2026, 3, 1, 10, 0, tzinfo=UTC).astimezone(
        __import__("zoneinfo").ZoneInfo("Europe/Berlin"))
    store.set_run_times("acme", "a", None, berlin)
    store.set_run_times("acme", "b", T0, None)  # a scheduler may know it before we do
    times = store.run_times("acme")
    assert times == {"a": (None, datetime(2026, 3, 1, 10, 0, tzinfo=UTC)), "b": (T0, None)}
    assert times["a"][1] is not None
    assert times["a"][1].tzinfo is UTC
    assert store.schedule_records("acme")["a"].next_run_at == times["a"][1]


# -- fires ---------------------------------------------------------------------------------

def test_record_and_finish_a_fire(store: StateStore) -> None:
    fire = store.record_fire("acme", "a", task_id="t1", fired_at=T0, source="manual")
    assert (fire.project, fire.name, fire.status, fire.source) == ("acme", "a", "pending", "manual")
    store.finish_fire("t1", status="failed", finished_at=T0 + timedelta(seconds=3),
                      error="ZeroDivisionError")
    done = store.fire("t1")
    assert done is not None
    assert done.as_api() == {
        "id": fire.id, "fired_at": "2026-03-01T09:00:00Z", "task_id": "t1",
        "status": "failed", "source": "manual", "finished_at": "2026-03-01T09:00:03Z",
        "error": "ZeroDivisionError",
    }
    with pytest.raises(ValueError, match="fire status"):
        store.record_fire("acme", "a", task_id="t2", fired_at=T0, source="schedule",
                          status="exploded")


def test_finish_fire_before_record_fire_keeps_the_outcome(store: StateStore) -> None:
    store.finish_fire("t9", status="succeeded", finished_at=T0 + timedelta(seconds=2))
    early = store.fire("t9")
    assert early is not None
    assert (early.status, early.name) == ("succeeded", None)
    fire = store.record_fire("acme", "a", task_id="t9", fired_at=T0, source="schedule")
    assert (fire.id, fire.status, fire.fired_at, fire.finished_at) == (
        early.id, "succeeded", T0, T0 + timedelta(seconds=2))
    assert [f.task_id for f in store.fires("acme", "a")[0]] == ["t9"]
    # With project and name the early outcome is listed at once.
    store.finish_fire("t10", status="missed", finished_at=T0, project="acme", name="a")
    assert [f.task_id for f in store.fires("acme", "a")[0]] == ["t10", "t9"]  # same instant
    assert store.check_integrity() == []


def test_a_late_pending_record_never_overwrites_missed(store: StateStore) -> None:
    # APScheduler reports MISSED and SUBMITTED from different threads, in either order.
    store.record_fire("acme", "a", task_id="m1", fired_at=T0, source="schedule",
                      status="missed")
    store.record_fire("acme", "a", task_id="m1", fired_at=T0, source="schedule")
    fire = store.fire("m1")
    assert fire is not None
    assert fire.status == "missed"
    assert [f.task_id for f in store.fires("acme", "a")[0]] == ["m1"]


def test_fires_pages_newest_first_without_skips_or_repeats(store: StateStore) -> None:
    # 23 fires over 5 instants: many equal timestamps straddle page borders.
    for i in range(23):
        store.record_fire("acme", "a", task_id=f"t{i:02}", source="schedule",
                          fired_at=T0 + timedelta(minutes=i % 5))
    store.record_fire("acme", "other", task_id="x", fired_at=T0, source="schedule")
    seen, cursor, pages = [], None, 0
    while True:
        page, cursor = store.fires("acme", "a", limit=4, cursor=cursor)
        seen += page
        pages += 1
        if cursor is None:
            break
    assert pages == 6
    assert sorted(f.task_id for f in seen) == [f"t{i:02}" for i in range(23)]
    times = [f.fired_at for f in seen]
    assert times == sorted(times, reverse=True)
    # Among equal instants the later write comes first.
    at_four = [f.task_id for f in seen if f.fired_at == T0 + timedelta(minutes=4)]
    assert at_four == ["t19", "t14", "t09", "t04"]
    assert store.fires("acme", "ghost") == ([], None)


def test_fires_refuses_a_foreign_cursor(store: StateStore) -> None:
    store.record_fire("acme", "a", task_id="t1", fired_at=T0, source="schedule")
    for bad in ("not-a-cursor", "WzEsMl0", "!!!"):
        with pytest.raises(InvalidCursor, match="start again without a cursor"):
            store.fires("acme", "a", cursor=bad)


# -- audit ---------------------------------------------------------------------------------

def test_audit_entries_newest_first_filtered_by_project(store: StateStore) -> None:
    store.audit(actor="ann", action="create", project="acme", target="a", result="ok",
                details={"commit": "abc"})
    store.audit(actor="bob", action="delete", project="beta", target="b", result="forbidden")
    store.audit(actor="ann", action="patch", project="acme", target="a", result="ok")
    entries = store.audit_entries()
    assert [(e.actor, e.action, e.project) for e in entries] == [
        ("ann", "patch", "acme"), ("bob", "delete", "beta"), ("ann", "create", "acme")]
    acme = store.audit_entries("acme")
    assert [e.action for e in acme] == ["patch", "create"]
    assert acme[1].details == {"commit": "abc"}
    assert acme[1].at.tzinfo is UTC
    assert len(store.audit_entries(limit=1)) == 1


# -- users, tokens, sessions ---------------------------------------------------------------

def test_upsert_user_creates_and_extends(store: StateStore) -> None:
    ann = store.upsert_user("ann", email="ann@example.com", roles={"acme": "viewer"})
    assert (ann.email, ann.admin, ann.roles) == ("ann@example.com", False, {"acme": "viewer"})
    ann = store.upsert_user("ann", roles={"acme": "operator", "beta": "admin"})
    assert ann.email == "ann@example.com"  # unset arguments keep what is stored
    assert ann.roles == {"acme": "operator", "beta": "admin"}
    assert ann.has_role("acme", "operator")
    assert not ann.has_role("acme", "admin")
    assert ann.role_in("gamma") is None
    root = store.upsert_user("root", admin=True)
    assert root.role_in("anything") == "admin"
    assert store.user("ann") == ann
    with pytest.raises(InvalidRole, match="use one of viewer, operator, admin"):
        store.upsert_user("ann", roles={"acme": "owner"})


def test_tokens_are_shown_once_and_stored_hashed(store: StateStore, location: str,
                                                  tmp_path: Path) -> None:
    store.upsert_user("ann", roles={"acme": "viewer"})
    token = store.create_token("ann")
    assert token.startswith("ssk_")
    assert len(token) > 40
    found = store.user_for_token(token)
    assert found is not None
    assert found.name == "ann"
    assert store.user_for_token(token + "x") is None
    assert store.user_for_token("") is None
    with store._read() as conn:
        stored = [r[0] for r in conn.exec_driver_sql("SELECT token_hash FROM schedsync_tokens")]
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    if not location.startswith("postgresql"):
        files = list((tmp_path / ".schedsync").iterdir())
        assert files
        assert not any(token.encode() in f.read_bytes() for f in files)
        assert not any(token[4:].encode() in f.read_bytes() for f in files)
    second = store.create_token("ann")
    assert store.revoke_tokens("ann") == 2
    assert store.user_for_token(token) is None
    assert store.user_for_token(second) is None
    with pytest.raises(NotFound, match="schedsync token create --user bob"):
        store.create_token("bob")


def test_sessions(store: StateStore) -> None:
    store.upsert_user("ann", roles={"acme": "operator"})
    session_id, csrf = store.create_session("ann", timedelta(hours=8))
    found = store.session_user(session_id)
    assert found is not None
    assert (found[0].name, found[1]) == ("ann", csrf)
    with store._read() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(
            "SELECT session_hash, csrf_token FROM schedsync_sessions")]
    assert rows == [(hashlib.sha256(session_id.encode()).hexdigest(), csrf)]
    store.delete_session(session_id)
    assert store.session_user(session_id) is None
    expired, _ = store.create_session("ann", timedelta(seconds=-1))
    assert store.session_user(expired) is None
    live, _ = store.create_session("ann", timedelta(hours=1))
    store.revoke_tokens("ann")  # ends the browser sessions too
    assert store.session_user(live) is None


# -- integrity -----------------------------------------------------------------------------

def test_check_integrity_of_a_healthy_store(store: StateStore) -> None:
    store.record_applied("acme", "aps", "a", "k", {"task": "t"})
    store.record_fire("acme", "a", task_id="t1", fired_at=T0, source="schedule")
    store.upsert_user("ann", roles={"acme": "viewer"})
    store.create_token("ann")
    assert store.check_integrity() == []


# -- storage format ------------------------------------------------------------------------

@given(st.lists(st.datetimes(timezones=st.just(UTC)), min_size=2, max_size=5))
def test_stored_instants_round_trip_and_sort_as_time_sorts(values: list[datetime]) -> None:
    texts = [format_instant(v) for v in values]
    assert [parse_instant(t) for t in texts] == values
    assert sorted(texts) == [format_instant(v) for v in sorted(values)]
    assert {len(t) for t in texts} == {27}


@given(st.text())
def test_uuid5_text_is_the_uuid_module_s(name: str) -> None:
    from schedsync.engine.state.ids import NAMESPACE, uuid5_text

    try:
        expected = str(uuid.uuid5(NAMESPACE, name))
    except UnicodeEncodeError:  # lone surrogates: neither can encode them
        with pytest.raises(UnicodeEncodeError):
            uuid5_text(name)
        return
    assert uuid5_text(name) == expected


def test_uuid5_text_sets_every_variant_digit_as_the_uuid_module() -> None:
    import hashlib

    from schedsync.engine.state.ids import NAMESPACE, uuid5_text

    raw_digits = set()  # the hash's digit that the variant bits overwrite: all 16 occur
    for index in range(2000):
        name = f"bench/job.{index:06d}"
        assert uuid5_text(name) == str(uuid.uuid5(NAMESPACE, name))
        raw_digits.add(hashlib.sha1(NAMESPACE.bytes + name.encode()).digest()[8] >> 4)
    assert raw_digits == set(range(16))


def test_a_live_digest_is_kept_only_with_the_base_it_came_with(store: StateStore) -> None:
    names = ["a", "b", "c"]
    # First bindings by plain INSERTs (ids planned), then the general upsert.
    planned = store.plan_schedule_ids("acme", names)
    store.record_applied_many("acme", "aps", [(n, n, {"v": 1}) for n in names],
                              planned=planned, digests={"a": "da", "b": "db"})
    assert {n: b.live_digest for n, b in store.bindings("acme", "aps").items()} == {
        "a": "da", "b": "db", "c": None}
    assert store.may_have_live_digests("aps")
    assert not store.may_have_live_digests("other")
    # A new base without a digest (an import, a resync) must not keep the old one.
    store.record_applied_many("acme", "aps", [("a", "a", {"v": 2}), ("b", "b", {"v": 2})],
                              digests={"b": "db2"})
    assert {n: b.live_digest for n, b in store.bindings("acme", "aps").items()} == {
        "a": None, "b": "db2", "c": None}
    store.record_applied("acme", "aps", "b", "b", {"v": 3})
    assert not store.may_have_live_digests("aps")


def test_a_digest_is_adopted_only_for_the_base_it_vouches_for(store: StateStore) -> None:
    store.record_applied_many("acme", "aps", [("a", "a", {"v": 1}), ("b", "b", {"v": 1})])
    base = store.bindings("acme", "aps")["a"].base_text
    # "b"'s base moved since the digest's entry was read (another apply): not adopted.
    assert store.set_live_digests("acme", "aps", {
        "a": ("da", base), "b": ("db", base.replace("1", "2")), "gone": ("dx", base)}) == 1
    assert {n: b.live_digest for n, b in store.bindings("acme", "aps").items()} == {
        "a": "da", "b": None}

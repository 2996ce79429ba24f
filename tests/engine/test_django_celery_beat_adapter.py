"""django-celery-beat adapter on tables made by Django's migrations (SQLite, PostgreSQL)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from schedsync.engine.adapters.base import Expected, Operation, OpKind
from schedsync.engine.adapters.django_celery_beat import DjangoCeleryBeatAdapter
from schedsync.engine.adapters.django_digest import DIGEST_QUERY, written_digests
from schedsync.engine.spec import make_spec, spec_bytes
from schedsync.schemas.config import CeleryBeatScheduler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "celery_fixtures"))
from django_db import migrate, pg_copy, pg_drop


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("django") / "template.sqlite3"
    migrate(str(path))
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "db.sqlite3"
        shutil.copy(migrated_sqlite, path)
        yield f"sqlite:///{path}"
        return
    url = pg_copy(request.getfixturevalue("django_pg_template"))
    yield url
    pg_drop(url)


@pytest.fixture
def adapter(db_url: str, tmp_path: Path) -> Iterator[DjangoCeleryBeatAdapter]:
    config = CeleryBeatScheduler(type="celery-beat", store="django-celery-beat", url=db_url)
    adapter = DjangoCeleryBeatAdapter(config, tmp_path, project="acme")
    yield adapter
    adapter.close()


def specs() -> list[dict[str, object]]:
    return [
        make_spec(name="digest", trigger_type="cron",
                  trigger={"minute": "0", "hour": "9", "day_of_week": "mon-fri"},
                  task="acme.digest", timezone="Europe/Berlin", queue="mail", priority=3,
                  expires=120, description="weekday digest"),
        make_spec(name="digest-ny", trigger_type="cron",
                  trigger={"minute": "0", "hour": "9", "day_of_week": "mon-fri"},
                  task="acme.digest", timezone="America/New_York"),
        make_spec(name="digest-2", trigger_type="cron",
                  trigger={"minute": "0", "hour": "9", "day_of_week": "1-5"},
                  task="acme.digest", timezone="Europe/Berlin", args=[2]),
        make_spec(name="tick", trigger_type="interval", trigger={"every": 90, "period": "seconds"},
                  task="acme.tick", args=[1, "a"], kwargs={"x": {"y": [1]}}),
        make_spec(name="once", trigger_type="clocked",
                  trigger={"run_at": "2030-01-02T03:04:05+01:00"}, task="acme.once"),
        make_spec(name="dawn", trigger_type="solar",
                  trigger={"event": "sunrise", "latitude": 52.52, "longitude": 13.405},
                  task="acme.dawn", enabled=False),
    ]


def rows(adapter: DjangoCeleryBeatAdapter, sql: str) -> list[tuple[object, ...]]:
    with adapter.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def test_round_trip_reads_back_equal_specs(adapter: DjangoCeleryBeatAdapter) -> None:
    wanted = specs()
    results = list(adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s) for s in wanted]))
    assert [r.error for r in results if not r.ok] == []
    live = {e.key: e for e in adapter.list_entries()}
    for spec in wanted:
        assert live[str(spec["name"])].problem is None
        assert live[str(spec["name"])].spec == spec
    assert set(adapter.managed_keys()) == {str(s["name"]) for s in wanted}


def test_schedule_rows_are_shared_by_value(adapter: DjangoCeleryBeatAdapter) -> None:
    list(adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s) for s in specs()]))
    # digest and digest-2 share one row; New York has its own (the zone is part of it).
    assert rows(adapter, "SELECT count(*) FROM django_celery_beat_crontabschedule") == [(2,)]
    adapter.create("tick-2", make_spec(name="tick-2", trigger_type="interval",
                                       trigger={"every": 90, "period": "seconds"}, task="t"))
    assert rows(adapter, "SELECT count(*) FROM django_celery_beat_intervalschedule") == [(1,)]


def test_not_null_columns_and_change_tracking(adapter: DjangoCeleryBeatAdapter) -> None:
    adapter.create("once", specs()[4])
    [(headers, description, one_off, count, changed)] = rows(
        adapter, "SELECT headers, description, one_off, total_run_count, date_changed "
        "FROM django_celery_beat_periodictask")
    assert json.loads(str(headers)) == {"schedsync_name": "once", "schedsync_project": "acme"}
    assert description == ""
    assert one_off  # Django refuses clocked tasks that are not one-off
    assert count == 0
    assert changed is not None
    [(first,)] = rows(adapter, "SELECT last_update FROM django_celery_beat_periodictasks")
    adapter.set_enabled("once", False)
    [(second,)] = rows(adapter, "SELECT last_update FROM django_celery_beat_periodictasks")
    assert str(second) > str(first)


def test_update_keeps_run_state_and_disable_clears_last_run(
    adapter: DjangoCeleryBeatAdapter,
) -> None:
    tick = specs()[3]
    adapter.create("tick", tick)
    with adapter.engine.begin() as conn:
        conn.execute(sa.text("UPDATE django_celery_beat_periodictask SET total_run_count = 4, "
                             "last_run_at = date_changed"))
    adapter.update("tick", {**tick, "args": ["new"]})
    [entry] = adapter.list_entries()
    assert entry.spec["args"] == ["new"]
    assert entry.total_run_count == 4
    assert entry.last_run_at is not None
    adapter.set_enabled("tick", False)
    [entry] = adapter.list_entries()
    assert entry.spec["enabled"] is False
    assert entry.last_run_at is None  # as PeriodicTask.save does
    adapter.delete("tick")
    assert adapter.list_entries() == []


def test_live_edit_reads_back_different(adapter: DjangoCeleryBeatAdapter) -> None:
    adapter.create("tick", specs()[3])
    with adapter.engine.begin() as conn:
        conn.execute(sa.text("UPDATE django_celery_beat_periodictask SET kwargs = '{\"x\": 2}'"))
    [entry] = adapter.list_entries()
    assert entry.spec["kwargs"] == {"x": 2}


def test_expected_spec_is_handed_back_only_when_the_row_holds_it_exactly(
    adapter: DjangoCeleryBeatAdapter,
) -> None:
    wanted = specs()
    list(adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s) for s in wanted]))
    tick = wanted[3]
    # Equal in Python, not in JSON (1 == 1.0 == True): the row holds [1, "a"], not these.
    near = [{**tick, "args": [1.0, "a"]}, {**tick, "args": [True, "a"]},
            {**tick, "kwargs": {"x": {"y": [1.0]}}}, {**tick, "description": ""}]
    for spec in (*wanted, *near):
        expect = {str(spec["name"]): Expected(spec, spec_bytes(spec), str(spec["name"]))}
        live = {e.key: e for e in adapter.list_entries(expect)}[str(spec["name"])]
        assert (live.spec is spec) is any(spec is w for w in wanted), spec
        assert spec_bytes(live.spec) == spec_bytes(
            {e.key: e for e in adapter.list_entries()}[str(spec["name"])].spec)


def test_failures_are_reported_per_change(adapter: DjangoCeleryBeatAdapter) -> None:
    tick = specs()[3]
    adapter.create("tick", tick)
    ops = [Operation(OpKind.CREATE, "tick", tick),
           Operation(OpKind.UPDATE, "missing", tick),
           Operation(OpKind.CREATE, "fine", {**tick, "name": "fine"})]
    results = {r.op.key + r.op.kind.value: r for r in adapter.apply(ops)}
    assert not results["tickcreate"].ok
    assert "already exists" in str(results["tickcreate"].error)
    assert not results["missingupdate"].ok
    assert results["finecreate"].ok


def test_tasks_created_by_django_are_read(migrated_sqlite: Path, tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    shutil.copy(migrated_sqlite, path)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO django_celery_beat_intervalschedule (every, period) "
                     "VALUES (1, 'microseconds')")
        conn.execute(
            "INSERT INTO django_celery_beat_periodictask (name, task, args, kwargs, headers, "
            "enabled, one_off, total_run_count, date_changed, description, interval_id) "
            "VALUES ('theirs', 'x.y', '[]', '{}', '{}', 1, 0, 0, '2026-01-01 00:00:00', '', 1)")
        # SQLite does not enforce the foreign key outside Django: a dangling id, and none.
        for name, interval_id in (("dangling", 99), ("scheduleless", None)):
            conn.execute(
                "INSERT INTO django_celery_beat_periodictask (name, task, args, kwargs, "
                "headers, enabled, one_off, total_run_count, date_changed, description, "
                "interval_id) VALUES (?, 'x.y', '[1]', '{}', '{}', 1, 0, 0, "
                "'2026-01-01 00:00:00', '', ?)", (name, interval_id))
    config = CeleryBeatScheduler(type="celery-beat", store="django-celery-beat",
                                 url=f"sqlite:///{path}")
    adapter = DjangoCeleryBeatAdapter(config, tmp_path)
    live = {entry.key: entry for entry in adapter.list_entries()}
    adapter.close()
    assert list(live) == ["dangling", "scheduleless", "theirs"]
    assert "microseconds" in str(live["theirs"].problem)
    assert "interval_id 99 names no schedule row" in str(live["dangling"].problem)
    assert "references no schedule row" in str(live["scheduleless"].problem)


def test_odd_rows_written_by_hand_are_read_or_reported(adapter: DjangoCeleryBeatAdapter) -> None:
    adapter.create("tick", specs()[3])
    with adapter.engine.begin() as conn:
        interval_id = conn.execute(sa.text(
            "SELECT interval_id FROM django_celery_beat_periodictask")).scalar_one()
        for name, headers, kwargs in (
            ("not-a-dict", '"text"', "{}"),
            ("odd-project", '{"schedsync_name": "renamed", "schedsync_project": 7, '
                            '"schedsync_timezone": "Asia/Tokyo"}', "{}"),
            ("bad-kwargs", "{}", "not json"),
        ):
            conn.execute(sa.text(
                "INSERT INTO django_celery_beat_periodictask (name, task, args, kwargs, "
                "headers, enabled, one_off, total_run_count, date_changed, description, "
                "interval_id) VALUES (:name, 'x.y', '[]', :kwargs, :headers, true, false, "
                "3, CURRENT_TIMESTAMP, '', :interval)"),
                {"name": name, "headers": headers, "kwargs": kwargs, "interval": interval_id})
    live = {entry.key: entry for entry in adapter.list_entries()}
    assert list(live) == ["bad-kwargs", "not-a-dict", "odd-project", "tick"]
    assert live["not-a-dict"].spec["name"] == "not-a-dict"
    assert live["not-a-dict"].problem is None
    assert live["not-a-dict"].total_run_count == 3
    assert live["odd-project"].spec["name"] == "renamed"
    assert live["odd-project"].spec["timezone"] == "Asia/Tokyo"
    assert "cannot be read" in str(live["bad-kwargs"].problem)
    assert live["bad-kwargs"].spec == {"name": "bad-kwargs"}
    assert adapter.managed_keys() == {"tick": "acme", "odd-project": None}


@pytest.fixture
def pg_adapter(django_pg_template: str, tmp_path: Path) -> Iterator[DjangoCeleryBeatAdapter]:
    url = pg_copy(django_pg_template)
    config = CeleryBeatScheduler(type="celery-beat", store="django-celery-beat", url=url)
    adapter = DjangoCeleryBeatAdapter(config, tmp_path, project="acme")
    yield adapter
    adapter.close()
    pg_drop(url)


def digests(adapter: DjangoCeleryBeatAdapter) -> dict[str, str]:
    with adapter.engine.connect() as conn:
        return {name: digest for name, digest, _, _ in conn.execute(DIGEST_QUERY)}


@pytest.mark.postgres
def test_apply_reports_the_digest_each_write_left(pg_adapter: DjangoCeleryBeatAdapter) -> None:
    wanted = specs()
    results = list(pg_adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s)
                                     for s in wanted]))
    assert {r.op.key: r.digest for r in results} == digests(pg_adapter)
    assert len(set(digests(pg_adapter).values())) == len(wanted)
    # A toggle without a spec leaves the rest of the row as found: no digest vouches.
    [toggled] = pg_adapter.apply([Operation(OpKind.DISABLE, "tick", None)])
    assert toggled.ok
    assert toggled.digest is None


@pytest.mark.postgres
@pytest.mark.parametrize(("edit", "drift"), [
    ("args = '[1]'", True), ("kwargs = '{}'", True), ("headers = '{}'", True),
    ("queue = 'other'", True), ("priority = 4", True), ("expire_seconds = 60", True),
    ("enabled = false", True), ("description = 'x'", True), ("task = 'acme.tock'", True),
    ("interval_id = NULL, crontab_id = (SELECT min(id) FROM "
     "django_celery_beat_crontabschedule)", True),
    # beat's own bookkeeping, and columns no spec reads: not drift
    ("last_run_at = now(), total_run_count = 9", False), ("date_changed = now()", False),
    ("exchange = 'x', routing_key = 'y'", False),
])
def test_the_digest_covers_what_the_listing_reads(
    pg_adapter: DjangoCeleryBeatAdapter, edit: str, drift: bool
) -> None:
    list(pg_adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s) for s in specs()]))
    before = digests(pg_adapter)
    with pg_adapter.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE django_celery_beat_periodictask SET {edit} "
                             "WHERE name = 'tick'"))
    after = digests(pg_adapter)
    assert (after["tick"] != before["tick"]) is drift
    assert {k: v for k, v in after.items() if k != "tick"} == {
        k: v for k, v in before.items() if k != "tick"}


@pytest.mark.postgres
def test_a_shared_schedule_row_edit_moves_every_digest_on_it(
    pg_adapter: DjangoCeleryBeatAdapter,
) -> None:
    list(pg_adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s) for s in specs()]))
    before = digests(pg_adapter)
    with pg_adapter.engine.begin() as conn:
        conn.execute(sa.text("UPDATE django_celery_beat_crontabschedule SET hour = '10' "
                             "WHERE timezone = 'Europe/Berlin'"))
    after = digests(pg_adapter)
    assert {k for k in before if after[k] != before[k]} == {"digest", "digest-2"}


@pytest.mark.postgres
def test_no_digest_for_a_row_whose_schedule_row_moved_under_the_write(
    pg_adapter: DjangoCeleryBeatAdapter,
) -> None:
    """The write looks shared schedule rows up by value first; one edited before the
    digests are read would be in the digest but not in the base: no digest then."""
    list(pg_adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s) for s in specs()]))
    with pg_adapter.engine.begin() as conn:
        found = written_digests(conn, ["tick", "digest"], lambda kind, _id, _v: kind == "cron")
    assert set(found) == {"digest"}


def expected_after_apply(adapter: DjangoCeleryBeatAdapter) -> dict[str, Expected]:
    """Each spec as a plan expects it, vouched for by the digest its write reported."""
    wanted = specs()
    results = list(adapter.apply([Operation(OpKind.CREATE, str(s["name"]), s) for s in wanted]))
    digest = {r.op.key: r.digest for r in results}
    return {str(s["name"]): Expected(s, spec_bytes(s), str(s["name"]), digest[str(s["name"])])
            for s in wanted}


@pytest.mark.postgres
def test_digests_read_while_the_caller_works_give_the_same_listing(
    pg_adapter: DjangoCeleryBeatAdapter,
) -> None:
    expect = expected_after_apply(pg_adapter)
    with pg_adapter.engine.begin() as conn:  # one row drifts: it is read whole
        conn.execute(sa.text("UPDATE django_celery_beat_periodictask SET args = '[9]' "
                             "WHERE name = 'tick'"))
    eager = pg_adapter.list_entries(expect)
    managed = set(pg_adapter.managed_keys())
    lazy = pg_adapter.list_entries(lambda: expect, digests=True)
    plain = pg_adapter.list_entries()
    assert [(e.key, e.spec) for e in lazy] == [(e.key, e.spec) for e in eager] == [
        (e.key, e.spec) for e in plain]
    assert set(pg_adapter.managed_keys()) == managed == set(expect)
    held = {e.key for e in lazy if e.spec is expect[e.key].spec}
    assert held == set(expect) - {"tick"}
    assert pg_adapter.engine.pool.checkedout() == 0


@pytest.mark.postgres
def test_a_failing_expectation_leaves_no_digest_read_behind(
    pg_adapter: DjangoCeleryBeatAdapter,
) -> None:
    expected_after_apply(pg_adapter)

    def broken() -> dict[str, Expected]:
        raise RuntimeError("state unreadable")

    with pytest.raises(RuntimeError, match="state unreadable"):
        pg_adapter.list_entries(broken, digests=True)
    assert pg_adapter.engine.pool.checkedout() == 0

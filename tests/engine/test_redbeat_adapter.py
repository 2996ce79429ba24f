"""RedBeat adapter against a real Redis (db 2), checked with RedBeat's own reader."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from schedsync.engine.adapters.base import Operation, OpKind
from schedsync.engine.adapters.redbeat import RedBeatAdapter
from schedsync.engine.capabilities import capabilities_for
from schedsync.engine.errors import ConfigError
from schedsync.engine.plan import compare_fields, plan_scheduler
from schedsync.engine.spec import make_spec
from schedsync.schemas.config import CeleryBeatScheduler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "celery_fixtures"))
from services import require_service

URL = "redis://127.0.0.1:6379/2"
pytestmark = pytest.mark.redis


@pytest.fixture
def prefix() -> Iterator[str]:
    require_service("redis")
    value = f"schedsync-test-{uuid.uuid4().hex[:8]}:"
    yield value
    client = redis.Redis.from_url(URL)
    keys = list(client.scan_iter(match=f"{value}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def adapter(prefix: str, tmp_path: Path) -> Iterator[RedBeatAdapter]:
    config = CeleryBeatScheduler(type="celery-beat", store="redbeat", url=URL,
                                 key_prefix=prefix, timezone="Europe/Berlin")
    adapter = RedBeatAdapter(config, tmp_path, project="acme")
    yield adapter
    adapter.close()


def interval_spec(name: str = "tick", **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {"name": name, "trigger_type": "interval",
                                 "trigger": {"every": 5, "period": "minutes"},
                                 "task": "acme.tick", "args": [1, "a"], "kwargs": {"x": 1}}
    fields.update(changes)
    return make_spec(**fields)  # type: ignore[arg-type]


def cron_spec(name: str = "digest") -> dict[str, object]:
    return make_spec(name=name, trigger_type="cron",
                     trigger={"minute": "0", "hour": "9", "day_of_week": "mon-fri"},
                     task="acme.digest", queue="mail", priority=3, expires=120)


def redbeat_app(prefix: str) -> Celery:
    app = Celery("reader", set_as_current=False)
    app.conf.update(redbeat_redis_url=URL, redbeat_key_prefix=prefix, timezone="Europe/Berlin")
    return app


def test_round_trip_reads_back_equal_specs(adapter: RedBeatAdapter) -> None:
    specs = [interval_spec(), cron_spec(), interval_spec("every-minute",
             trigger={"every": 60, "period": "seconds"})]
    results = list(adapter.apply([Operation(OpKind.CREATE, s["name"], s) for s in specs]))
    assert all(r.ok for r in results)
    live = {e.key: e for e in adapter.list_entries()}
    fields = adapter.capabilities.fields
    for spec in specs:
        entry = live[str(spec["name"])]
        assert entry.problem is None
        assert {f: entry.spec[f] for f in fields} == {f: spec[f] for f in fields}
        assert entry.next_run_at is not None
    assert adapter.managed_keys() == {"tick": "acme", "digest": "acme", "every-minute": "acme"}


def test_entries_are_what_redbeat_itself_reads(adapter: RedBeatAdapter, prefix: str) -> None:
    from redbeat.schedulers import RedBeatSchedulerEntry

    adapter.create("digest", cron_spec())
    entry = RedBeatSchedulerEntry.from_key(f"{prefix}digest", app=redbeat_app(prefix))
    assert entry.task == "acme.digest"
    assert entry.schedule._orig_hour == "9"
    assert entry.schedule.day_of_week == {1, 2, 3, 4, 5}
    assert entry.options["headers"] == {"schedsync_name": "digest", "schedsync_project": "acme"}
    assert entry.options["queue"] == "mail"
    assert entry.last_run_at is not None  # starts its clock now, not "run immediately"


def test_update_keeps_next_run_and_meta(adapter: RedBeatAdapter, prefix: str) -> None:
    client = redis.Redis.from_url(URL, decode_responses=True)
    adapter.create("tick", interval_spec())
    meta = json.dumps({"last_run_at": None, "total_run_count": 7})
    client.hset(f"{prefix}tick", "meta", meta)
    client.zadd(f"{prefix}:schedule", {f"{prefix}tick": 1234567})
    adapter.update("tick", interval_spec(args=[2]))
    assert client.zscore(f"{prefix}:schedule", f"{prefix}tick") == 1234567
    assert client.hget(f"{prefix}tick", "meta") == meta
    [entry] = adapter.list_entries()
    assert entry.spec["args"] == [2]
    assert entry.total_run_count == 7
    # A changed schedule moves the next run.
    adapter.update("tick", interval_spec(trigger={"every": 1, "period": "hours"}))
    assert client.zscore(f"{prefix}:schedule", f"{prefix}tick") != 1234567
    client.close()


def test_enable_disable_and_delete(adapter: RedBeatAdapter, prefix: str) -> None:
    client = redis.Redis.from_url(URL, decode_responses=True)
    adapter.create("tick", interval_spec())
    adapter.set_enabled("tick", False)
    assert adapter.list_entries()[0].spec["enabled"] is False
    adapter.set_enabled("tick", True)
    assert adapter.list_entries()[0].spec["enabled"] is True
    adapter.delete("tick")
    assert adapter.list_entries() == []
    assert not client.exists(f"{prefix}tick")
    assert client.zcard(f"{prefix}:schedule") == 0
    client.close()


def test_live_edit_reads_back_different(adapter: RedBeatAdapter, prefix: str) -> None:
    from redbeat.schedulers import RedBeatSchedulerEntry

    adapter.create("tick", interval_spec())
    app = redbeat_app(prefix)
    entry = RedBeatSchedulerEntry.from_key(f"{prefix}tick", app=app)
    entry.args = ["edited"]
    entry.save()
    [live] = adapter.list_entries()
    assert live.spec["args"] == ["edited"]
    assert live.spec["name"] == "tick"


def test_unmanaged_and_unreadable_entries_are_reported(
    adapter: RedBeatAdapter, prefix: str
) -> None:
    from celery.schedules import schedule
    from redbeat.schedulers import RedBeatSchedulerEntry

    app = redbeat_app(prefix)
    RedBeatSchedulerEntry("theirs", "other.task", schedule(90), app=app).save()
    client = redis.Redis.from_url(URL, decode_responses=True)
    client.hset(f"{prefix}broken", "definition", "{not json")
    client.zadd(f"{prefix}:schedule", {f"{prefix}broken": 1})
    # Not a hash at all: its error reply must not cost the other entries.
    client.set(f"{prefix}a-string", "x")
    client.hset(f"{prefix}bad-meta", mapping={
        "definition": json.dumps({"name": "bad-meta", "task": "t", "schedule": {
            "__type__": "interval", "every": 30.0, "relative": False}}),
        "meta": "{not json"})
    client.zadd(f"{prefix}:schedule", {f"{prefix}a-string": 2, f"{prefix}bad-meta": 3,
                                       f"{prefix}hash-gone": 4})
    client.close()
    live = {e.key: e for e in adapter.list_entries()}
    assert live["theirs"].spec["trigger"] == {"every": 90, "period": "seconds"}
    assert live["theirs"].problem is None
    assert live["broken"].problem is not None
    assert "WRONGTYPE" in str(live["a-string"].problem)
    # beat's runtime record is not the schedule: unreadable meta is only no last run.
    assert (live["bad-meta"].problem, live["bad-meta"].last_run_at) == (None, None)
    assert "hash-gone" not in live
    assert adapter.managed_keys() == {}


def test_failures_are_reported_per_change(adapter: RedBeatAdapter) -> None:
    clocked = make_spec(name="once", trigger_type="clocked",
                        trigger={"run_at": "2030-01-01T00:00:00Z"}, task="acme.once")
    ops = [Operation(OpKind.CREATE, "once", clocked),
           Operation(OpKind.CREATE, "tick", interval_spec()),
           Operation(OpKind.DISABLE, "missing", None)]
    results = {r.op.key: r for r in adapter.apply(ops)}
    assert not results["once"].ok
    assert "clocked" in str(results["once"].error)
    assert results["tick"].ok
    assert not results["missing"].ok


def test_capabilities_follow_the_app_timezone(adapter: RedBeatAdapter) -> None:
    caps = adapter.capabilities
    assert caps.fixed_timezone == "Europe/Berlin"
    assert caps.per_schedule_timezone is False
    assert "timezone" not in caps.fields
    assert caps.trigger_types == {"cron", "interval"}


def test_missing_url_is_a_config_error(tmp_path: Path) -> None:
    config = CeleryBeatScheduler(type="celery-beat", store="redbeat")
    with pytest.raises(ConfigError, match="url"):
        RedBeatAdapter(config, tmp_path)


def test_new_entries_wait_for_their_first_due_time(adapter: RedBeatAdapter, prefix: str) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    before = datetime.now(UTC)
    adapter.create("digest", cron_spec())
    adapter.create("tick", interval_spec())
    client = redis.Redis.from_url(URL, decode_responses=True)
    digest = datetime.fromtimestamp(client.zscore(f"{prefix}:schedule", f"{prefix}digest"), UTC)
    tick = datetime.fromtimestamp(client.zscore(f"{prefix}:schedule", f"{prefix}tick"), UTC)
    client.close()
    local = digest.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute, local.weekday() < 5) == (9, 0, True)
    assert before < digest <= before + timedelta(days=4)
    assert abs((tick - before) - timedelta(minutes=5)) < timedelta(seconds=5)


def test_normalize_gives_what_reads_back(adapter: RedBeatAdapter) -> None:
    written = make_spec(name="d", trigger_type="cron", task="t",
                        trigger={"minute": "0,15,30,45", "hour": "9", "day_of_week": "1,2,3,4,5"})
    adapter.create("d", written)
    [entry] = adapter.list_entries()
    assert adapter.normalize(written)["trigger"] == entry.spec["trigger"]
    assert entry.spec["trigger"]["minute"] == "*/15"


def test_settings_come_from_the_celery_app_when_not_in_schedsync_yaml(
    tmp_path: Path, prefix: str
) -> None:
    (tmp_path / "redbeat_settings_app.py").write_text(
        "from celery import Celery\n"
        "app = Celery('settings', set_as_current=False)\n"
        f"app.conf.update(redbeat_redis_url={URL!r}, redbeat_key_prefix={prefix!r},\n"
        "                timezone='Asia/Tokyo')\n"
    )
    config = CeleryBeatScheduler(type="celery-beat", store="redbeat",
                                 app="redbeat_settings_app:app")
    adapter = RedBeatAdapter(config, tmp_path)
    try:
        assert (adapter.url, adapter.prefix, adapter.schedule_key) == (
            URL, prefix, f"{prefix}:schedule")
        assert adapter.capabilities.fixed_timezone == "Asia/Tokyo"
        adapter.create("tick", interval_spec())
        assert [e.key for e in adapter.list_entries()] == ["tick"]
    finally:
        adapter.close()


def test_validation_and_planner_use_the_same_redbeat_capabilities(
    adapter: RedBeatAdapter
) -> None:
    # RedBeat's definition has no zone and no description: the zone is the app's (a
    # different one is a validation error, tests/engine/test_validate.py), and a
    # description is repository documentation that never shows as a difference.
    assert adapter.capabilities.fields == capabilities_for(adapter.config).fields
    assert {"timezone", "description"}.isdisjoint(compare_fields(adapter.capabilities))
    assert adapter.capabilities.fixed_timezone == "Europe/Berlin"
    spec = interval_spec(description="why it runs")
    adapter.create("tick", spec)
    [entry] = adapter.list_entries()
    assert entry.spec["description"] is None
    plan = plan_scheduler(project="acme", scheduler="beat", desired=[spec], live=[entry],
                          base={}, capabilities=adapter.capabilities)
    assert [c.action.value for c in plan.changes] == ["no-op"]

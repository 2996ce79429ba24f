"""Celery beat stores with 10k entries: adapter vs the raw store operation, same run.

    .venv/bin/python bench/celery_stores.py [--entries 10000] [--repeat 5]

RedBeat (Redis db 2, a private key prefix):
- list: ``RedBeatAdapter.list_entries()`` (ZRANGE + pipelined HGETALL + parsing into
  specs) vs one raw ZRANGE + pipelined HGETALL of the same keys;
- apply: 10k creates through ``RedBeatAdapter.apply`` vs one raw pipeline writing the
  same hashes and scores (JSON encoding included).
django-celery-beat on PostgreSQL (a scratch database migrated by Django):
- list: ``DjangoCeleryBeatAdapter.list_entries()`` vs the same joined SELECT, raw;
- apply: 10k creates through the adapter vs one raw executemany INSERT of the same rows
  (schedule rows already present) plus the change-tracking bump.
Prints the median of each and the ratio adapter / raw.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "celery_fixtures"))

from schedsync.engine.adapters import django_celery_beat as dcb  # noqa: E402
from schedsync.engine.adapters.base import Operation, OpKind  # noqa: E402
from schedsync.engine.adapters.redbeat import RedBeatAdapter  # noqa: E402
from schedsync.engine.spec import Spec, make_spec  # noqa: E402
from schedsync.schemas.config import CeleryBeatScheduler  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/2"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def make_specs(count: int) -> list[Spec]:
    """Half intervals, half crons over 100 distinct expressions, as real fleets look."""
    specs = []
    for i in range(count):
        if i % 2:
            trigger_type = "cron"
            trigger = {"minute": str(i % 60), "hour": str((i // 60) % 24 // 3 * 3),
                       "day_of_week": "mon-fri" if i % 4 == 1 else "*"}
        else:
            trigger_type = "interval"
            trigger = {"every": 1 + i % 50, "period": "minutes"}
        specs.append(make_spec(
            name=f"bench.job-{i:05d}", trigger_type=trigger_type, trigger=trigger,
            task=f"bench.tasks.t{i % 40}", args=[i, "x"], kwargs={"tenant": i % 97},
            queue="default" if i % 3 else None, timezone="UTC",
        ))
    return specs


def median_times(
    ours: Callable[[], Any], raw: Callable[[], Any], repeat: int, before: Callable[[], Any]
) -> tuple[float, float]:
    """Medians of ``ours`` and ``raw``, run alternately so that the machine's load
    (it is shared and noisy) weighs on both alike."""
    times: dict[str, list[float]] = {"ours": [], "raw": []}
    for _ in range(repeat):
        for label, action in (("ours", ours), ("raw", raw)):
            before()
            started = time.perf_counter()
            action()
            times[label].append(time.perf_counter() - started)
    return statistics.median(times["ours"]), statistics.median(times["raw"])


def _pass() -> None:
    return None


def report(store: str, what: str, ours: float, raw: float) -> None:
    print(f"{store:<20} {what:<8} adapter {ours:7.3f} s   raw {raw:7.3f} s   "
          f"ratio {ours / raw:5.2f}x")


# -- RedBeat ---------------------------------------------------------------------------


def bench_redbeat(specs: list[Spec], repeat: int) -> None:
    prefix = f"schedsync-bench-{uuid.uuid4().hex[:8]}:"
    config = CeleryBeatScheduler(type="celery-beat", store="redbeat", url=REDIS_URL,
                                 key_prefix=prefix)
    adapter = RedBeatAdapter(config, ROOT, project="bench")
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    ops = [Operation(OpKind.CREATE, str(s["name"]), s) for s in specs]

    def clear() -> None:
        keys = list(client.scan_iter(match=f"{prefix}*", count=5000))
        for start in range(0, len(keys), 5000):
            client.delete(*keys[start:start + 5000])

    definitions = [adapter.definition(str(s["name"]), s) for s in specs]
    meta = json.dumps({"last_run_at": None})
    score = int(time.time()) + 60

    def raw_write() -> None:
        pipe = client.pipeline(transaction=False)
        for definition in definitions:
            key = prefix + definition["name"]
            pipe.hset(key, mapping={"definition": json.dumps(definition), "meta": meta})
            pipe.zadd(f"{prefix}:schedule", {key: score})
        pipe.execute()

    def raw_read() -> None:
        members = client.zrange(f"{prefix}:schedule", 0, -1, withscores=True)
        pipe = client.pipeline(transaction=False)
        for member, _ in members:
            pipe.hgetall(member)
        pipe.execute()

    try:
        report("redbeat", "apply", *median_times(
            lambda: all(r.ok for r in adapter.apply(ops)), raw_write, repeat, clear))
        raw_write()
        assert len(adapter.list_entries()) == len(specs)
        report("redbeat", "list", *median_times(adapter.list_entries, raw_read, repeat, _pass))
    finally:
        clear()
        client.close()
        adapter.close()


# -- django-celery-beat on PostgreSQL ---------------------------------------------------


def bench_django(specs: list[Spec], repeat: int) -> None:
    from django_db import migrate

    name = f"schedsync_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        migrate(url)
        _bench_django_db(url, specs, repeat)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _bench_django_db(url: str, specs: list[Spec], repeat: int) -> None:
    config = CeleryBeatScheduler(type="celery-beat", store="django-celery-beat", url=url)
    adapter = dcb.DjangoCeleryBeatAdapter(config, ROOT, project="bench")
    engine = adapter.engine
    ops = [Operation(OpKind.CREATE, str(s["name"]), s) for s in specs]

    def clear() -> None:
        with engine.begin() as conn:
            conn.execute(sa.delete(dcb.task))

    # The raw reference writes the same rows, schedule ids looked up beforehand.
    assert all(r.ok for r in adapter.apply(ops))
    with engine.connect() as conn:
        fks = {row.name: (row.crontab_id, row.interval_id)
               for row in conn.execute(sa.select(dcb.task.c.name, dcb.task.c.crontab_id,
                                                 dcb.task.c.interval_id))}

    def raw_rows() -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        rows = []
        for spec in specs:
            crontab_id, interval_id = fks[str(spec["name"])]
            rows.append({
                **adapter.row_values(spec), "name": spec["name"], "date_changed": now,
                "total_run_count": 0, "last_run_at": None, "exchange": None,
                "routing_key": None, "expires": None, "start_time": None,
                "crontab_id": crontab_id, "interval_id": interval_id, "solar_id": None,
                "clocked_id": None,
            })
        return rows

    def raw_write() -> None:
        rows = raw_rows()
        with engine.begin() as conn:
            conn.execute(sa.insert(dcb.task), rows)
            conn.execute(sa.update(dcb.changes).values(last_update=datetime.now(UTC)))

    query = sa.text(
        "SELECT t.*, c.minute, c.hour, c.day_of_week, c.day_of_month, c.month_of_year, "
        "c.timezone, i.every, i.period, s.event, s.latitude, s.longitude, k.clocked_time "
        "FROM django_celery_beat_periodictask t "
        "LEFT JOIN django_celery_beat_crontabschedule c ON t.crontab_id = c.id "
        "LEFT JOIN django_celery_beat_intervalschedule i ON t.interval_id = i.id "
        "LEFT JOIN django_celery_beat_solarschedule s ON t.solar_id = s.id "
        "LEFT JOIN django_celery_beat_clockedschedule k ON t.clocked_id = k.id "
        "ORDER BY t.name")

    def raw_read() -> None:
        with engine.connect() as conn:
            conn.execute(query).all()

    try:
        report("django-celery-beat", "apply", *median_times(
            lambda: all(r.ok for r in adapter.apply(ops)), raw_write, repeat, clear))
        assert len(adapter.list_entries()) == len(specs)
        report("django-celery-beat", "list", *median_times(
            adapter.list_entries, raw_read, repeat, _pass))
    finally:
        adapter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", choices=["all", "redbeat", "django"], default="all")
    options = parser.parse_args()
    specs = make_specs(options.entries)
    print(f"{options.entries} entries, median of {options.repeat} runs")
    if options.store in ("all", "redbeat"):
        bench_redbeat(specs, options.repeat)
    if options.store in ("all", "django"):
        bench_django(specs, options.repeat)


if __name__ == "__main__":
    main()

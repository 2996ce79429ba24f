"""Celery beat stores with 10k entries: adapter vs the raw store operation, same run.

    .venv/bin/python bench/celery_stores.py [--entries 10000] [--repeat 5] [--clock cpu]

The entries are the schedules of a generated repository (bench/_repo.py) whose
schedsync.yaml points at the store under test; ``plan`` is the engine's ``make_plan``
with nothing to change, against loading the repository plus the raw read (the issue's
definition of the plan target, <= 1.5x).

``plan0`` is the same plan against a store filled without schedsync's state (no bases
recorded: the state file is empty), ``plan`` against one filled by ``apply_plan`` (every
base recorded, as after ``schedsync apply``: the usual plan, three sides compared).

RedBeat (Redis db 2, a private key prefix):
- list: ``RedBeatAdapter.list_entries()`` (ZRANGE + pipelined HMGET of definition, meta
  and period hint + parsing into specs) vs one raw ZRANGE + redis-py pipelined HGETALL of
  the same keys (the issue's reference, also inside the plan's);
- apply: 10k creates through ``RedBeatAdapter.apply`` vs one raw pipeline writing the
  same hashes and scores (JSON encoding included);
- list*: ``list_entries()`` vs the very read it sends (ZRANGE + HMGETs packed by hand,
  cheaper than redis-py's pipeline): what turning the replies into specs costs.
django-celery-beat on PostgreSQL (a scratch database migrated by Django):
- list: ``DjangoCeleryBeatAdapter.list_entries()`` (the task columns a spec needs, the few
  schedule rows apart) vs one raw SELECT of the tasks joined with their schedule rows;
- apply: 10k creates through the adapter vs one raw executemany INSERT of the same rows
  (schedule rows already present) plus the change-tracking bump.
Prints the median of each and the ratio adapter / raw (ours and raw run alternately, so
the load of this shared, noisy machine weighs on both alike), then in brackets the ratio
on the other clock (CPU or wall) and the median of the runs' own ratios.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
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
sys.path.insert(0, str(ROOT / "bench"))

from schedsync.engine.adapters import django_celery_beat as dcb  # noqa: E402
from schedsync.engine.adapters import redbeat  # noqa: E402
from schedsync.engine.adapters.base import Operation, OpKind  # noqa: E402
from schedsync.engine.adapters.redbeat import RedBeatAdapter  # noqa: E402
from schedsync.engine.spec import Spec  # noqa: E402
from schedsync.schemas.config import CeleryBeatScheduler  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/2"
# --clock cpu: this process's CPU time, which other load on the machine disturbs less;
# it leaves out the time Redis / PostgreSQL spend serving the read (both sides wait).
# Both clocks are measured; this one leads the report.
CLOCK = "wall"
Timings = dict[str, dict[str, list[float]]]  # clock -> "ours" / "raw" -> seconds per run
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def make_repo(root: Path, count: int, store: str, url: str, prefix: str) -> list[Spec]:
    """A repository of ``count`` schedules on one celery-beat scheduler; its specs."""
    from _repo import write_repo
    from schedsync.engine.repository import load_repository

    write_repo(root, count)
    (root / "schedsync.yaml").write_text(
        "version: 1\nstate: .schedsync/state.db\nprojects:\n  bench:\n"
        "    timezone: Europe/Berlin\n    schedulers:\n      aps:\n"
        f"        type: celery-beat\n        store: {store}\n        url: {url}\n"
        f"        key_prefix: '{prefix}'\n        timezone: Europe/Berlin\n"
    )
    repo = load_repository(root)
    assert not repo.diagnostics.has_errors, repo.diagnostics.errors[:3]
    return [item.spec for item in repo.project("bench")]


def apply_with_state(root: Path) -> None:
    """Fill the store through ``apply_plan``, so the state file holds every base (as
    after a user's ``schedsync apply``: the plan compares three sides)."""
    from schedsync.engine.sync import apply_plan, make_plan
    from schedsync.engine.workspace import Workspace

    ws = Workspace.open(root)
    try:
        result = apply_plan(ws, make_plan(ws))
    finally:
        ws.close()
    assert result.ok, result.failed[:3]
    assert result.applied


def plan_times(root: Path, raw_read: Callable[[], Any], repeat: int) -> Timings:
    """(plan with no changes, load the repository + raw read), alternately."""
    from schedsync.engine.repository import load_repository
    from schedsync.engine.sync import make_plan
    from schedsync.engine.workspace import Workspace

    def plan() -> None:
        ws = Workspace.open(root)
        try:
            found = make_plan(ws)
        finally:
            ws.close()
        assert not found.has_changes, found.summary()

    def reference() -> None:
        load_repository(root)
        raw_read()

    return median_times(plan, reference, repeat, gc.collect)


def median_times(
    ours: Callable[[], Any], raw: Callable[[], Any], repeat: int, before: Callable[[], Any]
) -> Timings:
    """Wall and CPU seconds of ``ours`` and ``raw``, run alternately so that the
    machine's load (it is shared and noisy) weighs on both alike."""
    times: Timings = {clock: {"ours": [], "raw": []} for clock in ("wall", "cpu")}
    for _ in range(repeat):
        for label, action in (("ours", ours), ("raw", raw)):
            before()
            wall, cpu = time.perf_counter(), time.process_time()
            action()
            times["wall"][label].append(time.perf_counter() - wall)
            times["cpu"][label].append(time.process_time() - cpu)
    return times


def _pass() -> None:
    return None


def report(store: str, what: str, times: Timings) -> None:
    """Medians on the chosen clock and their ratio; then the ratio on the other clock,
    and the median of each run's own ratio (ours / the raw run right after it), which a
    change of the machine's load during the measurement disturbs less."""
    other = "wall" if CLOCK == "cpu" else "cpu"
    ours, raw = (statistics.median(times[CLOCK][side]) for side in ("ours", "raw"))
    other_ratio = (statistics.median(times[other]["ours"])
                   / statistics.median(times[other]["raw"]))
    paired = statistics.median(
        o / r for o, r in zip(times[CLOCK]["ours"], times[CLOCK]["raw"], strict=True))
    print(f"{store:<20} {what:<8} adapter {ours:7.3f} s   raw {raw:7.3f} s   "
          f"ratio {ours / raw:5.2f}x   ({other} {other_ratio:4.2f}x, paired {paired:4.2f}x)")


# -- RedBeat ---------------------------------------------------------------------------


def bench_redbeat(root: Path, count: int, repeat: int) -> None:
    prefix = f"schedsync-bench-{uuid.uuid4().hex[:8]}:"
    specs = make_repo(root, count, "redbeat", REDIS_URL, prefix)
    config = CeleryBeatScheduler(type="celery-beat", store="redbeat", url=REDIS_URL,
                                 key_prefix=prefix, timezone="Europe/Berlin")
    adapter = RedBeatAdapter(config, root, project="bench")
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
        report("redbeat", "apply", median_times(
            lambda: all(r.ok for r in adapter.apply(ops)), raw_write, repeat, clear))
        raw_write()
        assert len(adapter.list_entries()) == len(specs)
        report("redbeat", "list", median_times(adapter.list_entries, raw_read, repeat, _pass))
        report("redbeat", "list*", median_times(
            adapter.list_entries, lambda: packed_read(adapter), repeat, _pass))
        clear()
        assert all(r.ok for r in adapter.apply(ops))
        report("redbeat", "plan0", plan_times(root, raw_read, repeat))
        clear()
        apply_with_state(root)
        report("redbeat", "plan", plan_times(root, raw_read, repeat))
    finally:
        clear()
        client.close()
        adapter.close()


def packed_read(adapter: RedBeatAdapter) -> None:
    """The adapter's own read (ZRANGE + HMGET packed by hand), without the parsing."""
    members = adapter.redis.zrange(adapter.schedule_key, 0, -1, withscores=True)
    redbeat._hmget_each(adapter.redis, [member for member, _ in members], redbeat._FIELDS)


# -- django-celery-beat on PostgreSQL ---------------------------------------------------


def bench_django(root: Path, count: int, repeat: int) -> None:
    from django_db import migrate

    name = f"schedsync_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    try:
        migrate(url)
        _bench_django_db(root, url, make_repo(root, count, "django-celery-beat", url, ""),
                         repeat)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _bench_django_db(root: Path, url: str, specs: list[Spec], repeat: int) -> None:
    config = CeleryBeatScheduler(type="celery-beat", store="django-celery-beat", url=url)
    adapter = dcb.DjangoCeleryBeatAdapter(config, root, project="bench")
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
        report("django-celery-beat", "apply", median_times(
            lambda: all(r.ok for r in adapter.apply(ops)), raw_write, repeat, clear))
        assert len(adapter.list_entries()) == len(specs)
        report("django-celery-beat", "list", median_times(
            adapter.list_entries, raw_read, repeat, _pass))
        clear()
        assert all(r.ok for r in adapter.apply(ops))
        report("django-celery-beat", "plan0", plan_times(root, raw_read, repeat))
        clear()
        apply_with_state(root)
        report("django-celery-beat", "plan", plan_times(root, raw_read, repeat))
    finally:
        adapter.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--store", choices=["all", "redbeat", "django"], default="all")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall")
    options = parser.parse_args()
    global CLOCK
    CLOCK = options.clock
    print(f"{options.entries} entries, median of {options.repeat} runs, "
          f"{options.clock} clock")
    for store, bench in (("redbeat", bench_redbeat), ("django", bench_django)):
        if options.store in ("all", store):
            root = Path(tempfile.mkdtemp(prefix=f"bench-celery-{store}-"))
            try:
                bench(root, options.entries, options.repeat)
            finally:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

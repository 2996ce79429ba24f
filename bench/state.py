"""State store cost of a 10k-schedule apply, against raw SQL in the same run.

    .venv/bin/python bench/state.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

For SQLite (and PostgreSQL when given a server URL: a scratch database is created and
dropped), prints medians of: ``record_applied_many`` of 10k new bindings (creating their
schedule ids too) vs one raw ``executemany`` of the same binding rows into a bare table;
re-recording the same 10k (an apply that changed everything); ``bindings()`` read vs a raw
``SELECT`` of the same rows; one ``record_applied`` (the per-change durable write).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import orjson
import sqlalchemy as sa

from schedsync.engine.state import StateStore

N = 10_000
RUNS = 5
SPEC = {"task": "email.send_digest", "trigger_type": "cron", "enabled": True,
        "trigger": {"minute": "0", "hour": "9", "day_of_week": "*", "day_of_month": "*",
                    "month_of_year": "*"}, "args": [], "kwargs": {"locale": "en-US"},
        "timezone": "Europe/Berlin"}
RAW_TABLE = """CREATE TABLE raw_bindings (schedule_id VARCHAR(36), scheduler VARCHAR(200),
  entry_key VARCHAR(400), base_spec TEXT, managed BOOLEAN, applied_at VARCHAR(32),
  PRIMARY KEY (schedule_id, scheduler))"""


def median(fn: Callable[[], object], setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(RUNS):
        if setup is not None:
            setup()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def items(project: str) -> list[tuple[str, str, dict[str, object] | None]]:
    return [(f"email.s{i:05}", f"{project}.email.s{i:05}", {**SPEC, "name": f"s{i}"})
            for i in range(N)]


def raw_rows() -> list[dict[str, object]]:
    return [{"schedule_id": str(uuid.uuid4()), "scheduler": "aps", "entry_key": f"k{i}",
             "base_spec": orjson.dumps({**SPEC, "name": f"s{i}"}, option=orjson.OPT_SORT_KEYS)
             .decode(), "managed": True, "applied_at": "2026-01-01T00:00:00.000000Z"}
            for i in range(N)]


def run(label: str, location: str, raw_url: str) -> None:
    root = Path(tempfile.mkdtemp())
    store = StateStore.open(location, root)
    raw = sa.create_engine(raw_url)
    with raw.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS raw_bindings")
        conn.exec_driver_sql(RAW_TABLE)
    insert = sa.text("INSERT INTO raw_bindings VALUES (:schedule_id, :scheduler, :entry_key, "
                     ":base_spec, :managed, :applied_at)")
    rows = raw_rows()

    def raw_insert() -> None:
        with raw.begin() as conn:
            conn.exec_driver_sql("DELETE FROM raw_bindings")
            conn.execute(insert, rows)

    def raw_read() -> None:
        with raw.connect() as conn:
            list(conn.exec_driver_sql("SELECT * FROM raw_bindings"))

    projects = iter(range(RUNS * 2))
    fresh = {"name": ""}

    def new_project() -> None:
        fresh["name"] = f"p{next(projects)}"

    def first_apply() -> None:
        store.record_applied_many(fresh["name"], "aps", items(fresh["name"]))

    reference = median(raw_insert)
    first = median(first_apply, setup=new_project)
    again = median(lambda: store.record_applied_many("p0", "aps", items("p0")))
    read_ref = median(raw_read)
    read = median(lambda: store.bindings("p0", "aps"))
    single = median(lambda: store.record_applied("p0", "aps", "email.s00001", "k", SPEC))
    print(f"{label}: raw executemany of {N} rows {reference * 1e3:.0f} ms")
    print(f"  record_applied_many, {N} new     {first * 1e3:6.0f} ms  "
          f"{first / reference:5.2f}x raw")
    print(f"  record_applied_many, {N} again   {again * 1e3:6.0f} ms  "
          f"{again / reference:5.2f}x raw")
    print(f"  bindings() read of {N}           {read * 1e3:6.0f} ms  "
          f"{read / read_ref:5.2f}x raw SELECT ({read_ref * 1e3:.0f} ms)")
    print(f"  one record_applied                {single * 1e3:6.1f} ms")
    store.close()
    raw.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="server URL; a scratch database is made there")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    run("SQLite", str(folder / "state.db"), f"sqlite:///{folder / 'raw.db'}")
    if args.postgres:
        base = args.postgres.replace("postgresql://", "postgresql+psycopg://", 1)
        admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        name = f"schedsync_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.make_url(base).set(database=name).render_as_string(hide_password=False)
        try:
            run("PostgreSQL", url, url)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


if __name__ == "__main__":
    main()

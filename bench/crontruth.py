"""10,000 random cron specs: schedsync's fire times against the real engines.

Prints the agreement rate per engine (must be 100%; exit 1 otherwise) and, as
medians per spec, what schedsync's ``next_fire_times`` costs against driving the real
engine (the reference, measured in the same run), plus the cost of the validation
helpers (``dst_findings``, ``min_gap_seconds``) over all 10,000 triggers, cold.

    .venv/bin/python bench/crontruth.py [--specs N] [--seed S]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "crontruth"))

from crontruth_cases import FIRES, Case, cases
from crontruth_drivers import truth

from schedsync.engine.cron import dst_findings, min_gap_seconds, next_fire_times
from schedsync.engine.cron.fire import steady_or_none


def _compare(sample: list[Case]) -> dict[str, dict[str, list[float]]]:
    stats: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for case in sample:
        t0 = time.perf_counter()
        ours = next_fire_times("cron", case.trigger, case.tz, case.engine, case.start, FIRES)
        t1 = time.perf_counter()
        theirs = truth(case.engine, case.trigger, case.tz, case.start, FIRES)
        t2 = time.perf_counter()
        row = stats[case.engine]
        row["ours"].append(t1 - t0)
        row["engine"].append(t2 - t1)
        row["agree"].append(float(ours == theirs))
        steady = steady_or_none(case.trigger, case.tz, case.start, FIRES) is not None
        row["steady"].append(float(steady))
        if ours != theirs and len(row["shown"]) < 5:
            row["shown"].append(0.0)
            print(f"DISAGREE {case}\n  schedsync {ours}\n  engine    {theirs}")
    return stats


def _validation_cost(sample: list[Case]) -> tuple[float, float, int]:
    """Wall and CPU seconds for the validation helpers over every trigger, cold caches."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    wall, cpu, found = time.perf_counter(), time.process_time(), 0
    for case in sample:
        found += len(dst_findings(case.trigger, case.tz, case.engine, start))
        min_gap_seconds("cron", case.trigger, case.tz, case.engine)
    return time.perf_counter() - wall, time.process_time() - cpu, found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--specs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    sample = cases(args.seed, args.specs)
    began = time.perf_counter()
    stats = _compare(sample)
    ok = True
    print(f"{args.specs} specs, seed {args.seed}, {FIRES} fires each, "
          f"{time.perf_counter() - began:.1f} s")
    for engine, row in sorted(stats.items()):
        rate = 100 * statistics.fmean(row["agree"])
        ours = statistics.median(row["ours"]) * 1e6
        theirs = statistics.median(row["engine"]) * 1e6
        ok = ok and rate == 100.0
        print(
            f"{engine:12} agreement {rate:7.3f}% of {len(row['agree'])}  "
            f"median schedsync {ours:7.0f} us, engine {theirs:7.0f} us "
            f"(ratio {theirs / ours:5.1f}x)  answered from value sets: "
            f"{100 * statistics.fmean(row['steady']):.0f}%"
        )
    wall, cpu, found = _validation_cost(sample)
    print(
        f"dst_findings + min_gap_seconds for {len(sample)} distinct triggers (cold caches): "
        f"{wall:.2f} s wall, {cpu:.2f} s CPU, {found} DST findings"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

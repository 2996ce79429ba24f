"""Outage figures (issue 8): a PRIVATE Redis (RedBeat) and a PRIVATE PostgreSQL
(APScheduler SQLAlchemy store) killed in the middle of ``schedsync apply``.

The scenarios live in ``tests/reliability/outage_support.py``, shared with the short CI
tests (``tests/reliability/test_outage.py``). A service that cannot be started here is
reported as a failed figure with the reason (never silently skipped).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import outage_support as osup

from stress.figures import Figure

PART = "outage"
# (label, private service, store on it, schedules in a full / quick run)
Scenario = tuple[str, Callable[[], AbstractContextManager[Any]], Callable[[Any], osup.Store],
                 int, int]
SCENARIOS: tuple[Scenario, ...] = (
    ("Redis/RedBeat", osup.private_redis, osup.redbeat_store, 5000, 2000),
    ("PostgreSQL/APScheduler", osup.private_postgres, osup.apscheduler_pg_store, 5000, 2000),
)
ROUNDS = 3  # outages per store in a full run (one in a quick run)


def run(quick: bool) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="schedsync-outage-") as tmp:
        for label, service, make_store, full, small in SCENARIOS:
            results = []
            try:
                for _ in range(1 if quick else ROUNDS):
                    with service() as running:
                        results.append(osup.run_outage(Path(tmp), make_store(running),
                                                       small if quick else full))
            except osup.Unavailable as exc:
                print(f"outage: {label} skipped: {exc}", flush=True)
                figures.append(Figure(PART, f"{label}: private service", "unavailable",
                                      "started", False, str(exc)))
                continue
            figures += scenario_figures(label, results)
        figures += mid_batch_figures(Path(tmp), 1 if quick else ROUNDS)
    return figures


def mid_batch_figures(tmp: Path, rounds: int) -> list[Figure]:
    """Redis killed inside a RedBeat update pipeline (not between two batches)."""
    label = "Redis/RedBeat, kill inside an update batch"
    results = []
    try:
        for _ in range(rounds):
            with osup.private_redis() as running:
                results.append(osup.redbeat_kill_inside_update_batch(tmp, running, 3000))
    except osup.Unavailable as exc:
        return [Figure(PART, f"{label}: private service", "unavailable", "started", False,
                       str(exc))]
    wrong = sum(len(r.wrong_reports) for r in results)
    split = ", ".join(
        f"{r.executed_at_kill} HSETs run; {len(r.report.applied)} reported applied, "
        f"{len(r.report.failed)} failed, {len(r.updated_live)} updated live"
        for r in results if r.report)
    converged = sum(1 for r in results if r.converged)
    return [
        Figure(PART, f"{label}: wrong report lines", str(wrong), "0", wrong == 0,
               split[:300]),
        Figure(PART, f"{label}: converged after restart", f"{converged}/{len(results)}",
               "all", converged == len(results)),
    ]


def scenario_figures(label: str, results: list[osup.OutageResult]) -> list[Figure]:
    def fig(name: str, value: object, target: str, met: bool, detail: str = "") -> Figure:
        return Figure(PART, f"{label}: {name}", str(value), target, met, detail)

    tracebacks = sum(len(r.tracebacks) for r in results)
    wrong = sum(len(r.wrong_reports) for r in results)
    non_503 = sum(len(r.non_503) for r in results)
    probes = sum(len(r.api_during_outage) for r in results)
    converged = sum(1 for r in results if r.converged)
    exits = [r.report.exit_code if r.report else None for r in results]
    split = ", ".join(
        f"{len(r.report.applied)} applied + {len(r.report.failed)} failed" if r.report else "-"
        for r in results)
    problems = [p for r in results for p in r.failures()]
    return [
        fig(f"outages mid-apply ({results[0].schedules} schedules each)", len(results),
            "hit the apply", all(r.report and r.report.failed and r.report.applied
                                 for r in results), split),
        fig("CLI exit code during the outage / tracebacks",
            f"{'/'.join(str(e) for e in exits)} / {tracebacks}", "1 / 0",
            tracebacks == 0 and all(e == 1 for e in exits),
            "; ".join(problems)[:300] if tracebacks else ""),
        fig("wrong report lines (vs live store after restart)", wrong, "0", wrong == 0,
            "; ".join(w for r in results for w in r.wrong_reports)[:300]),
        fig("non-503 answers to store-bound API requests", f"{non_503} of {probes}", "0",
            non_503 == 0, "; ".join(p for r in results for p in r.non_503)[:300]),
        fig("PATCH during the outage: commit kept, sync failed (SPEC 6)",
            " ".join(r.write_during_outage for r in results), "200 sync=failed",
            not any(r.wrong_write for r in results),
            "; ".join(w for r in results for w in r.wrong_write)[:300]),
        fig("schedule list reads answered during the outage",
            f"{sum(r.reads_during_outage for r in results)}/{len(results)}", "all",
            all(r.reads_during_outage for r in results)),
        fig("converged after restart (apply, then empty plan)",
            f"{converged}/{len(results)}", "all", converged == len(results)),
    ]

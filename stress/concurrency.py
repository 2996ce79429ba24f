"""Concurrency figures (issue 8): 16 API writers x 50 writes against a real
``schedsync serve`` process, and two ``schedsync apply`` runs at once on one project.

The scenarios and their checks live in ``tests/reliability/concurrency_support.py``,
shared with the short CI tests (``tests/reliability/test_concurrency.py``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import concurrency_support as cs

from stress.figures import Figure

PART = "concurrency"


def run(quick: bool) -> list[Figure]:
    writers, writes = (4, 10) if quick else (16, 50)
    apply_schedules = 1000 if quick else 5000
    with tempfile.TemporaryDirectory(prefix="schedsync-concurrency-") as tmp:
        check = cs.concurrent_writes(Path(tmp), writers, writes)
        figures = writer_figures(check, writers, writes, "")
        # Two server processes (replicas) on one checkout, state file and job store.
        replicas = cs.concurrent_writes(Path(tmp), writers // 2, writes // 2, servers=2)
        figures += writer_figures(replicas, writers // 2, writes // 2, "2 servers: ")
        for saved, wait in ((False, 0.0), (True, 0.0), (True, 120.0)):
            double = cs.two_applies(Path(tmp), apply_schedules, wait, saved)
            figures += apply_figures(double, saved, wait)
    return figures


def _figure(name: str, value: object, target: str, met: bool, detail: str = "") -> Figure:
    return Figure(PART, name, str(value), target, met, detail)


def writer_figures(check: cs.WriteCheck, writers: int, writes: int, label: str
                   ) -> list[Figure]:
    refused = ", ".join(f"{n} x {status}" for status, n in sorted(check.refused.items()))
    lost = len(check.lost)
    figures = [
        _figure(f"API writes attempted / succeeded ({writers} writers x {writes})",
                f"{check.attempted}/{check.succeeded}", "all succeed",
                check.succeeded == check.attempted == writers * writes,
                f"refused: {refused}" if refused else ""),
        _figure("lost updates (field != last acknowledged write)", lost, "0", lost == 0,
                "; ".join(check.lost[:3])),
        _figure("acknowledged writes committed out of order", check.order_violations, "0",
                check.order_violations == 0),
        _figure("commits / successful writes", f"{check.new_commits}/{check.succeeded}",
                "equal, one distinct commit each",
                check.new_commits == check.succeeded and not (
                    check.commitless or check.unknown_commits or check.shared_commits
                    or check.nonlinear)),
        _figure("validation errors after the run", check.validation_errors, "0",
                check.validation_errors == 0 and check.validate_exit == 0),
        _figure("state integrity problems + live/YAML mismatches",
                len(check.integrity_problems) + len(check.live_mismatch), "0",
                not check.integrity_problems and not check.live_mismatch,
                "; ".join((check.integrity_problems + check.live_mismatch)[:3])),
        _figure("plan after the run (live store = repository)",
                "no changes" if check.plan_exit == 0 else f"exit {check.plan_exit}",
                "no changes", check.plan_exit == 0),
        _figure("live applies failed / 5xx / server tracebacks / unaudited",
                f"{check.sync_failed}/{check.server_errors}/{check.server_tracebacks}/"
                f"{check.audit_missing}", "0/0/0/0",
                not (check.sync_failed or check.server_errors or check.server_tracebacks
                     or check.audit_missing)),
        _figure("throughput of successful writes", f"{check.throughput:.1f}/s",
                "reported", True, f"{check.succeeded} in {check.seconds:.1f} s"),
    ]
    return [Figure(f.part, label + f.name, f.value, f.target, f.met, f.detail)
            for f in figures]


def apply_figures(double: cs.DoubleApply, saved: bool, wait: float) -> list[Figure]:
    how = f"{'one saved plan' if saved else 'fresh plans'}, --wait {wait:g}"
    outcomes = " + ".join(run.outcome for run in double.runs)
    problems = double.failures()
    return [
        _figure(f"two applies at once ({how}): outcome", "ok" if not problems else "FAIL",
                "one applies, one waits or is refused clearly", not problems,
                outcomes if not problems else "; ".join(problems)[:300]),
        _figure(f"two applies at once ({how}): live rows / schedules",
                f"{double.live}/{double.schedules}", "equal, nothing applied twice",
                double.live == double.schedules and not double.applied_twice),
    ]

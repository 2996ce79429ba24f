"""The user's side of the demo: a real APScheduler process with schedsync's integration.

This is what a user's own scheduler process looks like: their job store, their
executors, and one ``install`` call that records every run into schedsync's state
and wakes the scheduler so applied changes take effect within seconds.

    python examples/apscheduler_app.py --repo examples/schedules --project acme --seconds 15
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler

from schedsync.integrations.apscheduler import install


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path("examples/schedules"))
    parser.add_argument("--project", default="acme")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    repo = args.repo.resolve()
    # The same job store schedsync applies to (schedsync.yaml: jobstore sqlalchemy).
    store = SQLAlchemyJobStore(url=f"sqlite:///{repo}/.schedsync/{args.project}-jobs.sqlite")
    scheduler = BackgroundScheduler(jobstores={"default": store}, timezone="UTC")
    install(scheduler, state=".schedsync/state.db", project=args.project, repo_root=repo)
    scheduler.start()
    try:
        time.sleep(args.seconds)
    finally:
        scheduler.shutdown(wait=True)


if __name__ == "__main__":
    main()

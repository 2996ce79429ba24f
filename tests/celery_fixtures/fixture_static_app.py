"""A Celery app with a static ``beat_schedule``, in every form Celery accepts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import Celery
from celery.schedules import crontab, schedule

app = Celery("fixture_static", broker="memory://", set_as_current=False)
app.conf.timezone = "Europe/Berlin"
app.conf.beat_schedule = {
    "seconds": {"task": "static.tick", "schedule": 30.0},
    "delta": {"task": "static.tick", "schedule": timedelta(hours=2), "args": [1, "two"]},
    "run-every": {
        "task": "static.tick",
        "schedule": schedule(run_every=timedelta(minutes=15)),
        "kwargs": {"locale": "en-US"},
        "options": {"queue": "slow", "priority": 5, "expires": 60},
    },
    "cron-text": {"task": "static.digest", "schedule": crontab(minute="0", hour="9",
                                                               day_of_week="mon-fri")},
    "cron-ints": {"task": "static.digest", "schedule": crontab(minute=30, hour=4)},
}


@app.on_after_configure.connect
def _periodic(sender: Any, **_: Any) -> None:
    sender.add_periodic_task(crontab(minute="*/10"), static_report.s(), name="added")


# shared=False: tests import copies of this module under several names, and a shared
# task would be added to every Celery app created afterwards, twice.
@app.task(name="static.report", shared=False)
def static_report() -> None:
    return None

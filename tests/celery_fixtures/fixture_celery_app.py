"""The Celery app the real-process tests run as ``celery -A fixture_celery_app``.

Everything comes from the environment so that each test gets its own queue, RedBeat key
prefix, database and state file. ``fixture.record`` appends what it ran with to a Redis
list the test reads; ``fixture.fail`` raises so that failed fires can be observed.
"""

from __future__ import annotations

import json
import os
from typing import Any

import redis
from celery import Celery

BROKER = os.environ.get("SCHEDSYNC_TEST_BROKER", "redis://127.0.0.1:6379/3")
RUNS_KEY = os.environ.get("SCHEDSYNC_TEST_RUNS", "schedsync-test:runs")

if os.environ.get("DJANGO_SETTINGS_MODULE"):
    import django

    django.setup()

app = Celery("fixture")
app.conf.update(
    broker_url=BROKER,
    result_backend=BROKER,
    redbeat_redis_url=os.environ.get("SCHEDSYNC_TEST_REDBEAT", "redis://127.0.0.1:6379/2"),
    redbeat_key_prefix=os.environ.get("SCHEDSYNC_TEST_PREFIX", "redbeat:"),
    beat_max_loop_interval=1,
    timezone="UTC",
    task_default_queue=os.environ.get("SCHEDSYNC_TEST_QUEUE", "celery"),
    broker_connection_retry_on_startup=True,
)

if os.environ.get("SCHEDSYNC_TEST_STATE"):
    from schedsync.integrations.celery import install

    install(
        app,
        state=os.environ["SCHEDSYNC_TEST_STATE"],
        repo_root=os.environ.get("SCHEDSYNC_TEST_ROOT"),
        project=os.environ.get("SCHEDSYNC_TEST_PROJECT"),
    )


@app.task(name="fixture.record", bind=True)
def record(self: Any, *args: Any, **kwargs: Any) -> str:
    client = redis.Redis.from_url(BROKER)
    run = {"id": self.request.id, "args": list(args), "kwargs": kwargs}
    client.rpush(RUNS_KEY, json.dumps(run))
    client.close()
    return str(self.request.id)


@app.task(name="fixture.fail")
def fail(*args: Any, **kwargs: Any) -> None:
    raise RuntimeError("fixture.fail always fails")

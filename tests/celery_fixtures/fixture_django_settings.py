"""Minimal Django settings: only django-celery-beat, the database from the environment.

``SCHEDSYNC_TEST_DB`` is a SQLite file path or a ``postgresql://`` URL.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

SECRET_KEY = "schedsync-tests-only"
USE_TZ = True
TIME_ZONE = "UTC"
CELERY_TIMEZONE = "UTC"
INSTALLED_APPS = ["django_celery_beat"]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"


def _database(location: str) -> dict[str, object]:
    if "://" not in location:
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": location}
    url = urlsplit(location)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": url.username or "postgres",
        "PASSWORD": url.password or "",
        "HOST": url.hostname or "127.0.0.1",
        "PORT": str(url.port or 5432),
    }


DATABASES = {"default": _database(os.environ.get("SCHEDSYNC_TEST_DB", "schedsync-test.sqlite"))}

"""Create django-celery-beat's real tables by running Django's migrations in a subprocess
(schedsync's own process never imports Django)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_MIGRATE = (
    "import django; django.setup(); "
    "from django.core.management import call_command; call_command('migrate', verbosity=0)"
)


def django_env(db: str) -> dict[str, str]:
    """Environment for a process that loads the fixture Django settings on ``db``."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "fixture_django_settings"
    env["SCHEDSYNC_TEST_DB"] = db
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def migrate(db: str) -> None:
    """``db``: a SQLite file path or a ``postgresql://`` URL (no SQLAlchemy driver part)."""
    subprocess.run([sys.executable, "-c", _MIGRATE], env=django_env(db), check=True,
                   timeout=120, capture_output=True)

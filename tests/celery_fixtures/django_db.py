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


PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def pg_admin(sql: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(sql))
    finally:
        admin.dispose()


def migrated_pg_template() -> str:
    """A PostgreSQL database with django-celery-beat's tables, to copy with TEMPLATE
    (a copy takes ~0.2 s, migrating ~3 s). The caller drops it."""
    import uuid

    name = f"schedsync_test_tpl_{uuid.uuid4().hex[:8]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    migrate(f"postgresql://postgres@127.0.0.1:5432/{name}")
    return name


def pg_copy(template: str) -> str:
    """A fresh copy of ``template``; returns its URL (no driver part)."""
    import uuid

    name = f"schedsync_test_{uuid.uuid4().hex[:10]}"
    pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def pg_drop(url_or_name: str) -> None:
    name = url_or_name.rsplit("/", 1)[-1]
    pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

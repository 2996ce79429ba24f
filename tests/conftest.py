"""Shared fixtures.

Services (PostgreSQL, Redis, RabbitMQ on 127.0.0.1) are used for real. A test that
needs one skips with the reason when it is absent, except under ``CI=true``, where an
absent service is a failure: CI must prove the integration, not skip it.

Redis db numbers are shared out so that test modules never see each other's keys:
1 APScheduler store, 2 RedBeat, 3 Celery broker/results, 4 server, 5 spare.
PostgreSQL databases are created per test session with the ``schedsync_test_`` prefix.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

SERVICES = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672}
# The Celery / Django fixture modules (``django_db``, the apps beat and workers load).
sys.path.insert(0, str(Path(__file__).parent / "celery_fixtures"))


def service_up(name: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", SERVICES[name]), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str) -> None:
    """Skip (or, under CI=true, fail) when ``name`` is not listening."""
    if service_up(name):
        return
    message = f"{name} is not listening on 127.0.0.1:{SERVICES[name]}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must run this test, not skip it")
    pytest.skip(message)


@contextlib.contextmanager
def scratch_postgres_database() -> Iterator[str]:
    """Create an empty PostgreSQL database; yields its name and drops it afterwards."""
    require_service("postgres")
    import uuid

    import sqlalchemy as sa

    name = f"schedsync_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(scope="session")
def django_pg_template() -> Iterator[str]:
    """A PostgreSQL database with django-celery-beat's tables, migrated once per session;
    tests take copies of it (``django_db.pg_copy``: ~0.2 s, a migration ~3 s)."""
    require_service("postgres")
    from django_db import migrated_pg_template, pg_drop

    template = migrated_pg_template()
    yield template
    pg_drop(template)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    with scratch_postgres_database() as name:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"

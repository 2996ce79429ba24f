"""The base spec as the state file keeps it: canonical text the planner compares as is."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import state_fixtures

from schedsync.engine.adapters.base import LiveEntry
from schedsync.engine.capabilities import capabilities_for
from schedsync.engine.plan import BaseRecord, plan_scheduler
from schedsync.engine.spec import make_spec, spec_bytes
from schedsync.engine.state import StateStore
from schedsync.engine.state.errors import StateError
from schedsync.schemas.config import CeleryBeatScheduler


def test_a_recorded_base_is_read_back_as_the_planners_canonical_bytes(tmp_path: Path) -> None:
    spec = make_spec(name="a", trigger_type="interval", trigger={"every": 5}, task="t",
                     args=["é", 1.25], kwargs={"b": 1, "a": None})
    with StateStore.open("state.db", tmp_path) as store:
        store.record_applied("acme", "aps", "a", "k", spec)
        binding = store.bindings("acme", "aps")["a"]
    assert binding.base_text.encode() == spec_bytes(spec)
    assert binding.base_spec == spec
    record = BaseRecord("a", binding.entry_key, binding.base_text, binding.managed)
    assert record.holds(spec_bytes(spec))
    assert record.spec == spec


def test_a_binding_as_read_is_the_planners_base(tmp_path: Path) -> None:
    """A plan takes the bindings as read: each decides like the BaseRecord of its text,
    in sync, edited live, edited in the repository and both."""
    spec = make_spec(name="a", trigger_type="interval", trigger={"every": 5}, task="t",
                     args=["é", 1.25], kwargs={"b": 1, "a": None})
    other = {**spec, "args": ["live"]}
    with StateStore.open("state.db", tmp_path) as store:
        store.record_applied("acme", "aps", "a", "a", spec, managed=False)
        bound = store.bindings("acme", "aps")
    binding = bound["a"]
    assert (binding.name, binding.entry_key, binding.managed) == ("a", "a", False)
    assert binding.holds(spec_bytes(spec))
    assert not binding.holds(spec_bytes(other))
    assert binding.spec == spec
    records = {"a": BaseRecord("a", "a", binding.base_text, False)}
    capabilities = capabilities_for(CeleryBeatScheduler(type="celery-beat", store="redbeat"))
    for desired, live in ((spec, spec), (spec, other), (other, spec), (other, {**other,
                          "queue": "q"})):
        plans = [plan_scheduler(project="acme", scheduler="aps", desired=[desired],
                                live=[LiveEntry("a", live)], base=base,
                                capabilities=capabilities)
                 for base in (bound, records)]
        assert plans[0] == plans[1]
        assert plans[0].changes[0].base == spec


pg_database = state_fixtures.pg_database  # registers the module-scoped fixture here


@pytest.fixture(params=["sqlite", "postgres"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return state_fixtures.pick_location(request, tmp_path)


def test_a_failing_bindings_read_is_a_state_error_not_a_driver_traceback(
    location: str, tmp_path: Path
) -> None:
    """The bindings' SELECT goes to the driver itself: its errors still reach the store's
    guard as SQLAlchemy's would (on PostgreSQL a psycopg error escaped as a traceback)."""
    with StateStore.open(location, tmp_path) as store:
        assert store.bindings("acme", "aps") == {}
        url = location if "://" in location else f"sqlite:///{location}"
        engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE schedsync_bindings RENAME TO schedsync_gone")
        try:
            with pytest.raises(StateError, match="schedsync_bindings"):
                store.bindings("acme", "aps")
        finally:
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE schedsync_gone RENAME TO schedsync_bindings")
            engine.dispose()

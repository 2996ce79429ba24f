"""The base spec as the state file keeps it: canonical text the planner compares as is."""

from __future__ import annotations

from pathlib import Path

from schedsync.engine.plan import BaseRecord
from schedsync.engine.spec import make_spec, spec_bytes
from schedsync.engine.state import StateStore


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

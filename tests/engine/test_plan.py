"""The pure planner: every classification from (desired, live, base)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from schedsync.engine.adapters.base import Capabilities, LiveEntry
from schedsync.engine.plan import (
    Action,
    BaseRecord,
    Direction,
    Origin,
    Plan,
    SchedulerPlan,
    plan_scheduler,
)
from schedsync.engine.spec import Spec, make_spec, spec_bytes
from schedsync.engine.state.coltypes import dump_json

APS = Capabilities(trigger_types=frozenset({"cron", "interval", "clocked"}),
                   cron_engine="apscheduler")
REDBEAT = Capabilities(trigger_types=frozenset({"cron", "interval"}), cron_engine="celery",
                       per_schedule_timezone=False, fixed_timezone="UTC",
                       fields=frozenset({"trigger_type", "trigger", "task", "args", "kwargs",
                                         "enabled", "queue", "priority", "expires"}))


def spec(name: str = "email.digest", **overrides: Any) -> Spec:
    values: dict[str, Any] = {
        "name": name, "trigger_type": "cron", "trigger": {"minute": "0", "hour": "9"},
        "task": "email.send", "kwargs": {"locale": "en-US"}, "timezone": "Europe/Berlin",
    }
    values.update(overrides)
    return make_spec(**values)


def plan(desired: list[Spec], live: list[LiveEntry], base: dict[str, BaseRecord] | None = None,
         caps: Capabilities = APS, **kwargs: Any) -> SchedulerPlan:
    return plan_scheduler(project="acme", scheduler="aps", desired=desired, live=live,
                          base=base or {}, capabilities=caps, **kwargs)


_base_form = {"text": False}


@pytest.fixture(autouse=True, params=[False, True], ids=["decoded-base", "text-base"])
def _base_as_text(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs twice: bases given decoded, and as the JSON text the state file
    keeps (compared as bytes, decoded only where needed)."""
    _base_form["text"] = request.param
    yield
    _base_form["text"] = False


def managed(s: Spec, key: str | None = None) -> BaseRecord:
    base = dump_json(s) if _base_form["text"] else s
    return BaseRecord(s["name"], key or s["name"], base, managed=True)


def only(p: SchedulerPlan) -> Any:
    assert len(p.changes) == 1, p.changes
    return p.changes[0]


def test_new_schedule_is_created_from_the_repo() -> None:
    change = only(plan([spec()], []))
    assert (change.action, change.origin, change.entry_key) == (Action.CREATE, Origin.REPO,
                                                                "email.digest")


def test_equal_sides_are_a_noop_without_field_changes() -> None:
    s = spec()
    change = only(plan([s], [LiveEntry("email.digest", s)], {"email.digest": managed(s)}))
    assert change.action is Action.NOOP
    assert not change.record_base
    assert change.fields == ()


def test_in_sync_without_base_is_recorded_not_reapplied() -> None:
    # A crash after the store committed but before the state recorded it.
    s = spec()
    change = only(plan([s], [LiveEntry("email.digest", s)]))
    assert change.action is Action.NOOP
    assert change.record_base


def test_repo_edit_is_an_update_from_the_repo_with_the_field_named() -> None:
    old, new = spec(), spec(trigger={"minute": "0", "hour": "10"})
    change = only(plan([new], [LiveEntry("email.digest", old)], {"email.digest": managed(old)}))
    assert (change.action, change.origin) == (Action.UPDATE, Origin.REPO)
    assert [(f.path, f.repo, f.live, f.base) for f in change.fields] == [
        ("trigger.hour", "10", "9", "9")]


def test_live_edit_is_drift_with_origin_live() -> None:
    s, drifted = spec(), spec(kwargs={"locale": "de-DE"})
    change = only(plan([s], [LiveEntry("email.digest", drifted)], {"email.digest": managed(s)}))
    assert (change.action, change.origin) == (Action.UPDATE, Origin.LIVE)
    assert change.fields[0].path == "kwargs.locale"


def test_edits_on_both_sides_are_a_conflict() -> None:
    base = spec()
    repo, live = spec(task="email.other"), spec(kwargs={"locale": "fr"})
    change = only(plan([repo], [LiveEntry("email.digest", live)], {"email.digest": managed(base)}))
    assert change.origin is Origin.BOTH
    assert {f.path for f in change.fields} == {"task", "kwargs.locale"}


def test_enabled_alone_becomes_enable_or_disable() -> None:
    on, off = spec(), spec(enabled=False)
    assert only(plan([off], [LiveEntry("email.digest", on)],
                     {"email.digest": managed(on)})).action is Action.DISABLE
    assert only(plan([on], [LiveEntry("email.digest", off)],
                     {"email.digest": managed(off)})).action is Action.ENABLE


def test_entry_deleted_in_the_scheduler_is_recreated_with_origin_live() -> None:
    s = spec()
    change = only(plan([s], [], {"email.digest": managed(s)}))
    assert (change.action, change.origin) == (Action.CREATE, Origin.LIVE)


def test_removed_schedule_is_deleted_only_with_prune() -> None:
    s = spec()
    without = plan([], [LiveEntry("email.digest", s)], {"email.digest": managed(s)})
    assert without.changes == ()
    assert "--prune" in without.skipped[0].reason
    pruned = plan([], [LiveEntry("email.digest", s)], {"email.digest": managed(s)}, prune=True)
    assert only(pruned).action is Action.DELETE


def test_prune_never_touches_entries_schedsync_does_not_manage() -> None:
    foreign = spec("legacy.job")
    p = plan([], [LiveEntry("legacy.job", foreign)], {}, prune=True)
    assert p.changes == ()
    assert p.skipped[0].reason.startswith("not managed")


def test_unreadable_live_entries_are_never_touched() -> None:
    broken = LiveEntry("email.digest", {}, problem="cannot import module 'gone'")
    change = only(plan([spec()], [broken], prune=True))
    assert change.action is Action.NOOP
    assert "cannot be read" in change.reason
    p = plan([], [LiveEntry("other", {}, problem="unknown trigger")], prune=True)
    assert p.changes == ()
    assert p.skipped[0].reason == "unknown trigger"


def test_rename_keeps_the_live_entry_and_its_key() -> None:
    old = spec("email.digest")
    new = spec("email.daily-digest")
    p = plan([new], [LiveEntry("email.digest", old)], {"email.digest": managed(old)},
             renamed_from={"email.daily-digest": "email.digest"}, prune=True)
    change = only(p)
    assert change.action is Action.UPDATE
    assert change.entry_key == "email.digest"
    assert change.renamed_from == "email.digest"


def test_fields_a_store_cannot_hold_are_never_differences() -> None:
    repo = spec(timezone="Europe/Berlin", description="daily digest")
    live = spec(timezone=None, description=None)
    change = only(plan([repo], [LiveEntry("email.digest", live)],
                       {"email.digest": managed(repo)}, caps=REDBEAT))
    assert change.action is Action.NOOP


def test_runtime_fields_never_count() -> None:
    s = spec()
    entry = LiveEntry("email.digest", s, last_run_at=None, total_run_count=41)
    assert only(plan([s], [entry], {"email.digest": managed(s)})).action is Action.NOOP


def test_equal_meaning_in_other_words_is_equal() -> None:
    words = spec(trigger={"minute": "0", "hour": "9", "day_of_week": "mon-fri"})
    numbers = spec(trigger={"minute": "0", "hour": "9", "day_of_week": "1-5"})
    assert only(plan([words], [LiveEntry("email.digest", numbers)],
                     {"email.digest": managed(numbers)})).action is Action.NOOP


@pytest.mark.parametrize("direction", list(Direction))
def test_scheduler_to_repo_imports_live_only_entries(direction: Direction) -> None:
    p = plan([], [LiveEntry("legacy.job", spec("legacy.job"))], direction=direction)
    if direction is Direction.SCHEDULER_TO_REPO:
        change = only(p)
        assert (change.action, change.origin) == (Action.CREATE, Origin.LIVE)
    else:
        assert p.changes == ()


def test_scheduler_to_repo_deletes_repo_only_entries_from_the_repo() -> None:
    s = spec()
    change = only(plan([s], [], {"email.digest": managed(s)},
                       direction=Direction.SCHEDULER_TO_REPO))
    assert change.action is Action.DELETE


def test_a_record_gone_from_repo_and_scheduler_is_dropped_as_state_cleanup() -> None:
    # A `--prune` apply killed after its live delete and before recording it.
    gone, kept = spec("email.gone"), spec()
    p = plan([kept], [LiveEntry("email.digest", kept)],
             {"email.gone": managed(gone), "email.digest": managed(kept)})
    cleanup = next(c for c in p.changes if c.name == "email.gone")
    assert (cleanup.action, cleanup.desired, cleanup.live) == (Action.NOOP, None, None)
    assert cleanup.record_base
    assert cleanup.is_cleanup
    assert cleanup in p.pending
    # It is not a schedule "in sync": the summary counts only the real one.
    assert Plan((p,)).summary()["no-op"] == 1
    assert not Plan((p,)).has_changes


def test_records_still_backed_by_a_live_entry_or_a_rename_are_not_cleanup() -> None:
    old, new = spec("email.digest"), spec("email.daily-digest")
    renamed = plan([new], [LiveEntry("email.digest", old)], {"email.digest": managed(old)},
                   renamed_from={"email.daily-digest": "email.digest"})
    assert not any(c.is_cleanup for c in renamed.changes)
    removed = plan([], [LiveEntry("email.digest", old)], {"email.digest": managed(old)})
    assert removed.changes == ()
    recreated = plan([old], [], {"email.digest": managed(old)})
    assert only(recreated).action is Action.CREATE


def test_the_state_files_text_is_the_planners_canonical_bytes() -> None:
    s = spec(args=[1.5, "naïve ☃", None], kwargs={"z": {"b": 1, "a": [True]}, "a": 0.1})
    assert dump_json(s).encode() == spec_bytes(s)
    assert BaseRecord("email.digest", "email.digest", dump_json(s), managed=True).holds(
        spec_bytes(s))


def test_a_base_text_in_other_bytes_is_still_recognised() -> None:
    # Written by another version (other key order, spacing): equal values still match.
    s = spec()
    record = BaseRecord("email.digest", "email.digest", json.dumps(s, indent=1),
                        managed=True)
    change = only(plan([s], [LiveEntry("email.digest", s)], {"email.digest": record}))
    assert change.action is Action.NOOP
    assert not change.record_base
    assert change.base == s


def test_a_base_text_older_than_desired_and_live_is_recorded_again() -> None:
    old, s = spec(trigger={"minute": "5", "hour": "9"}), spec()
    record = BaseRecord("email.digest", "email.digest", dump_json(old), managed=True)
    change = only(plan([s], [LiveEntry("email.digest", s)], {"email.digest": record}))
    assert change.action is Action.NOOP
    assert change.record_base
    assert change.base == old


def test_a_base_differing_only_in_fields_the_store_cannot_hold_is_current() -> None:
    repo = spec(description="daily digest")
    recorded = BaseRecord("email.digest", "email.digest",
                          dump_json(spec(description="digest", timezone="UTC")), managed=True)
    live = spec(timezone=None, description=None)
    change = only(plan([repo], [LiveEntry("email.digest", live)],
                       {"email.digest": recorded}, caps=REDBEAT))
    assert change.action is Action.NOOP
    assert not change.record_base


def test_a_live_entry_under_another_name_but_equal_fields_is_in_sync() -> None:
    # The name is not a compared field (a store may show the entry under its own key).
    s = spec()
    change = only(plan([s], [LiveEntry("email.digest", {**s, "name": "legacy-key"})],
                       {"email.digest": managed(s)}))
    assert change.action is Action.NOOP
    assert not change.record_base


@pytest.mark.parametrize("caps", [APS, REDBEAT], ids=["every-field", "redbeat"])
def test_the_inline_in_sync_row_is_what_classify_decides(caps: Capabilities) -> None:
    # plan_scheduler decides a bound, live, in-sync row inline (no call per schedule);
    # every other row goes through _classify. Both must give the very same Change.
    from schedsync.engine import plan as planner

    s = spec()
    variants = [
        spec(), spec(args=[1]), spec(args=[1.0]), spec(args=[True]), spec(enabled=False),
        spec(timezone="UTC"), spec(description="other"), {**s, "name": "legacy-key"},
    ]
    fields = planner.compare_fields(caps)
    for live in variants:
        for recorded in (s, spec(args=[1]), spec(timezone=None)):
            for is_managed in (True, False):
                text = dump_json(recorded) if _base_form["text"] else recorded
                record = BaseRecord("email.digest", "email.digest", text, managed=is_managed)
                entry = LiveEntry("email.digest", live)
                got = only(plan([s], [entry], {"email.digest": record}, caps=caps))
                want = planner._classify("acme", "aps", "email.digest", "email.digest", s,
                                         entry, record, fields,
                                         Direction.REPO_TO_SCHEDULER, None)
                assert got == want, (live, recorded, is_managed)

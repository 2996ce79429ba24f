"""The read-only beat_schedule store: a real Celery app's static schedule as specs."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from schedsync.engine.adapters.base import Operation, OpKind
from schedsync.engine.adapters.beat_schedule import BeatScheduleAdapter
from schedsync.engine.capabilities import capabilities_for
from schedsync.engine.diagnostics import Diagnostic, Severity
from schedsync.engine.errors import ConfigError, UnsupportedOperation
from schedsync.engine.plan import compare_fields
from schedsync.engine.repository import load_repository_from_files
from schedsync.engine.spec import make_spec
from schedsync.schemas.config import CeleryBeatScheduler

FIXTURES = Path(__file__).resolve().parents[1] / "celery_fixtures"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    # The app module sits in the repository root, as in a user's project.
    shutil.copy(FIXTURES / "fixture_static_app.py", tmp_path / "static_app_module.py")
    return tmp_path


def open_adapter(repo: Path, app: str = "static_app_module:app") -> BeatScheduleAdapter:
    config = CeleryBeatScheduler(type="celery-beat", store="beat-schedule", app=app)
    return BeatScheduleAdapter(config, repo)


def test_every_schedule_form_becomes_a_spec(repo: Path) -> None:
    live = {e.key: e for e in open_adapter(repo).list_entries()}
    assert {k: e.problem for k, e in live.items() if e.problem} == {}
    assert live["seconds"].spec == make_spec(
        name="seconds", trigger_type="interval", trigger={"every": 30, "period": "seconds"},
        task="static.tick")
    assert live["delta"].spec["trigger"] == {"every": 2, "period": "hours"}
    assert live["delta"].spec["args"] == [1, "two"]
    assert live["run-every"].spec == make_spec(
        name="run-every", trigger_type="interval", trigger={"every": 15, "period": "minutes"},
        task="static.tick", kwargs={"locale": "en-US"}, queue="slow", priority=5, expires=60)
    assert live["cron-text"].spec["trigger"]["day_of_week"] == "1-5"
    assert live["cron-text"].spec["trigger"]["hour"] == "9"
    assert live["cron-ints"].spec["trigger"]["minute"] == "30"
    assert live["cron-ints"].spec["trigger"]["hour"] == "4"
    # add_periodic_task entries are there once the app is configured.
    assert live["added"].spec["trigger"]["minute"] == "*/10"
    assert live["added"].spec["task"] == "static.report"


def test_capabilities_say_read_only_in_the_app_zone(repo: Path) -> None:
    caps = open_adapter(repo).capabilities
    assert caps.writable is False
    assert caps.fixed_timezone == "Europe/Berlin"
    assert caps.per_schedule_timezone is False


def test_every_write_is_refused_with_the_way_out(repo: Path) -> None:
    adapter = open_adapter(repo)
    spec = make_spec(name="x", trigger_type="interval", trigger={"every": 1}, task="t")
    attempts = [
        lambda: adapter.create("x", spec),
        lambda: adapter.update("x", spec),
        lambda: adapter.delete("x"),
        lambda: adapter.set_enabled("x", False),
        lambda: list(adapter.apply([Operation(OpKind.CREATE, "x", spec)])),
    ]
    for attempt in attempts:
        with pytest.raises(UnsupportedOperation, match="beat-schedule is read-only") as info:
            attempt()
        assert "redbeat or django-celery-beat" in str(info.value)
        assert "edit beat_schedule in code" in str(info.value)


@pytest.mark.parametrize(("app", "message"), [
    ("no_colon", "module:attribute"),
    ("missing_module_xyz:app", "cannot import"),
    ("static_app_module:nope", "no Celery app named 'nope'"),
])
def test_bad_app_references_are_config_errors(repo: Path, app: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_adapter(repo, app)


STATIC_CONFIG = """\
version: 1
projects:
  acme:
    timezone: UTC
    schedulers:
      static: {type: celery-beat, store: beat-schedule, app: "static_app_module:app"}
"""


def validate(schedule_tail: str) -> list[Diagnostic]:
    text = ("schedules:\n  - name: paused-job\n    scheduler: static\n    trigger_type: interval\n"
            "    trigger: {every: 30}\n    task: static.tick\n" + schedule_tail)
    files = {"schedsync.yaml": STATIC_CONFIG.encode(), "schedules/acme/jobs.yaml": text.encode()}
    return load_repository_from_files(files, today=date(2026, 6, 1)).diagnostics.items


def test_validation_refuses_a_disabled_schedule_a_static_schedule_cannot_hold() -> None:
    [found] = validate("    enabled: false\n")
    assert (found.severity, found.code, found.path, found.line) == (
        Severity.ERROR, "unsupported-by-store", "schedules[0].enabled", 2)
    assert found.message == (
        "scheduler 'static' (celery-beat (beat-schedule)) cannot hold a disabled schedule: "
        "every entry of a static beat_schedule runs")
    assert found.found == "enabled: false"
    assert found.fix.startswith("remove 'enabled: false'")


def test_a_description_stays_in_the_repository_and_is_never_a_difference(repo: Path) -> None:
    assert validate("    description: documented in the repository only\n") == []
    caps = open_adapter(repo).capabilities
    assert {"description", "enabled", "timezone"}.isdisjoint(compare_fields(caps))
    config = CeleryBeatScheduler(type="celery-beat", store="beat-schedule",
                                 app="static_app_module:app")
    assert caps.fields == capabilities_for(config).fields  # validation and adapter agree

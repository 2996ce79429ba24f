"""The example repository is the demo's default: it must validate cleanly, cover what the
docs promise, and its editor schema must be the one `schedsync schema` prints."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from click.testing import CliRunner

from schedsync.cli.main import cli
from schedsync.engine.repository import load_repository

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "schedules"
SCHEMA_LINE = "# yaml-language-server: $schema=../../schedule.schema.json"


def test_examples_validate_without_errors_or_warnings() -> None:
    repo = load_repository(EXAMPLES, use_cache=False)
    assert repo.diagnostics.items == []


def test_every_example_file_holds_valid_schedules_only() -> None:
    repo = load_repository(EXAMPLES, use_cache=False)
    files = sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.glob("schedules/*/*.y*ml"))
    loaded = {r.file for items in repo.schedules.values() for r in items}
    assert loaded == set(files)
    for name in files:
        text = (EXAMPLES / name).read_text()
        assert text.splitlines()[0] == SCHEMA_LINE, name
        assert text.count("- name:") == sum(
            1 for items in repo.schedules.values() for r in items if r.file == name)


def test_examples_cover_projects_schedulers_and_trigger_types() -> None:
    repo = load_repository(EXAMPLES, use_cache=False)
    assert repo.config is not None
    everything = [r for items in repo.schedules.values() for r in items]
    assert len(everything) >= 15
    assert len(repo.schedules) >= 2
    assert {r.schedule.trigger_type for r in everything} == {
        "cron", "interval", "clocked", "solar"}
    kinds = {
        repo.config.projects[r.project].schedulers[r.schedule.scheduler].type for r in everything
    }
    assert kinds == {"apscheduler", "celery-beat"}
    raw = (EXAMPLES / "schedules/acme/email.yaml").read_text()
    assert 'trigger: "30 8 * * mon"' in raw  # the cron string shorthand
    assert any(r.schedule.trigger_type == "interval" and r.spec["trigger"] == {
        "every": 5, "period": "seconds"} for r in everything)


def test_apscheduler_tasks_are_real_importable_functions() -> None:
    repo = load_repository(EXAMPLES, use_cache=False)
    assert repo.config is not None
    for items in repo.schedules.values():
        for r in items:
            if repo.config.projects[r.project].schedulers[r.schedule.scheduler].type != (
                "apscheduler"
            ):
                continue
            module, _, name = r.schedule.task.partition(":")
            function = getattr(importlib.import_module(module), name)
            result = function(**r.schedule.kwargs)
            assert result is not None


def test_apscheduler_stores_are_sqlite_files_under_dot_schedsync() -> None:
    repo = load_repository(EXAMPLES, use_cache=False)
    assert repo.config is not None
    for slug, project in repo.config.projects.items():
        url = project.schedulers["apscheduler"].url
        assert url == f"sqlite:///.schedsync/{slug}-jobs.sqlite"


def test_the_committed_editor_schema_is_current() -> None:
    result = CliRunner().invoke(cli, ["schema"])
    assert result.exit_code == 0
    committed = json.loads((EXAMPLES / "schedule.schema.json").read_text())
    assert committed == json.loads(result.output), "run: schedsync schema > " \
        "examples/schedules/schedule.schema.json"


def test_validate_command_on_examples_exits_0() -> None:
    result = CliRunner().invoke(cli, ["--repo", str(EXAMPLES), "validate", "--no-cache"])
    assert result.exit_code == 0
    assert result.output.startswith("valid: 0 errors, 0 warnings in 4 files (18 valid schedules)")

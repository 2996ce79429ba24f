"""`schedsync validate` and `schedsync schema` through click's runner and a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from schedsync.cli.main import cli

CONFIG = """\
version: 1
projects:
  acme:
    schedulers:
      aps: {type: apscheduler, url: "sqlite:///.schedsync/acme.sqlite"}
"""
GOOD = """\
schedules:
  - name: a
    scheduler: aps
    trigger_type: cron
    trigger: "0 9 * * *"
    task: app.run
"""
BAD = GOOD + """\
  - name: b
    scheduler: apx
    trigger_type: cron
    trigger: "0 9 * * 1,5"
    task: app.run
    tigger: x
"""


def repo(root: Path, schedules: str) -> Path:
    (root / "schedules/acme").mkdir(parents=True)
    (root / "schedsync.yaml").write_text(CONFIG)
    (root / "schedules/acme/jobs.yaml").write_text(schedules)
    return root


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_valid_repository_exits_0(tmp_path: Path) -> None:
    code, output = run("--repo", str(repo(tmp_path, GOOD)), "validate")
    assert code == 0
    assert output == "valid: 0 errors, 0 warnings in 2 files (1 valid schedule)\n"


def test_errors_exit_1_with_compiler_style_text(tmp_path: Path) -> None:
    code, output = run("--repo", str(repo(tmp_path, BAD)), "validate")
    assert code == 1
    assert output.splitlines()[:5] == [
        "schedules/acme/jobs.yaml:12:5: error[unknown-field]: unknown field 'tigger' in a "
        "schedule",
        "  at:       schedules[1].tigger",
        "  expected: one of: name, scheduler, trigger_type, trigger, task, args, kwargs, "
        "enabled, timezone, queue, priority, expires, description, renamed_from",
        "  found:    'tigger'",
        "  fix:      did you mean 'trigger'?",
    ]
    assert output.rstrip().endswith("invalid: 1 error, 0 warnings in 2 files (1 valid schedule)")
    assert "\x1b[" not in output  # not a terminal: no colour codes


def test_github_format_escapes_per_the_workflow_command_rules(tmp_path: Path) -> None:
    code, output = run("--repo", str(repo(tmp_path, BAD)), "validate", "--format", "github")
    assert code == 1
    first = output.splitlines()[0]
    assert first.startswith(
        "::error file=schedules/acme/jobs.yaml,line=12,col=5,"
        "title=unknown-field%3A schedules[1].tigger::unknown field 'tigger' in a schedule%0A"
    )
    assert first.endswith("%0Afix: did you mean 'trigger'?")


def test_github_paths_are_relative_to_the_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo(tmp_path / "sub", BAD)
    monkeypatch.chdir(tmp_path)
    code, output = run("--repo", "sub", "validate", "--format", "github")
    assert code == 1
    assert output.startswith("::error file=sub/schedules/acme/jobs.yaml,line=12,col=5,")


def test_json_format_is_a_versioned_object(tmp_path: Path) -> None:
    code, output = run("--repo", str(repo(tmp_path, BAD)), "validate", "--format", "json")
    assert code == 1
    data = json.loads(output)
    assert data["version"] == 1
    assert data["valid"] is False
    assert data["summary"] == {"errors": 1, "warnings": 0, "files": 2, "schedules": 1}
    [d] = data["diagnostics"]
    assert d == {
        "severity": "error", "code": "unknown-field", "file": "schedules/acme/jobs.yaml",
        "line": 12, "column": 5, "path": "schedules[1].tigger",
        "message": "unknown field 'tigger' in a schedule",
        "expected": d["expected"], "found": "'tigger'", "fix": "did you mean 'trigger'?",
    }


def test_unknown_scheduler_after_the_field_is_fixed(tmp_path: Path) -> None:
    code, output = run("--repo", str(repo(tmp_path, BAD.replace("    tigger: x\n", ""))),
                       "validate")
    assert code == 1
    assert output.startswith(
        "schedules/acme/jobs.yaml:8:16: error[unknown-scheduler]: project 'acme' has no "
        "scheduler 'apx'\n"
    )
    assert "  fix:      did you mean 'aps'?" in output


def test_missing_repository_is_one_sentence_not_a_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--repo", str(tmp_path / "nope"), "validate"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def test_cache_flag_and_default(tmp_path: Path) -> None:
    root = repo(tmp_path, GOOD)
    assert run("--repo", str(root), "validate", "--no-cache")[0] == 0
    assert not (root / ".schedsync").exists()
    assert run("--repo", str(root), "validate")[0] == 0
    assert (root / ".schedsync/cache/files").is_dir()


def test_schema_command_prints_the_editor_schema() -> None:
    code, output = run("schema")
    assert code == 0
    schema = json.loads(output)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schedules"]["items"] == {"$ref": "#/$defs/Schedule"}
    rules = schema["$defs"]["Schedule"]["allOf"]
    cron = next(r for r in rules if r["if"]["properties"]["trigger_type"]["const"] == "cron")
    assert cron["then"]["properties"]["trigger"]["anyOf"][0] == {"$ref": "#/$defs/CronTrigger"}
    solar = next(r for r in rules if r["if"]["properties"]["trigger_type"]["const"] == "solar")
    assert solar["then"]["properties"]["trigger"] == {"$ref": "#/$defs/SolarTrigger"}
    minute = schema["$defs"]["CronTrigger"]["properties"]["minute"]
    assert minute["type"] == ["string", "integer"]


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def test_real_process_exit_codes_and_output(tmp_path: Path) -> None:
    root = repo(tmp_path, BAD)
    done = subprocess.run([sys.executable, "-m", "schedsync", "--repo", str(root), "validate"],
                          capture_output=True, text=True, env=_env(), check=False, timeout=120)
    assert done.returncode == 1
    assert done.stdout.startswith("schedules/acme/jobs.yaml:12:5: error[unknown-field]")
    (root / "schedules/acme/jobs.yaml").write_text(GOOD)
    done = subprocess.run([sys.executable, "-m", "schedsync", "--repo", str(root), "validate"],
                          capture_output=True, text=True, env=_env(), check=False, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_real_process_missing_repository_exits_1(tmp_path: Path) -> None:
    missing = subprocess.run(
        [sys.executable, "-m", "schedsync", "--repo", str(tmp_path / "absent"), "validate"],
        capture_output=True, text=True, env=_env(), check=False, timeout=120)
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "does not exist" in missing.stderr


def test_help_imports_no_heavy_libraries() -> None:
    probe = (
        "import sys\n"
        "from schedsync.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('pydantic', 'deepdiff', 'git', 'starlette', 'ruamel',"
        " 'schedsync.engine.repository') if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    assert "validate" in done.stdout
    assert done.stdout.strip().endswith("HEAVY []")

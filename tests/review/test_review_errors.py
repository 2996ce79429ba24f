"""Invalid sides, unknown refs, no git, monorepos and pure file moves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from review_repo import CONFIG, ScheduleRepo

from schedsync.cli.main import main

GOOD = """\
schedules:
  - name: morning
    scheduler: celery-beat
    trigger_type: cron
    trigger: "0 9 * * *"
    task: ops.morning
"""
UNKNOWN_SCHEDULER = GOOD.replace("scheduler: celery-beat", "scheduler: celery-bet")
BROKEN_YAML = GOOD.replace('trigger: "0 9 * * *"', 'trigger: "0 9 * * *\n')


@pytest.fixture
def based(schedule_repo: ScheduleRepo) -> ScheduleRepo:
    schedule_repo.write("schedules/acme/ops.yaml", GOOD)
    schedule_repo.commit("base")
    return schedule_repo


def test_invalid_working_tree_reports_errors_with_lines_and_exits_1(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    based.write("schedules/acme/ops.yaml", UNKNOWN_SCHEDULER)

    text = based.diff(capsys, "--base", "main", "--detailed-exitcode")

    assert text.code == 1
    assert "schedules/acme/ops.yaml:3:16: error[" in text.out
    assert "'celery-bet'" in text.out
    assert "The head side has 1 error(s)" in text.out
    assert "morning" not in text.out.split("The head side")[1]  # no half-read diff

    github = based.diff(capsys, "--base", "main", "--format", "github")
    assert github.code == 1
    assert github.out.startswith("::error file=schedules/acme/ops.yaml,line=3,title=")

    markdown = based.diff(capsys, "--base", "main", "--format", "markdown")
    assert markdown.code == 1
    assert "🛑 **The head side has 1 error(s)**; fix them and push again." in markdown.out
    assert "| `schedules/acme/ops.yaml:3:16` |" in markdown.out

    doc = json.loads(based.diff(capsys, "--base", "main", "--format", "json").out)
    assert doc["ok"] is False
    assert [(e["file"], e["line"]) for e in doc["head"]["errors"]] == [
        ("schedules/acme/ops.yaml", 3)]
    assert doc["changes"] == []


def test_invalid_head_ref_exits_1_with_its_lines(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    based.branch("broken")
    based.write("schedules/acme/ops.yaml", BROKEN_YAML)
    based.commit("unterminated quote")
    based.checkout("main")

    result = based.diff(capsys, "--base", "main", "--head", "broken", "--format", "json")

    assert result.code == 1
    errors = json.loads(result.out)["head"]["errors"]
    assert errors[0]["file"] == "schedules/acme/ops.yaml"
    assert errors[0]["code"] == "syntax"
    assert errors[0]["line"] >= 5


def test_invalid_base_side_warns_and_diffs_what_it_can(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule_repo.write("schedules/acme/ops.yaml", BROKEN_YAML)
    schedule_repo.write("schedules/acme/other.yaml", GOOD.replace("morning", "evening"))
    schedule_repo.commit("a broken base")
    schedule_repo.write("schedules/acme/ops.yaml", GOOD)
    schedule_repo.write("schedules/acme/other.yaml", GOOD.replace("morning", "evening")
                        .replace('"0 9 * * *"', '"0 19 * * *"'))

    result = schedule_repo.diff(capsys, "--base", "main")

    assert result.code == 0
    assert "note: the base side (main) has 1 error(s); schedules in its broken parts cannot " \
        "be compared and show up as added" in result.out
    assert "+ acme/morning  [celery-beat]  added" in result.out
    assert "~ acme/evening  [celery-beat]  changed trigger.hour" in result.out


def test_unknown_ref_is_a_clear_error(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    result = based.diff(capsys, "--base", "origin/nope")

    assert result.code == 1
    assert "unknown git ref 'origin/nope'" in result.err
    assert "git fetch" in result.err


def test_outside_git_says_how_to_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "plain"
    (root / "schedules" / "acme").mkdir(parents=True)
    (root / "schedsync.yaml").write_text(CONFIG)
    (root / "schedules" / "acme" / "ops.yaml").write_text(GOOD)
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(root), "diff", "--base", "main"])

    assert exit_info.value.code == 1
    assert "is not inside a git repository" in capsys.readouterr().err


def test_schedule_repo_in_a_subfolder_annotates_paths_from_the_git_top(
    nested_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    nested_repo.write("schedules/acme/ops.yaml", GOOD)
    nested_repo.commit("base")
    nested_repo.write("schedules/acme/ops.yaml", GOOD.replace("0 9", "15 9"))

    result = nested_repo.diff(capsys, "--base", "main", "--format", "github")

    assert result.code == 0
    assert result.out.startswith(
        "::notice file=ops/schedules-repo/schedules/acme/ops.yaml,line=5,"
        "title=schedsync%3A changed::acme/morning: changed trigger.minute; runs At 09:15 "
        "(Europe/Berlin); next 7 days: 7 -> 7 runs (7 moved)"
    )


def test_moving_a_file_changes_no_schedule(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    based.move("schedules/acme/ops.yaml", "schedules/acme/morning.yaml")
    based.commit("one file per schedule")

    result = based.diff(capsys, "--base", "main~1", "--head", "main", "--detailed-exitcode")

    assert result.code == 0
    assert "No schedule changes." in result.out


def test_renamed_from_left_in_place_after_the_rename_is_no_change(
    based: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    renamed = GOOD.replace("name: morning", "name: dawn\n    renamed_from: morning")
    based.write("schedules/acme/ops.yaml", renamed)
    based.commit("rename")

    first = based.diff(capsys, "--base", "main~1", "--head", "main", "--format", "json")
    again = based.diff(capsys, "--base", "main", "--format", "json")

    renames = json.loads(first.out)["changes"]
    assert [(c["kind"], c["name"], c["renamed_from"]) for c in renames] == [
        ("renamed", "dawn", "morning")]
    assert renames[0]["timing"] is None  # fires exactly as before
    assert json.loads(again.out)["changes"] == []


def test_unset_environment_variables_do_not_stop_a_review(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SCHEDSYNC_REVIEW_TEST_URL", raising=False)
    schedule_repo.write("schedsync.yaml", CONFIG.replace(
        "url: redis://127.0.0.1:6379/5", "url: ${SCHEDSYNC_REVIEW_TEST_URL}"))
    schedule_repo.write("schedules/acme/ops.yaml", GOOD)
    schedule_repo.commit("base")
    schedule_repo.write("schedules/acme/ops.yaml", GOOD.replace("0 9", "0 10"))

    result = schedule_repo.diff(capsys, "--base", "main")

    assert result.code == 0
    assert "~ acme/morning  [celery-beat]  changed trigger.hour" in result.out
    assert "note: SCHEDSYNC_REVIEW_TEST_URL not set here; the review does not need scheduler " \
        "URLs" in result.out


def test_a_base_without_schedsync_shows_every_schedule_as_new(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    (schedule_repo.root / "README.md").write_text("before schedsync\n")
    schedule_repo.git.index.add(["README.md"])
    schedule_repo.git.index.commit("no schedules yet")
    schedule_repo.write("schedules/acme/ops.yaml", GOOD)

    result = schedule_repo.diff(capsys, "--base", "main", "--detailed-exitcode")

    assert result.code == 2
    assert "+ acme/morning  [celery-beat]  added" in result.out
    assert "note: the base side (main) has no schedsync.yaml yet: every schedule is new" \
        in result.out


def test_a_review_writes_nothing(based: ScheduleRepo, capsys: pytest.CaptureFixture[str]) -> None:
    based.write("schedules/acme/ops.yaml", GOOD.replace("0 9", "0 10"))
    before = based.git.git.status("--porcelain", "--ignored")

    for fmt in ("text", "json", "markdown", "github"):
        assert based.diff(capsys, "--base", "main", "--format", fmt).code == 0

    assert based.git.git.status("--porcelain", "--ignored") == before
    assert not (based.root / ".schedsync").exists()

"""Every output format, and the limits of GitHub comments and annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from review_repo import ScheduleRepo


def _schedules(count: int, *, hour: int = 9, pad: str = "") -> str:
    # Minutes spread over the day so no minute is crowded (pile-ups are tested elsewhere).
    items = [
        f"  - name: job-{i:04d}{pad}\n    scheduler: celery-beat\n    trigger_type: cron\n"
        f"    trigger: \"{i % 60} {(hour + i // 60) % 24} * * *\"\n    task: ops.job_{i}\n"
        for i in range(count)
    ]
    return "schedules:\n" + "".join(items)


@pytest.fixture
def twelve_deleted_twelve_added(schedule_repo: ScheduleRepo) -> ScheduleRepo:
    schedule_repo.write("schedules/acme/old.yaml", _schedules(12))
    schedule_repo.commit("base")
    schedule_repo.remove("schedules/acme/old.yaml")
    schedule_repo.write("schedules/acme/new.yaml", _schedules(12, pad="-new"))
    return schedule_repo


def test_github_annotations_stop_at_10_per_type_the_rest_goes_to_the_step_summary(
    twelve_deleted_twelve_added: ScheduleRepo, capsys: pytest.CaptureFixture[str],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))

    result = twelve_deleted_twelve_added.diff(capsys, "--base", "main", "--format", "github")

    assert result.code == 0
    lines = result.out.splitlines()
    warnings = [line for line in lines if line.startswith("::warning ")]
    notices = [line for line in lines if line.startswith("::notice ")]
    assert len(warnings) == 10
    assert len(notices) == 10
    assert warnings[0].startswith("::warning file=schedules/acme/old.yaml,"
                                  "title=schedsync%3A Schedule deleted::acme/job-0000 ")
    assert warnings[0].endswith(" (was at line 2 in main)")
    assert lines[-1] == ("4 more annotation(s) over GitHub's limit of 10 per type are listed "
                         "in the step summary.")
    written = summary.read_text()
    assert written.startswith("earlier step\n<!-- schedsync-diff -->\n")  # appended
    assert "#### Not annotated (over GitHub's limit)" in written
    rest = written.split("#### Not annotated (over GitHub's limit)")[1]
    assert "(was at line 52 in main)" in rest  # job-0010 and job-0011
    assert "(was at line 57 in main)" in rest
    assert rest.count("- notice: ") == 2
    assert "<!-- schedsync-diff -->" not in result.out


def test_github_without_a_step_summary_prints_the_markdown(
    twelve_deleted_twelve_added: ScheduleRepo, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)

    result = twelve_deleted_twelve_added.diff(capsys, "--base", "main", "--format", "github")

    commands, _, markdown = result.out.partition("<!-- schedsync-diff -->\n")
    assert commands.count("::warning ") == 10
    assert markdown.startswith("### schedsync diff")


def test_a_huge_change_is_cut_under_githubs_comment_limit_with_a_pointer_to_json(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule_repo.write("schedules/acme/keep.yaml", _schedules(1))
    schedule_repo.commit("base")
    padding = "-with-a-long-descriptive-name-for-padding"
    schedule_repo.write("schedules/acme/big.yaml", _schedules(1200, hour=0, pad=padding))

    result = schedule_repo.diff(capsys, "--base", "main", "--format", "markdown")

    out = result.out
    assert len(out) < 65_536
    assert out.startswith("<!-- schedsync-diff -->\n")
    assert "**1200 schedules change (1200 added)**" in out
    assert "| `+` | `acme/job-0000" + padding + "` | added | At 00:00 (Europe/Berlin) |" in out
    assert out.rstrip().endswith(
        "not shown. The full review: `schedsync diff --base main --format json`")
    # The JSON output is the untruncated review.
    full = json.loads(schedule_repo.diff(capsys, "--base", "main", "--format", "json").out)
    assert full["summary"]["added"] == 1200
    assert len(full["changes"]) == 1200


def test_markdown_without_changes_still_carries_the_marker(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule_repo.write("schedules/acme/keep.yaml", _schedules(2))
    schedule_repo.commit("base")

    out = schedule_repo.diff(capsys, "--base", "main", "--format", "markdown").out

    assert out.splitlines()[0] == "<!-- schedsync-diff -->"
    assert "**No schedule changes.**; nothing needs special attention." in out
    assert "| | schedule |" not in out


def test_json_is_versioned_and_complete(
    twelve_deleted_twelve_added: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(
        twelve_deleted_twelve_added.diff(capsys, "--base", "main", "--format", "json").out)

    assert doc["version"] == 1
    assert doc["ok"] is True
    assert doc["now"] == "2026-12-01T06:00:00+00:00"
    assert doc["base"]["ref"] == "main"
    assert doc["head"] == {"ref": "working tree", "commit": None, "errors": []}
    assert doc["summary"] == {"changes": 24, "added": 12, "removed": 12, "renamed": 0,
                              "changed": 0, "enabled": 0, "disabled": 0, "findings": 12}
    added = next(c for c in doc["changes"] if c["name"] == "job-0001-new")
    assert added["after"]["file"] == "schedules/acme/new.yaml"
    assert added["after"]["line"] == 7
    assert added["after"]["engine"] == "celery"
    assert added["timing"]["after"]["in_words"] == "At 09:01"
    assert added["timing"]["after"]["next"][0] == "2026-12-01T08:01:00+00:00"
    assert added["timing"]["after"]["runs_7d"] == 7


def test_text_lists_each_change_with_fields_and_fire_times(
    schedule_repo: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    schedule_repo.write("schedules/acme/ops.yaml", _schedules(1))
    schedule_repo.commit("base")
    schedule_repo.write("schedules/acme/ops.yaml", _schedules(1).replace(
        "task: ops.job_0", "task: ops.job_0\n    queue: slow\n    kwargs: {dry_run: true}"))

    out = schedule_repo.diff(capsys, "--base", "main").out

    assert out.splitlines()[1:5] == [
        "1 schedule changes (1 changed); nothing needs special attention.",
        "",
        "~ acme/job-0000  [celery-beat]  changed kwargs, queue  (schedules/acme/ops.yaml:8)",
        "    kwargs: {} -> {\"dry_run\":true}",
    ]
    assert "    queue: (unset) -> \"slow\"" in out
    assert "when:" not in out  # routing changes do not move fire times
    assert "\x1b[" not in out  # no colours when not on a terminal

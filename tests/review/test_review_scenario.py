"""The issue's "done when": move the digest 09:00 -> 10:00 Berlin, rename one, delete one.

A reviewer reading only the markdown must see what runs when, what is lost and what
needs attention.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from review_repo import ScheduleRepo

from schedsync.engine.state import StateStore

EMAIL = """\
schedules:
  - name: email.daily-digest
    scheduler: celery-beat
    trigger_type: cron
    trigger: {minute: "0", hour: "%s", day_of_week: "*"}
    task: email.send_daily_digest
    kwargs: {locale: en-US}
  - name: %s
    scheduler: celery-beat
    trigger_type: cron
    trigger: "0 8 * * mon"
    task: email.weekly_report
"""
BILLING = """\
schedules:
  - name: billing.invoice-reminders
    scheduler: celery-beat
    trigger_type: cron
    trigger: {minute: "30", hour: "7"}
    task: billing.send_reminders
"""


@pytest.fixture
def scenario(schedule_repo: ScheduleRepo) -> ScheduleRepo:
    schedule_repo.write("schedules/acme/email.yaml", EMAIL % ("9", "email.weekly-report"))
    schedule_repo.write("schedules/acme/billing.yaml", BILLING)
    schedule_repo.commit("base schedules")
    schedule_repo.branch("feature")
    schedule_repo.write(
        "schedules/acme/email.yaml",
        EMAIL % ("10", "email.monday-report\n    renamed_from: email.weekly-report"),
    )
    schedule_repo.remove("schedules/acme/billing.yaml")
    schedule_repo.commit("digest at 10, rename the weekly report, drop invoice reminders")
    # The live history the deletion ends, as the fire-recording integration stores it.
    with StateStore.open(".schedsync/state.db", schedule_repo.root) as store:
        for day in (28, 29, 30):
            store.record_fire("acme", "billing.invoice-reminders", task_id=f"t-{day}",
                              fired_at=datetime(2026, 11, day, 6, 30, tzinfo=UTC),
                              source="schedule", status="succeeded")
    return schedule_repo


def test_markdown_tells_what_runs_when_what_is_lost_and_what_needs_attention(
    scenario: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    result = scenario.diff(capsys, "--base", "main", "--format", "markdown")

    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "<!-- schedsync-diff -->"
    assert "**3 schedules change (1 removed, 1 renamed, 1 changed)**; 1 finding needs " \
        "attention." in lines
    # The summary table comes first: what runs when after the change, per schedule.
    table = lines.index("| | schedule | change | runs when (after the change) | next run | "
                        "next 7 days |")
    assert lines[table + 2:table + 5] == [
        "| `-` ⚠️ | `acme/billing.invoice-reminders` | **removed** | **no longer runs**; was "
        "At 07:30 (Europe/Berlin) | - | **7 runs lost** |",
        "| `~` | `acme/email.daily-digest` | changed trigger.hour | At 10:00 (Europe/Berlin) | "
        "Tue 2026-12-01 10:00 CET | 7 -> 7 runs (7 moved) |",
        "| `>` | `acme/email.monday-report` | renamed from email.weekly-report | At 08:00, only "
        "on Monday (Europe/Berlin) | Mon 2026-12-07 08:00 CET | unchanged |",
    ]
    # What needs attention: the deletion, on the base line, with the history it ends.
    attention = lines.index("#### Needs attention")
    assert table < attention
    deletion = lines[attention + 4]
    assert deletion.startswith(
        "| ⚠️ | `schedules/acme/billing.yaml:2 (base)` | **Schedule deleted**: "
        "acme/billing.invoice-reminders (task billing.send_reminders on celery-beat) is deleted"
    )
    assert "7 runs in the next 7 days are lost" in deletion
    assert "it ends a recorded history of 3 fires, the last at 2026-11-30 06:30 UTC " \
        "(succeeded)" in deletion
    # Details are collapsed, after the summary, with the before/after fire times.
    details = lines.index("<details><summary><code>~ acme/email.daily-digest</code>: "
                          "changed trigger.hour</summary>")
    assert attention < details
    assert "| `trigger.hour` | `\"9\"` | `\"10\"` |" in lines[details:]
    assert "**When:** At 09:00 (Europe/Berlin) → At 10:00 (Europe/Berlin)" in lines[details:]
    assert lines[lines.index("| next fires | before | after |", details) + 2:][:5] == [
        f"| {n} | {day} 2026-12-0{n} 09:00 CET | {day} 2026-12-0{n} 10:00 CET |"
        for n, day in enumerate(("Tue", "Wed", "Thu", "Fri", "Sat"), start=1)
    ]
    assert "**Fire history this ends:** 3 recorded fires; last:" in lines
    assert "- 2026-11-30 06:30 UTC, succeeded (schedule)" in lines
    assert lines.count("</details>") == 3


def test_head_ref_gives_the_same_review_as_the_checked_out_tree(
    scenario: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = scenario.diff(capsys, "--base", "main", "--format", "json")
    scenario.checkout("main")  # the working tree is now the base: --head reads git
    by_ref = scenario.diff(capsys, "--base", "main", "--head", "feature", "--format", "json")
    import json

    tree_doc, ref_doc = json.loads(tree.out), json.loads(by_ref.out)
    assert ref_doc["head"]["ref"] == "feature"
    assert ref_doc["head"]["commit"] == scenario.git.heads["feature"].commit.hexsha
    assert tree_doc["head"]["commit"] is None
    assert ref_doc["changes"] == tree_doc["changes"]
    assert [c["label"] for c in ref_doc["changes"]] == ["removed", "changed", "renamed"]


def test_detailed_exitcode_is_2_for_changes_and_0_without(
    scenario: ScheduleRepo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scenario.diff(capsys, "--base", "main", "--detailed-exitcode").code == 2
    same = scenario.diff(capsys, "--base", "feature", "--detailed-exitcode")
    assert same.code == 0
    assert "No schedule changes." in same.out

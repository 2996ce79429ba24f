"""Markdown budget and annotation escaping, on review values built directly."""

from __future__ import annotations

from datetime import UTC, datetime

from schedsync.engine.review.model import (
    Change,
    Entry,
    Finding,
    Kind,
    Level,
    Review,
    SideInfo,
)
from schedsync.engine.review.render_github import Annotation, split
from schedsync.engine.review.render_markdown import MARKER, render_markdown
from schedsync.engine.spec import make_spec

NOW = datetime(2026, 12, 1, 6, tzinfo=UTC)


def _entry(i: int) -> Entry:
    spec = make_spec(name=f"job-{i}", trigger_type="cron", trigger={"minute": "0"},
                     task="ops.job", timezone="UTC")
    return Entry("acme", f"job-{i}", "celery-beat", "celery", spec, None,
                 "schedules/acme/ops.yaml", 2 + 5 * i, i)


def _review(changes: int, findings: int) -> Review:
    review = Review(SideInfo("main", "a" * 40), SideInfo("working tree", None), NOW)
    review.changes = [Change(Kind.ADDED, "acme", f"job-{i}", None, _entry(i))
                      for i in range(changes)]
    review.findings = [
        Finding(Level.WARNING, "pile-up", "acme", f"job-{i}", "schedules/acme/ops.yaml",
                2 + 5 * i, "Fleet pile-up", "x" * 200)
        for i in range(findings)
    ]
    return review


def test_findings_take_at_most_half_the_room_and_the_table_the_rest() -> None:
    out = render_markdown(_review(300, 300), full_command="schedsync diff --base main "
                          "--format json", budget=20_000)

    assert len(out) < 20_000 + 300  # the budget plus the cut notice
    assert out.startswith(MARKER + "\n")
    lines = out.splitlines()
    table_rows = [line for line in lines if line.startswith("| `+`")]
    finding_rows = [line for line in lines if line.startswith("| ⚠️ |")]
    assert 0 < len(finding_rows) < 300
    assert len(table_rows) > 0
    assert lines.index("#### Needs attention") > lines.index(table_rows[-1])
    assert "<details>" not in out  # details go first
    assert lines[-1].endswith("The full review: `schedsync diff --base main --format json`")


def test_everything_fits_without_a_notice() -> None:
    out = render_markdown(_review(3, 1))

    assert "Cut to fit" not in out
    assert out.count("<details>") == 3


def test_annotations_escape_newlines_percent_colons_and_commas() -> None:
    note = Annotation(Level.WARNING, "schedules/a,b.yaml", 7, "schedsync: x", "50% done\nnext")

    assert note.command() == (
        "::warning file=schedules/a%2Cb.yaml,line=7,title=schedsync%3A x::50%25 done%0Anext")


def test_split_keeps_ten_per_type_most_severe_first() -> None:
    review = _review(15, 12)

    shown, rest = split(review)

    assert [a.level for a in shown] == [Level.WARNING] * 10 + [Level.NOTICE] * 10
    assert [a.level for a in rest] == [Level.WARNING] * 2 + [Level.NOTICE] * 5

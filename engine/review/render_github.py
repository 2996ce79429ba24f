"""GitHub Actions annotations within GitHub's limits, the rest in the step summary.

GitHub shows at most 10 annotations of each type (error, warning, notice) per step;
more are silently dropped. So the first 10 of each type become workflow commands and
the whole review (markdown) goes to ``$GITHUB_STEP_SUMMARY`` where nothing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from schedsync.engine.review.model import Change, Finding, Level, Review
from schedsync.engine.review.present import change_text, runs_text, when_text

PER_TYPE = 10


@dataclass(frozen=True, slots=True)
class Annotation:
    level: Level
    file: str
    line: int
    title: str
    message: str

    def command(self) -> str:
        props = f"file={_prop(self.file)}"
        if self.line:
            props += f",line={self.line}"
        return f"::{self.level.value} {props},title={_prop(self.title)}::{_data(self.message)}"


def _data(text: str) -> str:
    # GitHub's workflow-command escaping (actions/toolkit core/src/command.ts).
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def all_annotations(review: Review) -> list[Annotation]:
    """Every annotation the review has, most severe first."""
    out = [Annotation(Level.ERROR, d.file, d.line, f"schedsync: {d.code}",
                      d.message + (f"\nfix: {d.fix}" if d.fix else ""))
           for d in review.head_errors]
    out += [_finding(f, review.base.label) for f in review.findings]
    out += [_notice(c) for c in review.changes if c.after is not None]
    order = list(Level)
    return sorted(out, key=lambda a: order.index(a.level))


def _finding(f: Finding, base: str) -> Annotation:
    if f.side == "base":
        # The line exists only in the base version; in the pull request's files it would
        # point at whatever is there now. Annotate the file and say where it was.
        return Annotation(f.level, f.file, 0, f"schedsync: {f.title}",
                          f"{f.message} (was at line {f.line} in {base})")
    return Annotation(f.level, f.file, f.line, f"schedsync: {f.title}", f.message)


def _notice(change: Change) -> Annotation:
    after = change.after
    assert after is not None  # removals are warnings, not notices
    message = f"{change.key}: {change_text(change)}"
    if change.timing is not None:
        message += (f"; runs {when_text(after, change.timing.words_after)}; next 7 days: "
                    f"{runs_text(change.timing)}")
    return Annotation(Level.NOTICE, after.file, change.line, f"schedsync: {change.label}",
                      message)


def split(review: Review) -> tuple[list[Annotation], list[Annotation]]:
    """(annotations to emit, annotations over GitHub's per-type limit)."""
    shown: list[Annotation] = []
    rest: list[Annotation] = []
    counts = {level: 0 for level in Level}
    for note in all_annotations(review):
        counts[note.level] += 1
        (shown if counts[note.level] <= PER_TYPE else rest).append(note)
    return shown, rest


def render_github(review: Review, *, full_command: str | None = None) -> tuple[str, str]:
    """(workflow commands for stdout, markdown for the step summary)."""
    from schedsync.engine.review.render_markdown import render_markdown

    shown, rest = split(review)
    commands = [a.command() for a in shown]
    summary = render_markdown(review, full_command=full_command)
    if rest:
        commands.append(
            f"{len(rest)} more annotation(s) over GitHub's limit of {PER_TYPE} per type "
            "are listed in the step summary."
        )
        summary += "\n#### Not annotated (over GitHub's limit)\n\n"
        summary += "\n".join(f"- {a.level.value}: `{a.file}{f':{a.line}' if a.line else ''}` "
                             f"{a.message}"
                             for a in rest) + "\n"
    return "\n".join(commands) + "\n", summary

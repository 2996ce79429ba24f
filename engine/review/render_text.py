"""The review for a terminal: one block per changed schedule, then what needs attention."""

from __future__ import annotations

import click

from schedsync.engine.report import Summary
from schedsync.engine.report import render_text as render_diagnostics
from schedsync.engine.review.model import Change, Finding, Level, Review
from schedsync.engine.review.present import (
    SYMBOLS,
    attention_text,
    change_text,
    headline,
    next_rows,
    runs_text,
    side_text,
    value_text,
    when_text,
)

_COLOURS = {"+": "green", "-": "red", "~": "yellow", ">": "cyan"}
_LEVEL_COLOURS = {Level.ERROR: "red", Level.WARNING: "yellow", Level.NOTICE: "cyan"}


def render_text(review: Review) -> str:
    """Styled with click; the caller strips colours when the output is not a terminal."""
    title = (f"schedsync diff: {side_text(review.base.label, review.base.commit)} -> "
             f"{side_text(review.head.label, review.head.commit)}")
    if review.failed:
        errors = render_diagnostics(review.head_errors, Summary(0, 0)).rsplit("\n\n", 1)[0]
        return (f"{title}\n\n{errors}\n\n" + click.style(
            f"The head side has {len(review.head_errors)} error(s): fix them, then review "
            "the change again.", fg="red", bold=True) + "\n")
    lines = [click.style(title, bold=True),
             f"{headline(review)}; {attention_text(review)}.", ""]
    for change in review.changes:
        lines += _change(change)
    if review.findings:
        lines.append(click.style("Needs attention:", bold=True))
        lines += [_finding(f) for f in review.findings]
        lines.append("")
    lines += [f"note: {note}" for note in review.notes]
    return "\n".join(lines).rstrip("\n") + "\n"


def _change(change: Change) -> list[str]:
    symbol = SYMBOLS[change.label]
    where = change.where
    head = click.style(f"{symbol} {change.key}", fg=_COLOURS[symbol], bold=True)
    lines = [f"{head}  [{where.scheduler}]  {change_text(change)}  "
             f"({where.file}:{change.line})"]
    for f in change.fields:
        lines.append(f"    {f.path}: {value_text(f.before)} -> {value_text(f.after)}")
    timing = change.timing
    if timing is not None:
        old = when_text(change.before, timing.words_before)
        new = when_text(change.after, timing.words_after)
        lines.append(f"    when: {old} -> {new}" if change.before and change.after
                     else f"    when: {new if change.after else old}")
        rows = next_rows(timing)
        if rows:
            width = max(len(r[0]) for r in rows)
            lines.append(f"    next fires:  {'before':<{width}}   after")
            lines += [f"             {a:<{width}}   {b}" for a, b in rows]
        lines.append(f"    next 7 days: {runs_text(timing)}")
    if change.history is not None and change.history.last:
        last = change.history.last[0]
        lines.append(f"    history: {change.history.total_shown} recorded fires, last at "
                     f"{last.fired_at:%Y-%m-%d %H:%M} UTC ({last.status})")
    lines.append("")
    return lines


def _finding(f: Finding) -> str:
    where = f"{f.file}:{f.line}" + (" (base)" if f.side == "base" else "")
    level = click.style(f"{f.level.value}[{f.code}]", fg=_LEVEL_COLOURS[f.level], bold=True)
    return f"  {where}: {level}: {f.message}"

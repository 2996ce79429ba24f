"""The review as a pull-request comment.

Summary table first, then what needs attention, then one collapsed ``<details>`` per
schedule. GitHub refuses comments over 65,536 characters: when the review is longer,
details are dropped first, then table rows, and a pointer to the full JSON output is
added. ``MARKER`` lets CI find and update its one comment per pull request.
"""

from __future__ import annotations

from schedsync.engine.review.model import Change, Finding, Level, Review
from schedsync.engine.review.present import (
    SYMBOLS,
    attention_text,
    change_text,
    fire_text,
    headline,
    next_rows,
    runs_text,
    side_text,
    value_text,
    when_text,
)
from schedsync.engine.review.timing import words as trigger_words

MARKER = "<!-- schedsync-diff -->"
GITHUB_LIMIT = 65_536
# Room for the truncation notice and what CI wraps around the comment.
BUDGET = GITHUB_LIMIT - 2_000
# (section index, share of the remaining budget it may take; None: all of it)
_PRIORITY = ((1, 2), (0, None), (2, None))
Section = tuple[list[str], list[list[str]]]
_ICONS = {Level.ERROR: "🛑", Level.WARNING: "⚠️", Level.NOTICE: "💬"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def render_markdown(review: Review, *, full_command: str | None = None,
                    budget: int = BUDGET) -> str:
    """``full_command`` is what the truncation notice tells readers to run."""
    head = [MARKER, "### schedsync diff", "",
            f"{_code(side_text(review.base.label, review.base.commit))} → "
            f"{_code(side_text(review.head.label, review.head.commit))}", ""]
    if review.failed:
        return "\n".join(head + _errors(review)) + "\n"
    head += [f"**{headline(review)}**; {attention_text(review)}.", ""]
    sections = [_table(review), _attention(review), _details(review)]
    tail = [f"> {note}" for note in review.notes]
    return _fit(head, sections, tail, full_command, budget)


def _errors(review: Review) -> list[str]:
    errors = review.head_errors
    lines = [f"🛑 **The head side has {len(errors)} error(s)**; fix them and push again.", "",
             "| where | error | fix |", "|---|---|---|"]
    for d in errors:
        where = f"{d.file}:{d.line}:{d.column}" if d.line else d.file
        lines.append(f"| {_code(where)} | {_cell(d.message)} | {_cell(d.fix or '')} |")
    return lines


def _table(review: Review) -> Section:
    title = ["| | schedule | change | runs when (after the change) | next run | next 7 days |",
             "|---|---|---|---|---|---|"]
    flagged = {(f.project, f.name) for f in review.findings}
    return title, [[_row(change, (change.project, change.name) in flagged)]
                   for change in review.changes]


def _row(change: Change, flagged: bool) -> str:
    flag = " ⚠️" if flagged else ""
    timing = change.timing
    entry = change.after
    words = timing.words_after if timing else None
    if words is None and entry is not None:
        words = trigger_words(entry)
    when = when_text(entry, words) if entry else "**no longer runs**"
    if entry is None and change.before is not None:
        when += f"; was {when_text(change.before, trigger_words(change.before))}"
    upcoming = "-"
    if change.next_run is not None and entry is not None:
        upcoming = fire_text(change.next_run, entry.zone)
    runs = runs_text(timing)
    if change.after is None and timing is not None:
        runs = f"**{timing.runs_before} runs lost**"
    what = change_text(change)
    if change.after is None:
        what = f"**{what}**"
    return (f"| {_code(SYMBOLS[change.label])}{flag} | {_code(change.key)} | {_cell(what)} | "
            f"{_cell(when)} | {upcoming} | {runs} |")


def _attention(review: Review) -> Section:
    title = ["#### Needs attention", "", "| | where | finding |", "|---|---|---|"]
    return title, [[_finding_row(f)] for f in review.findings]


def _finding_row(f: Finding) -> str:
    where = f"{f.file}:{f.line}"
    if f.side == "base":
        where += " (base)"
    return f"| {_ICONS[f.level]} | {_code(where)} | **{_cell(f.title)}**: {_cell(f.message)} |"


def _details(review: Review) -> Section:
    return [], [_detail(c) for c in review.changes]


def _detail(change: Change) -> list[str]:
    where = change.where
    lines = [f"<details><summary><code>{SYMBOLS[change.label]} {change.key}</code>: "
             f"{_html(change_text(change))}</summary>", "",
             f"Scheduler `{where.scheduler}`, task `{where.spec.get('task')}`, "
             f"`{where.file}:{change.line}`", ""]
    if change.fields:
        lines += ["| field | before | after |", "|---|---|---|"]
        lines += [f"| `{f.path}` | {_code(value_text(f.before))} | {_code(value_text(f.after))} |"
                  for f in change.fields]
        lines.append("")
    timing = change.timing
    if timing is not None:
        old = when_text(change.before, timing.words_before)
        new = when_text(change.after, timing.words_after)
        lines += [f"**When:** {old} → {new}", ""]
        rows = next_rows(timing)
        if rows:
            lines += ["| next fires | before | after |", "|---|---|---|"]
            lines += [f"| {i} | {a} | {b} |" for i, (a, b) in enumerate(rows, start=1)]
            lines.append("")
        lines += [f"**Next 7 days:** {runs_text(timing)}", ""]
    history = change.history
    if history is not None and history.last:
        lines.append(f"**Fire history this ends:** {history.total_shown} recorded fires; last:")
        lines += [f"- {p.fired_at:%Y-%m-%d %H:%M} UTC, {p.status} ({p.source})"
                  for p in history.last]
        lines.append("")
    lines += ["</details>", ""]
    return lines


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(head: list[str], sections: list[Section], tail: list[str],
         full_command: str | None, budget: int) -> str:
    """Keep what fits: findings first (up to half), then table rows, then details.

    Sections are shown in their own order (table, findings, details); each keeps a
    prefix of its rows, so a cut table is still a table.
    """
    used = sum(len(line) + 1 for line in head + tail)
    kept = [0] * len(sections)
    dropped = 0
    for index, share in _PRIORITY:
        title, rows = sections[index]
        if not rows:
            continue
        limit = budget if share is None else used + (budget - used) // share
        cost = sum(len(line) + 1 for line in title) + 1
        for block in rows:
            size = sum(len(line) + 1 for line in block)
            if used + cost + size > min(limit, budget):
                break
            cost += size
            kept[index] += 1
        if kept[index]:
            used += cost
        dropped += len(rows) - kept[index]
    out = list(head)
    for (title, rows), count in zip(sections, kept, strict=True):
        if count:
            out += title + [line for block in rows[:count] for line in block] + [""]
    if dropped:
        command = full_command or "schedsync diff --base <ref> --format json"
        out += [f"> ✂️ Cut to fit a GitHub comment: {dropped} more rows and sections are "
                f"not shown. The full review: `{command}`", ""]
    return "\n".join(out + tail).rstrip("\n") + "\n"

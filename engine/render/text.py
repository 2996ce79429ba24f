"""The human view of a plan, Terraform-like: ``+`` create, ``~`` change, ``-`` delete."""

from __future__ import annotations

import click

from schedsync.engine.plan import Action, Change, Direction, Plan, SchedulerPlan
from schedsync.engine.render.common import (
    ORIGIN_WORDS,
    SYMBOLS,
    direction_note,
    headline,
    in_words,
    next_fires,
    summary_line,
    trigger_text,
    value_text,
)

_COLOURS = {"+": "green", "~": "yellow", "-": "red", " ": None}


def render_plan(plan: Plan, engines: dict[tuple[str, str], str], *, color: bool = True) -> str:
    """``engines`` maps (project, scheduler) to its cron engine for fire-time previews."""
    lines: list[str] = []
    for group in plan.groups:
        lines.extend(_group(group, engines.get((group.project, group.scheduler), "celery"), color))
    if not plan.has_changes:
        lines.append("No changes. The live schedulers match the repository.")
    lines.append(_style(summary_line(plan), bold=True, color=color))
    return "\n".join(lines)


def _group(group: SchedulerPlan, engine: str, color: bool) -> list[str]:
    changes = [c for c in group.changes if c.is_change]
    if not changes and not group.skipped:
        return []
    lines = [_style(f"{group.project} / {group.scheduler}", bold=True, color=color)
             + f"  ({direction_note(group.direction)})"]
    for change in changes:
        lines.extend(_change(change, group.direction, engine, color))
    for skipped in group.skipped:
        lines.append(f"  ? {skipped.name} [{skipped.entry_key}]: left alone, {skipped.reason}")
    lines.append("")
    return lines


def _change(change: Change, direction: Direction, engine: str, color: bool) -> list[str]:
    symbol = SYMBOLS[change.action]
    title = f"  {symbol} {change.name}"
    note = f"  # {headline(change)}"
    if change.action is not Action.CREATE:
        note += f" ({ORIGIN_WORDS[change.origin]})"
    if change.renamed_from:
        note += f", renamed from {change.renamed_from}"
    lines = [_style(title, fg=_COLOURS[symbol], color=color) + _style(note, dim=True, color=color)]
    target = change.desired if direction is Direction.REPO_TO_SCHEDULER else change.live
    if change.action in (Action.CREATE, Action.UPDATE) and target:
        words = in_words(target)
        lines.append(f"      {trigger_text(target)}" + (f"  ({words})" if words else "")
                     + f"  [{target.get('timezone') or 'UTC'}]")
        lines.append(f"      task {target.get('task')}")
        fires = next_fires(target, engine)
        if fires:
            lines.append(f"      next: {', '.join(fires)}")
    if change.action is not Action.CREATE:
        for fc in change.fields:
            old, new = (fc.live, fc.repo) if direction is Direction.REPO_TO_SCHEDULER else (
                fc.repo, fc.live)
            base = f"  (last applied: {value_text(fc.base)})" if change.base is not None else ""
            lines.append(f"      ~ {fc.path}: {value_text(old)} -> {value_text(new)}{base}")
    return lines


def _style(text: str, *, color: bool, fg: str | None = None, bold: bool = False,
           dim: bool = False) -> str:
    if not color:
        return text
    return click.style(text, fg=fg, bold=bold or None, dim=dim or None)

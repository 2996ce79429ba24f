"""Words every review view shares: times, runs, values and one-line summaries."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from schedsync.engine.review.model import Change, Entry, Kind, Review, Timing

SYMBOLS = {"added": "+", "removed": "-", "renamed": ">", "changed": "~", "enabled": "~",
           "disabled": "~"}


def value_text(value: object) -> str:
    if value is None:
        return "(unset)"
    return orjson.dumps(value).decode()


def fire_text(moment: datetime, zone: str) -> str:
    """``Tue 2026-12-01 10:00 CET``: the weekday helps a reviewer check day rules."""
    local = moment.astimezone(ZoneInfo(zone))
    fmt = "%a %Y-%m-%d %H:%M:%S %Z" if local.second else "%a %Y-%m-%d %H:%M %Z"
    return local.strftime(fmt)


def when_text(entry: Entry | None, words: str | None) -> str:
    """What a reader needs to know about when a schedule runs, in one phrase."""
    if entry is None:
        return "-"
    if not entry.spec.get("enabled"):
        return "disabled (never fires)"
    text = words or str(entry.spec.get("trigger_type"))
    if entry.spec.get("trigger_type") in ("cron", "solar"):
        text += f" ({entry.zone})"
    return text


def runs_text(timing: Timing | None) -> str:
    """``7 -> 7 runs (7 moved)``: the next-7-days effect of a change."""
    if timing is None:
        return "unchanged"
    plus = "+" if timing.capped else ""
    text = f"{timing.runs_before}{plus} -> {timing.runs_after}{plus} runs"
    moved = min(timing.gained, timing.lost)
    parts = []
    if moved:
        parts.append(f"{moved} moved")
    if timing.gained > moved:
        parts.append(f"{timing.gained - moved} gained")
    if timing.lost > moved:
        parts.append(f"{timing.lost - moved} lost")
    return f"{text} ({', '.join(parts)})" if parts else text


def change_text(change: Change) -> str:
    """``changed trigger.hour, kwargs`` / ``renamed from x`` / ``removed``."""
    paths = ", ".join(f.path for f in change.fields)
    label = change.label
    if change.kind is Kind.RENAMED:
        assert change.before is not None  # a rename has a base side
        text = f"renamed from {change.before.name}"
        return f"{text}; changed {paths}" if paths else text
    if change.kind is Kind.CHANGED and label != "changed":  # enabled / disabled
        others = ", ".join(f.path for f in change.fields if f.path != "enabled")
        return f"{label}; changed {others}" if others else label
    if change.kind is Kind.CHANGED:
        return f"changed {paths}"
    return label


def headline(review: Review) -> str:
    counts = {k: v for k, v in review.counts().items() if v}
    total = len(review.changes)
    if not total:
        return "No schedule changes."
    detail = ", ".join(f"{n} {label}" for label, n in counts.items())
    noun = "schedule changes" if total == 1 else "schedules change"
    return f"{total} {noun} ({detail})"


def attention_text(review: Review) -> str:
    n = len(review.findings)
    if not n:
        return "nothing needs special attention"
    return f"{n} finding{'s' if n != 1 else ''} need{'s' if n == 1 else ''} attention"


def side_text(label: str, commit: str | None) -> str:
    return f"{label} ({commit[:10]})" if commit else label


def next_rows(timing: Timing) -> list[tuple[str, str]]:
    """Pairs (before, after) of the next fire times, padded with '-'."""
    rows = []
    zb, za = timing.zone_before or "UTC", timing.zone_after or "UTC"
    for i in range(max(len(timing.next_before), len(timing.next_after))):
        old = fire_text(timing.next_before[i], zb) if i < len(timing.next_before) else "-"
        new = fire_text(timing.next_after[i], za) if i < len(timing.next_after) else "-"
        rows.append((old, new))
    return rows

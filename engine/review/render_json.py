"""The whole review as one versioned JSON object (the untruncated view)."""

from __future__ import annotations

from typing import Any

import orjson

from schedsync.engine.report import as_dict
from schedsync.engine.review.model import (
    Change,
    Entry,
    Finding,
    Kind,
    Review,
    SideInfo,
    Timing,
)

JSON_VERSION = 1


def _side(info: SideInfo) -> dict[str, Any]:
    return {"ref": info.label, "commit": info.commit,
            "errors": [as_dict(d) for d in info.diagnostics]}


def _entry(entry: Entry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {"scheduler": entry.scheduler, "engine": entry.engine, "file": entry.file,
            "line": entry.line, "spec": entry.spec}


def _timing(timing: Timing | None) -> dict[str, Any] | None:
    if timing is None:
        return None
    return {
        "before": {"zone": timing.zone_before, "in_words": timing.words_before,
                   "next": [t.isoformat() for t in timing.next_before],
                   "runs_7d": timing.runs_before},
        "after": {"zone": timing.zone_after, "in_words": timing.words_after,
                  "next": [t.isoformat() for t in timing.next_after],
                  "runs_7d": timing.runs_after},
        "gained_7d": timing.gained, "lost_7d": timing.lost, "capped": timing.capped,
    }


def _change(change: Change) -> dict[str, Any]:
    history = change.history
    return {
        "project": change.project, "name": change.name, "kind": change.kind.value,
        "label": change.label,
        "renamed_from": change.before.name
        if change.kind is Kind.RENAMED and change.before else None,
        "fields": [{"path": f.path, "before": f.before, "after": f.after} for f in change.fields],
        "before": _entry(change.before), "after": _entry(change.after),
        "timing": _timing(change.timing),
        "history": None if history is None else {
            "fires": history.total_shown,
            "last": [{"fired_at": f.fired_at.isoformat(), "status": f.status,
                      "source": f.source} for f in history.last],
        },
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {"level": f.level.value, "code": f.code, "project": f.project, "name": f.name,
            "file": f.file, "line": f.line, "side": f.side, "title": f.title,
            "message": f.message}


def review_dict(review: Review) -> dict[str, Any]:
    return {
        "version": JSON_VERSION,
        "ok": not review.failed,
        "base": _side(review.base),
        "head": _side(review.head),
        "now": review.now.isoformat(),
        "summary": {"changes": len(review.changes), **review.counts(),
                    "findings": len(review.findings)},
        "changes": [_change(c) for c in review.changes],
        "findings": [_finding(f) for f in review.findings],
        "notes": review.notes,
    }


def render_json(review: Review) -> str:
    return orjson.dumps(review_dict(review), option=orjson.OPT_INDENT_2).decode() + "\n"

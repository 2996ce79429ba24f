"""A plan as markdown (for a PR comment or a CD job summary)."""

from __future__ import annotations

from schedsync.engine.plan import Action, Direction, Plan
from schedsync.engine.render.common import (
    ORIGIN_WORDS,
    SYMBOLS,
    summary_line,
    trigger_text,
    value_text,
)


def render_plan_markdown(plan: Plan) -> str:
    lines = ["### schedsync plan", "", summary_line(plan), ""]
    changes = [c for c in plan.changes if c.is_change]
    if not changes:
        lines.append("No changes: the live schedulers match the repository.")
        return "\n".join(lines) + "\n"
    lines += ["| | schedule | scheduler | action | origin |", "|---|---|---|---|---|"]
    for c in changes:
        lines.append(
            f"| `{SYMBOLS[c.action]}` | `{c.project}/{c.name}` | {c.scheduler} | "
            f"{c.action.value} | {c.origin.value} |"
        )
    lines += ["", "<details><summary>Details</summary>", ""]
    for group in plan.groups:
        for c in (c for c in group.changes if c.is_change):
            target = c.desired if group.direction is Direction.REPO_TO_SCHEDULER else c.live
            lines.append(f"#### `{SYMBOLS[c.action]}` {c.project}/{c.name} ({c.action.value})")
            if c.action is not Action.CREATE:
                lines.append(f"- {ORIGIN_WORDS[c.origin]}")
            if target:
                lines.append(f"- `{trigger_text(target)}`, task `{target.get('task')}`")
            for fc in c.fields if c.action is not Action.CREATE else ():
                lines.append(
                    f"- `{fc.path}`: live `{value_text(fc.live)}` / repo `{value_text(fc.repo)}`"
                )
            lines.append("")
    lines.append("</details>")
    return "\n".join(lines) + "\n"

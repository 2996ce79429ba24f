"""``schedsync apply``: make the live schedulers match, from a fresh or saved plan."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from schedsync.cli._common import cron_engines, open_workspace, use_color

if TYPE_CHECKING:
    from collections.abc import Callable

    from schedsync.engine.sync import ApplyResult, Progress

_BAR_FROM = 50
_DONE = {"create": "created", "update": "updated", "delete": "deleted", "enable": "enabled",
         "disable": "disabled", "no-op": "recorded"}


@click.command("apply")
@click.argument("planfile", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--auto-approve", is_flag=True, help="Do not ask for confirmation.")
@click.option("--prune", is_flag=True, help="Also delete managed entries removed from the repo.")
@click.option("--project", help="Only this project (fresh plans).")
@click.option("--scheduler", help="Only this scheduler (fresh plans).")
@click.option("--wait", type=float, default=0.0, show_default=True,
              help="Seconds to wait for another apply's lock.")
@click.pass_context
def command(ctx: click.Context, planfile: Path | None, auto_approve: bool, prune: bool,
            project: str | None, scheduler: str | None, wait: float) -> None:
    """Apply a saved plan (as reviewed) or a fresh one (after confirmation)."""
    from schedsync.engine import planfile as planfiles
    from schedsync.engine.errors import FatalError
    from schedsync.engine.render.text import render_plan
    from schedsync.engine.sync import adopt_live_digests, apply_plan, make_plan

    with open_workspace(ctx) as ws:
        if planfile is not None:
            if prune or project or scheduler:
                raise FatalError("--prune/--project/--scheduler shape a fresh plan; a saved "
                                 "plan is applied exactly as it was made")
            plan = planfiles.load(planfile)
        else:
            plan = make_plan(ws, project=project, scheduler=scheduler, prune=prune)
            click.echo(render_plan(plan, cron_engines(ws, plan), color=use_color(ctx)))
            if not plan.has_changes and not any(g.pending for g in plan.groups):
                adopt_live_digests(ws, plan)  # entries in sync whose base has no digest
                return
            if plan.has_changes and not auto_approve:
                _confirm()
        # A fresh plan is checked like a saved one: if anything moved while the user
        # read it, nothing is applied.
        result = _run(lambda progress: apply_plan(ws, plan, saved=True, progress=progress,
                                                  lock_timeout=wait),
                      total=sum(len(g.pending) for g in plan.groups))
    _report(result)
    if not result.ok:
        ctx.exit(1)


def _confirm() -> None:
    from schedsync.engine.errors import FatalError

    if not sys.stdin.isatty():
        raise FatalError("apply needs confirmation: run it in a terminal, pass --auto-approve, "
                         "or apply a reviewed plan file (schedsync plan --out FILE)")
    if not click.confirm("\nApply these changes?", default=False):
        raise click.exceptions.Abort()


def _run(run: Callable[[Progress | None], ApplyResult], total: int) -> ApplyResult:
    if total < _BAR_FROM or not sys.stderr.isatty():
        return run(None)
    from rich.progress import Progress as Bar

    with Bar(transient=True) as bar:
        task = bar.add_task("Applying", total=total)
        return run(lambda done, _total: bar.update(task, completed=done))


def _report(result: ApplyResult) -> None:
    for change in result.applied:
        click.echo(f"  {_DONE[change.action.value]} {change.project}/{change.name} "
                   f"on {change.scheduler}")
    for change, error in result.failed:
        click.secho(f"  FAILED {change.action.value} {change.project}/{change.name} on "
                    f"{change.scheduler}: {error}", fg="red", err=True)
    click.echo(f"Apply complete: {len(result.applied)} applied, {len(result.failed)} failed"
               + (f", {result.recorded} already in sync recorded" if result.recorded else "")
               + ".")
    if result.failed:
        click.echo("Nothing is lost: run `schedsync apply` again once the cause is fixed; "
                   "what was applied is recorded and will not be repeated.", err=True)

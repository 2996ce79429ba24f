"""``schedsync resync``: reconcile in one direction."""

from __future__ import annotations

import click

from schedsync.cli._common import author, cron_engines, open_workspace, use_color


@click.command("resync")
@click.option("--project", required=True)
@click.option("--direction", required=True,
              type=click.Choice(["repo_to_scheduler", "scheduler_to_repo"]))
@click.option("--scheduler", help="Only this scheduler.")
@click.option("--prune", is_flag=True,
              help="Delete what exists on one side only (managed live entries only).")
@click.option("--dry-run", is_flag=True, help="Show the plan; change nothing.")
@click.pass_context
def command(ctx: click.Context, project: str, direction: str, scheduler: str | None,
            prune: bool, dry_run: bool) -> None:
    """Make one side match the other."""
    from schedsync.engine.plan import Direction
    from schedsync.engine.render.text import render_plan
    from schedsync.engine.resync import resync

    name, email = author()
    with open_workspace(ctx) as ws:
        result = resync(ws, project, direction=Direction(direction), scheduler=scheduler,
                        prune=prune, dry_run=dry_run, author_name=name, author_email=email)
        click.echo(render_plan(result.plan, cron_engines(ws, result.plan), color=use_color(ctx)))
    if dry_run:
        click.echo("Dry run: nothing was changed.")
        return
    for change, error in result.failed:
        click.secho(f"  FAILED {change.action.value} {change.name}: {error}", fg="red", err=True)
    click.echo(f"Resync complete: {len(result.applied)} applied, {len(result.failed)} failed"
               + (f"; commit {result.commit[:12]}" if result.commit else "") + ".")
    if result.failed:
        ctx.exit(1)

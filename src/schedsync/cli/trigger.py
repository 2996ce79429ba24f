"""``schedsync trigger P NAME``: run once now; prints the task id."""

from __future__ import annotations

import click

from schedsync.cli._common import open_workspace


@click.command("trigger")
@click.argument("project")
@click.argument("name")
@click.pass_context
def command(ctx: click.Context, project: str, name: str) -> None:
    """Run a schedule's task once now through its scheduler."""
    from schedsync.engine.trigger import trigger_now

    with open_workspace(ctx) as ws:
        fire = trigger_now(ws, project, name)
    click.echo(fire.task_id)

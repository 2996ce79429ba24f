"""``schedsync plan``: repository vs live; save with --out, apply later."""

from __future__ import annotations

from pathlib import Path

import click

from schedsync.cli._common import cron_engines, open_workspace, use_color


@click.command("plan")
@click.option("--project", help="Only this project.")
@click.option("--scheduler", help="Only this scheduler (of each selected project).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Save the plan as JSON for `schedsync apply FILE`.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True)
@click.option("--prune", is_flag=True, help="Plan deleting managed entries removed from the repo.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when there are changes.")
@click.pass_context
def command(ctx: click.Context, project: str | None, scheduler: str | None, out: Path | None,
            fmt: str, prune: bool, detailed_exitcode: bool) -> None:
    """Show what `apply` would change in the live schedulers."""
    from schedsync.engine import planfile
    from schedsync.engine.render.markdown import render_plan_markdown
    from schedsync.engine.render.text import render_plan
    from schedsync.engine.sync import make_plan

    with open_workspace(ctx) as ws:
        plan = make_plan(ws, project=project, scheduler=scheduler, prune=prune)
        if out is not None:
            planfile.save(plan, out)
        if fmt == "json":
            click.echo(planfile.dumps(plan).decode())
        elif fmt == "markdown":
            click.echo(render_plan_markdown(plan), nl=False)
        else:
            click.echo(render_plan(plan, cron_engines(ws, plan), color=use_color(ctx)))
            if out is not None:
                click.echo(f"\nSaved the plan to {out}. Apply exactly it with: "
                           f"schedsync apply {out}")
    if detailed_exitcode and plan.has_changes:
        ctx.exit(2)

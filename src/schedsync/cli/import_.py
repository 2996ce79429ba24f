"""``schedsync import``: live scheduler entries -> YAML, one commit."""

from __future__ import annotations

import click

from schedsync.cli._common import author, open_workspace


@click.command("import")
@click.option("--project", required=True, help="The project to import into.")
@click.option("--scheduler", help="Only this scheduler (default: all of the project's).")
@click.option("--overwrite", is_flag=True, help="Also overwrite schedules that differ.")
@click.option("--dry-run", is_flag=True, help="Show what would be written; write nothing.")
@click.pass_context
def command(ctx: click.Context, project: str, scheduler: str | None, overwrite: bool,
            dry_run: bool) -> None:
    """Write live entries into the repository (comments and layout kept)."""
    from schedsync.engine.resync import import_live

    name, email = author()
    with open_workspace(ctx) as ws:
        result = import_live(ws, project, scheduler=scheduler, overwrite=overwrite,
                             dry_run=dry_run, author_name=name, author_email=email)
    verb = "would import" if dry_run else "imported"
    for created in result.created:
        click.echo(f"  + {created}")
    for updated in result.updated:
        click.echo(f"  ~ {updated}")
    click.echo(f"{verb} {len(result.created)} new, {len(result.updated)} updated, "
               f"{result.unchanged} unchanged"
               + (f"; commit {result.commit[:12]}" if result.commit else "") + ".")

"""``schedsync fires P NAME``: fire history, newest first."""

from __future__ import annotations

from typing import Any

import click

from schedsync.cli._common import open_workspace


@click.command("fires")
@click.argument("project")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.pass_context
def command(ctx: click.Context, project: str, name: str, limit: int, fmt: str) -> None:
    """Show when a schedule ran, with task ids and outcomes."""
    import orjson

    from schedsync.engine.errors import NotFound

    with open_workspace(ctx) as ws:
        ws.project_config(project)
        if ws.repo.find(project, name) is None and name not in ws.state.schedule_records(project):
            raise NotFound(f"project {project!r} has no schedule {name!r}")
        fires, _ = ws.state.fires(project, name, limit=limit)
    rows = [_row(f) for f in fires]
    if fmt == "json":
        click.echo(orjson.dumps({"items": rows}, option=orjson.OPT_INDENT_2).decode())
        return
    if not rows:
        click.echo(f"{project}/{name} has no recorded fires yet.")
        return
    for row in rows:
        click.echo(f"{row['fired_at']}  {row['status']:<9}  {row['source']:<8}  "
                   f"{row['task_id']}" + (f"  {row['error']}" if row["error"] else ""))


def _row(fire: Any) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value is not None else None

    return {
        "id": str(fire.id),
        "fired_at": stamp(fire.fired_at),
        "task_id": fire.task_id,
        "status": fire.status,
        "source": fire.source,
        "finished_at": stamp(fire.finished_at),
        "error": fire.error,
    }

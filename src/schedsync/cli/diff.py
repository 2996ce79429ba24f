"""``schedsync diff --base REF``: what a git change does to the schedules.

Exit 0; 2 with ``--detailed-exitcode`` when schedules change; 1 when the head side is
invalid (its errors are reported with file and line). Touches no live scheduler.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime

import click

from schedsync.cli.main import repo_option

FORMATS = ("text", "json", "markdown", "github")


def _moment(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an RFC 3339 timestamp such as "
                                 "2026-12-01T08:00:00Z") from None
    if moment.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no UTC offset: add 'Z' or '+01:00'")
    # Fire times are computed for weeks, for rare crons years, after it: keep well clear
    # of the years datetime can hold (1..9999).
    if not 1970 <= moment.year <= 9000:
        raise click.BadParameter(f"{value!r} is not between the years 1970 and 9000")
    return moment


@click.command("diff")
@click.option("--base", required=True, metavar="REF",
              help="The git ref the change starts from, e.g. origin/main.")
@click.option("--head", metavar="REF", default=None,
              help="The git ref the change ends at (default: the working tree).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True,
              help="markdown for a PR comment, github for annotations, json for tools.")
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when schedules change.")
@click.option("--now", "now", metavar="TIMESTAMP", callback=_moment,
              help="Compute fire times from this moment (RFC 3339; default: now).")
@click.pass_context
def command(ctx: click.Context, base: str, head: str | None, fmt: str,
            detailed_exitcode: bool, now: datetime | None) -> None:
    """Review a git change: per schedule what changes, when it runs before and after,
    and what needs attention (deletions, DST, pile-ups, ...)."""
    from schedsync.cli._common import use_color
    from schedsync.engine.errors import FatalError
    from schedsync.engine.review import review_change
    from schedsync.engine.review.render import render

    try:
        review = review_change(repo_option(ctx), base, head, now=now)
    except FatalError as exc:
        # CI relies on this exit code. main() runs click with standalone_mode=False, where
        # an exit requested through the context is returned, not raised: exit here.
        click.secho(f"Error: {exc}", fg="red", err=True)
        sys.exit(exc.exit_code)
    output, summary = render(review, fmt, full_command=_json_command(base, head))
    click.echo(output, nl=False, color=use_color(ctx) if fmt == "text" else False)
    if summary:
        _write_step_summary(summary)
    # SystemExit, not ctx.exit: main() runs click with standalone_mode=False.
    if review.failed:
        sys.exit(1)
    if detailed_exitcode and review.has_changes:
        sys.exit(2)


def _json_command(base: str, head: str | None) -> str:
    return f"schedsync diff --base {base}" + (f" --head {head}" if head else "") + \
        " --format json"


def _write_step_summary(markdown: str) -> None:
    """GitHub's job summary file when running in Actions, else stdout."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if not path:
        click.echo(markdown, nl=False)
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(markdown)

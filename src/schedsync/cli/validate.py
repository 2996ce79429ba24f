"""``schedsync validate``: check every file; exit 0 when valid (warnings allowed), 1 on errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from schedsync.cli.main import repo_option


@click.command("validate")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for Actions.",
)
@click.option(
    "--no-cache", is_flag=True, help="Ignore and do not write the cache under .schedsync/cache/."
)
@click.pass_context
def command(ctx: click.Context, fmt: str, no_cache: bool) -> None:
    """Check every schedule file and schedsync.yaml; report every problem at once."""
    from schedsync.cli._common import use_color
    from schedsync.engine.config import find_repo_root
    from schedsync.engine.report import Summary, render
    from schedsync.engine.repository import load_repository

    root = find_repo_root(repo_option(ctx))
    repo = load_repository(root, use_cache=not no_cache)
    diagnostics = repo.diagnostics.sorted()
    summary = Summary(
        files=len(repo.file_hashes),
        schedules=sum(len(items) for items in repo.schedules.values()),
    )
    output = render(diagnostics, fmt, summary, file_prefix=_workspace_prefix(root))
    click.echo(output, color=use_color(ctx) if fmt == "text" else False)
    if repo.diagnostics.has_errors:
        # SystemExit, not ctx.exit: main() runs click with standalone_mode=False, where
        # click returns an Exit's code instead of exiting with it.
        sys.exit(1)


def _workspace_prefix(root: Path) -> str:
    """The repository folder relative to the current directory (GitHub's workspace),
    so annotations land on the right file when the repository is a subfolder."""
    try:
        relative = os.path.relpath(root, Path.cwd())
    except ValueError:  # another drive on Windows
        return ""
    if relative == "." or relative.startswith(".."):
        return ""
    return Path(relative).as_posix()

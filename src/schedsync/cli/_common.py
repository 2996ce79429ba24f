"""Helpers shared by the CLI commands that work on a live workspace."""

from __future__ import annotations

import contextlib
import getpass
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import click

from schedsync.cli.main import repo_option

if TYPE_CHECKING:
    from schedsync.engine.plan import Plan
    from schedsync.engine.workspace import Workspace


@contextlib.contextmanager
def open_workspace(ctx: click.Context) -> Iterator[Workspace]:
    from schedsync.engine.workspace import Workspace

    ws = Workspace.open(repo_option(ctx))
    try:
        yield ws
    finally:
        ws.close()


def use_color(ctx: click.Context) -> bool:
    setting = (ctx.find_root().obj or {}).get("color")
    if setting is False:
        return False
    return sys.stdout.isatty()


def cron_engines(ws: Workspace, plan: Plan) -> dict[tuple[str, str], str]:
    return {
        (g.project, g.scheduler): ws.adapter(g.project, g.scheduler).capabilities.cron_engine
        for g in plan.groups
    }


def author() -> tuple[str, str]:
    """Who a CLI commit is by: git's configured user, else the login name."""
    name = os.environ.get("GIT_AUTHOR_NAME")
    email = os.environ.get("GIT_AUTHOR_EMAIL")
    if name and email:
        return name, email
    try:
        import git

        reader = git.GitConfigParser(read_only=True)
        name = name or str(reader.get_value("user", "name", ""))
        email = email or str(reader.get_value("user", "email", ""))
    except Exception:  # noqa: BLE001 - no git config is fine: fall back to the login
        name, email = name or "", email or ""
    login = getpass.getuser()
    return name or login, email or f"{login}@localhost"

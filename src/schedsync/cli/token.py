"""``schedsync token create|revoke``: API users, their roles and tokens (SPEC 5, 6)."""

from __future__ import annotations

import click

from schedsync.cli.main import repo_option

_ROLES = ("viewer", "operator", "admin")
_MAX_NAME = 200


def _check_author_part(value: str, option: str) -> str:
    """The user's name and email become a git author ("Name <email>"): control
    characters and angle brackets would corrupt the commit header, so refuse them."""
    bad = sorted({c for c in value if c in "<>" or not c.isprintable()})
    if not value.strip() or bad or len(value) > _MAX_NAME:
        shown = ", ".join(repr(c) for c in bad) or "none"
        raise click.BadParameter(
            f"{value!r}: give 1-{_MAX_NAME} printable characters without '<' or '>' "
            f"(it becomes the git author of the user's writes); refused characters: {shown}",
            param_hint=option,
        )
    return value


@click.group("token")
def command() -> None:
    """Create or revoke API users' tokens."""


def _parse_roles(values: tuple[str, ...], projects: set[str]) -> dict[str, str]:
    roles: dict[str, str] = {}
    for value in values:
        project, sep, role = value.partition("=")
        if not sep or not project or role not in _ROLES:
            raise click.BadParameter(
                f"{value!r}: write PROJECT=ROLE with ROLE one of {', '.join(_ROLES)}, "
                "e.g. --role acme=operator",
                param_hint="--role",
            )
        if project not in projects:
            known = ", ".join(sorted(projects)) or "none"
            raise click.BadParameter(
                f"{value!r}: there is no project {project!r} in schedsync.yaml "
                f"(projects: {known})",
                param_hint="--role",
            )
        roles[project] = role
    return roles


@command.command("create")
@click.option("--user", "user", required=True, help="The user's name (also the git author).")
@click.option("--email", default=None, help="The user's email (the git author's email).")
@click.option("--admin", is_flag=True, help="Make the user a global admin (admin everywhere).")
@click.option("--role", "roles", multiple=True, metavar="PROJECT=ROLE",
              help="A role in a project: viewer, operator or admin (repeatable).")
@click.pass_context
def create(
    ctx: click.Context, user: str, email: str | None, admin: bool, roles: tuple[str, ...]
) -> None:
    """Create (or extend) a user and print a new API token on the last line.

    The token is shown once; only its hash is stored.
    """
    from schedsync.engine.workspace import Workspace

    _check_author_part(user, "--user")
    if email is not None:
        _check_author_part(email, "--email")
    ws = Workspace.open_config(repo_option(ctx))
    try:
        parsed = _parse_roles(roles, set(ws.config.projects))
        found = ws.state.upsert_user(user, email=email, admin=True if admin else None,
                                     roles=parsed)
        token = ws.state.create_token(user)
    finally:
        ws.close()
    granted = ", ".join(f"{p}={r}" for p, r in sorted(found.roles.items())) or "no project roles"
    kind = "global admin" if found.admin else granted
    click.echo(f"User {found.name!r} ({kind}). The token is shown once; keep it secret:", err=True)
    click.echo(token)


@command.command("revoke")
@click.option("--user", "user", required=True, help="The user whose tokens end.")
@click.pass_context
def revoke(ctx: click.Context, user: str) -> None:
    """End every token and browser session of a user."""
    from schedsync.engine.workspace import Workspace

    ws = Workspace.open_config(repo_option(ctx))
    try:
        ended = ws.state.revoke_tokens(user)
    finally:
        ws.close()
    click.echo(f"Revoked {ended} token(s) of {user!r}; their sessions ended too.")

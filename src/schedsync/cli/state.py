"""``schedsync state check|unlock``: is the state file sound, and break a stale apply lock.

After a crash (kill -9, a lost machine) an apply leaves its lock behind. The next apply
breaks it by itself when the holder has ended on this host or the lock is older than
its TTL; ``unlock`` is for the other cases, e.g. a holder on a host that is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from schedsync.cli.main import repo_option

if TYPE_CHECKING:
    from schedsync.engine.state import LockInfo, StateStore
    from schedsync.engine.workspace import Workspace


@click.group("state")
def command() -> None:
    """Check the state file, or break a stale apply lock."""


def _open_state(ctx: click.Context) -> tuple[Workspace, StateStore]:
    from schedsync.engine.workspace import Workspace

    # The state stands apart from the schedules: broken or missing schedule files must
    # not hide it, so only schedsync.yaml is read.
    ws = Workspace.open_config(repo_option(ctx))
    try:
        return ws, ws.state
    except BaseException:
        ws.close()
        raise


@command.command("check")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@click.pass_context
def check(ctx: click.Context, fmt: str) -> None:
    """Check the state file's integrity; exit 1 when a problem is found.

    A lock left by a crashed apply is reported but is no problem: the next apply
    breaks it.
    """
    from schedsync.engine.state import apply_lock, integrity
    from schedsync.engine.state.coltypes import utcnow

    ws, store = _open_state(ctx)
    try:
        problems = store.check_integrity()
        lock = store.lock_info()
        lock_text = (
            apply_lock.describe(lock, utcnow(), store.lock_ttl) if lock is not None else None
        )
    finally:
        ws.close()
    if fmt == "json":
        _echo_json({"state": store.where, "ok": not problems, "problems": problems,
                    "checked": list(integrity.CHECKS), "apply_lock": lock_text})
    else:
        _echo_text(store.where, problems, lock_text, integrity.CHECKS)
    if problems:
        ctx.exit(1)


def _echo_json(data: dict[str, Any]) -> None:
    import orjson

    click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _echo_text(
    where: str, problems: list[str], lock: str | None, checks: tuple[str, ...]
) -> None:
    if problems:
        click.echo(f"State {where}: {len(problems)} problem(s)")
        for problem in problems:
            click.echo(f"  - {problem}")
        click.echo("Restore the state file from a backup, or ask for help with this output.")
    else:
        click.echo(f"State {where}: OK")
        click.echo(f"  checked: {'; '.join(checks)}")
    click.echo(f"Apply lock: {lock}" if lock else "Apply lock: free")


@command.command("unlock")
@click.option("--force", is_flag=True,
              help="Break the lock without asking, even if its holder still runs here.")
@click.pass_context
def unlock(ctx: click.Context, force: bool) -> None:
    """Break the apply lock left by an apply that will not finish."""
    ws, store = _open_state(ctx)
    try:
        held = store.lock_info()
        if held is None:
            click.echo("The apply lock is free; nothing to do.")
            return
        _confirm(held, store, force)
        if store.lock_info() != held:
            raise _changed_hands()
        store.break_lock()
    finally:
        ws.close()
    click.echo(f"Broke the apply lock of {held.holder!r} (pid {held.pid} on {held.host}).")


def _confirm(held: LockInfo, store: StateStore, force: bool) -> None:
    from schedsync.engine.errors import FatalError, LockHeld
    from schedsync.engine.state import apply_lock
    from schedsync.engine.state.coltypes import utcnow

    now = utcnow()
    text = apply_lock.describe(held, now, store.lock_ttl)
    click.echo(f"The apply lock is {text}.")
    if force:
        return
    if apply_lock.holder_state(held, now, store.lock_ttl) is apply_lock.Holder.RUNNING:
        raise LockHeld(
            f"not breaking the apply lock: pid {held.pid} still runs on this host and two "
            "applies at once could write the same entries twice. Let it finish or stop it; "
            "pass --force only if you are sure it is stuck."
        )
    try:
        agreed = click.confirm("Break it? Make sure no apply is still running", default=False)
    except click.exceptions.Abort:  # no terminal and no answer on stdin
        raise FatalError(
            "not breaking the apply lock without a confirmation: answer y in a terminal, "
            "or pass --force."
        ) from None
    if not agreed:
        raise FatalError("the apply lock was left as it is.")


def _changed_hands() -> Exception:
    from schedsync.engine.errors import LockHeld

    return LockHeld(
        "the apply lock changed hands while you were asked; nothing was broken. "
        "Run `schedsync state unlock` again to see who holds it now."
    )

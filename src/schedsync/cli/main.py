"""The ``schedsync`` command: a click group whose subcommands load lazily.

``schedsync --help`` must stay fast, so no subcommand module (and none of pydantic,
deepdiff, GitPython or Starlette) is imported until that subcommand runs. Every user
error (``FatalError``) becomes a one-paragraph message and exit code 1 here, in one
place; ^C is 130; anything else is a bug: exit 3 with the traceback in a log file.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

import click

from schedsync import __version__

# command name -> (module under schedsync.cli, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("validate", "Check every schedule file; exit 1 on errors."),
    "plan": ("plan", "Show what apply would change in the live schedulers."),
    "apply": ("apply", "Make the live schedulers match the repository."),
    "diff": ("diff", "Review what a git change does to the schedules."),
    "import": ("import_", "Write live scheduler entries into the repository."),
    "resync": ("resync", "Reconcile the repository and a scheduler in one direction."),
    "trigger": ("trigger", "Run a schedule's task once now."),
    "fires": ("fires", "Show a schedule's fire history."),
    "serve": ("serve", "Run the REST Schedules API server."),
    "schema": ("schema", "Print the JSON Schema of schedule files."),
    "token": ("token", "Create or revoke API users' tokens."),
    "state": ("state", "Check the state file, or break a stale apply lock."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        if ctx.resilient_parsing or "--help" in sys.argv[1:2]:
            # Listing commands for --help must not import them.
            return click.Command(cmd_name, help=entry[1], short_help=entry[1])
        module = importlib.import_module(f"schedsync.cli.{entry[0]}")
        command: click.Command = module.command
        return command

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # A shell cannot pass a NUL byte, but a wrapper calling main(argv) can; every
        # path and name would then fail deep inside with "embedded null byte".
        for arg in args:
            if "\x00" in arg:
                raise click.UsageError(
                    f"the argument {arg!r} contains a NUL byte; remove it", ctx=ctx
                )
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        # The one place user errors become messages and exit codes (also under click's
        # test runner, which calls the group directly).
        from schedsync.engine.errors import FatalError

        try:
            return super().invoke(ctx)
        except FatalError as exc:
            click.secho(f"Error: {exc}", fg="red", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            # A file the user named cannot be read or written (missing folder, no
            # permission, disk full): their environment, not a bug in schedsync.
            click.secho(f"Error: {_os_error(exc)}", fg="red", err=True)
            ctx.exit(1)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The schedule repository (default: the nearest folder upwards holding schedsync.yaml).",
)
@click.option("--no-color", is_flag=True, help="Plain output without colours.")
@click.version_option(__version__, prog_name="schedsync")
@click.pass_context
def cli(ctx: click.Context, repo: Path | None, no_color: bool) -> None:
    """GitOps for periodic task schedules (Celery beat, APScheduler)."""
    ctx.obj = {"repo": repo, "color": False if no_color or os.environ.get("NO_COLOR") else None}


def main(argv: list[str] | None = None) -> None:
    try:
        code = cli.main(args=argv, prog_name="schedsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code if exc.exit_code != 1 else 2)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit codes
        sys.exit(_report(exc))
    # Without standalone mode click returns ctx.exit()'s code instead of exiting with it.
    if isinstance(code, int) and code:
        sys.exit(code)


def _report(exc: Exception) -> int:
    from schedsync.engine.errors import FatalError

    if isinstance(exc, FatalError):
        click.secho(f"Error: {exc}", fg="red", err=True)
        return exc.exit_code
    from schedsync.engine.redact import redact  # a bug's message may quote a URL

    log = Path(tempfile.gettempdir()) / "schedsync-crash.log"
    log.write_text(redact("".join(traceback.format_exception(exc))))
    click.secho(
        f"schedsync hit a bug ({type(exc).__name__}: {redact(str(exc))}). The traceback is "
        f"in {log}; please report it with that file.",
        fg="red",
        err=True,
    )
    return 3


def _os_error(exc: OSError) -> str:
    where = f"{exc.filename}: " if exc.filename is not None else ""
    what = exc.strerror or str(exc)
    return f"{where}{what}; check that the path exists and that you may read and write it"


def repo_option(ctx: click.Context) -> Path | None:
    """The ``--repo`` given to the group, for subcommands."""
    obj: dict[str, Any] = ctx.find_root().obj or {}
    repo: Path | None = obj.get("repo")
    return repo


if __name__ == "__main__":
    main()

"""``schedsync serve``: the REST Schedules API under uvicorn (uvloop + httptools)."""

from __future__ import annotations

import click

from schedsync.cli.main import repo_option


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535),
              help="Port to listen on.")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_context
def command(ctx: click.Context, host: str, port: int, log_level: str) -> None:
    """Run the REST Schedules API server (see docs/api.md)."""
    import uvicorn

    from schedsync.engine.config import find_repo_root
    from schedsync.server import create_app

    app = create_app(find_repo_root(repo_option(ctx)))
    uvicorn.run(app, host=host, port=port, loop="uvloop", http="httptools",
                log_level=log_level, server_header=False)

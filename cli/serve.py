"""``sigap serve``: the maps and the API (gunicorn; Flask's server only with --debug)."""

from __future__ import annotations

import click

from cli.context import CliContext, pass_cli


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(min=1),
    help="gunicorn worker processes (default: one per CPU core).",
)
@click.option(
    "--debug",
    is_flag=True,
    help="Run Flask's development server with the debugger instead of gunicorn (never in "
    "production).",
)
@pass_cli
def serve(obj: CliContext, host: str, port: int, workers: int | None, debug: bool) -> None:
    """Serve the maps and the API (gunicorn; the Flask dev server only with --debug)."""
    from web.server import run_server

    url = obj.url
    click.echo(f"SIGAP is serving at http://{host}:{port}/  (Ctrl+C stops it)")
    run_server(url, host=host, port=port, workers=workers, debug=debug)

"""The ``sigap`` command line: thin click commands over library functions, one module a group.

``sigap = "cli:main"`` in ``pyproject.toml``; ``python -m cli`` runs the same. This package
imports ``gis``, ``ingest``, ``services`` and ``web``; none of them imports it.
"""

from __future__ import annotations

import logging
import sys

import click

from cli import apikeys, collection, coverage, db, ingest, network, routing, serve, users
from cli.context import CliContext, SigapGroup

__all__ = ["main"]


@click.group(cls=SigapGroup)
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """SIGAP: public-service GIS. Load OSM data, route to services, serve maps."""
    from gis.settings import get_settings

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    ctx.obj = CliContext(settings=get_settings())


main.add_command(db.db)
main.add_command(ingest.ingest)
main.add_command(network.network)
main.add_command(routing.nearest)
main.add_command(routing.isochrone)
main.add_command(serve.serve)
main.add_command(coverage.coverage)
main.add_command(coverage.suggest)
main.add_command(users.user)
main.add_command(apikeys.apikey)
main.add_command(collection.collection)

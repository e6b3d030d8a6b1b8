"""What every ``sigap`` command shares: the settings, the database URL and error handling.

The root group reads the settings once and puts a :class:`CliContext` in click's context
object; commands take it with ``@pass_cli`` and ask it for the database URL, which is resolved
once (starting the local cluster if needed) on first use. Domain errors become one line,
``Error: ...``, and exit code 1, never a traceback.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import click

from gis.errors import SigapError
from gis.settings import Settings

logger = logging.getLogger(__name__)


def one_line(message: str) -> str:
    """``message`` on one line (line breaks become spaces)."""
    return " ".join(message.split())


@dataclass
class CliContext:
    """The state one ``sigap`` invocation shares between its group and its command."""

    settings: Settings
    _url: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """The database URL: ``DATABASE_URL``, else the local cluster's (started if needed)."""
        if self._url is None:
            from gis.db import database_url

            self._url = database_url(self.settings, start=True)
        return self._url


pass_cli = click.make_pass_decorator(CliContext)


def _database_unreachable(exc: BaseException) -> str | None:
    """The message for a failed database connection, or None if ``exc`` is something else."""
    import psycopg2
    import sqlalchemy.exc

    if isinstance(exc, sqlalchemy.exc.OperationalError):
        exc = exc.orig or exc
    if not isinstance(exc, psycopg2.OperationalError):
        return None
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"The database cannot be reached: {detail}"


class SigapGroup(click.Group):
    """A click group that turns domain errors into ``Error: ...`` and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; report a :class:`SigapError` or a lost database in one line."""
        try:
            return super().invoke(ctx)
        except SigapError as exc:
            raise click.ClickException(one_line(exc.message)) from exc
        except Exception as exc:
            message = _database_unreachable(exc)
            if message is None:
                raise
            logger.debug("database error", exc_info=True)
            raise click.ClickException(one_line(message)) from exc


def echo_json(data: Any) -> None:
    """Print ``data`` as one line of JSON (UTF-8 text as it is)."""
    click.echo(json.dumps(data, ensure_ascii=False))


#: Progress bars: on a terminal unless told otherwise.
progress_option = click.option(
    "--progress/--no-progress",
    default=None,
    help="Show progress bars (default: only on a terminal).",
)

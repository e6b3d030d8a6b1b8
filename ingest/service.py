"""The ingest service: load rows of registry layers, then keep the routing network current.

Every loader (OSM extracts, :mod:`ingest.osm`; a city's files, road inspections, population
joins and complaint exports, :mod:`ingest.files`) ends in :func:`load`, which holds the one
rule that follows a load:

    after a load, refresh the routing network if it was built.

The command line and, later, the staff pages call loaders; none of them repeats this rule.
A network that was never built is left alone: the first query, or ``sigap network build``,
builds it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from gis.db import libpq_url
from ingest.load import AfterLoad, Chunks, InterruptedAfterCommit, LoadResult, load_layers

if TYPE_CHECKING:
    from gis.network import BuildReport

logger = logging.getLogger(__name__)


def refresh_network(url: str, *, progress: bool | None = None) -> BuildReport | None:
    """Bring the routing network of ``url`` up to date after a load, if one was built.

    Parameters
    ----------
    url : str
        The database that was loaded.
    progress : bool, optional
        Show a progress bar; default: only when stderr is a terminal.

    Returns
    -------
    BuildReport or None
        The rebuild, or None when no network was built or it was already current.
    """
    from gis.network import rebuild_if_built

    return rebuild_if_built(url, progress=progress)


def load(
    url: str,
    layers: Mapping[str, Sequence[Mapping] | Chunks],
    *,
    source: str,
    sha256: str | None = None,
    rejects: Sequence[dict] = (),
    started_at: datetime | None = None,
    progress: bool | None = None,
    refresh: bool = True,
    after: Sequence[AfterLoad] = (),
    dry_run: bool = False,
    result: LoadResult | None = None,
) -> LoadResult:
    """Load rows of registry layers in one transaction, then refresh a built network.

    Parameters
    ----------
    url : str
        The database to load into.
    layers : mapping of str to sequence of mapping or Chunks
        Layer name (a key of :data:`layers.registry.ALL_LAYERS`) -> rows, or a stream of
        checked DataFrames (:class:`ingest.load.Chunks`) read inside the transaction.
    source : str
        The path or URL that was read, recorded in ``ingest_run``.
    sha256 : str, optional
        The input's checksum, recorded in ``ingest_run``.
    rejects : sequence of dict
        Objects of the input that were not loaded, with reasons.
    started_at : datetime, optional
        When reading the input began; default now.
    progress : bool, optional
        Show progress bars; default: only when stderr is a terminal.
    refresh : bool
        Refresh the routing network afterwards if it was built (:func:`refresh_network`).
        Only a caller that simulates a load made outside SIGAP turns this off.
    after : sequence of callables
        Steps run inside the load's transaction after the layers are written,
        ``step(cursor, result)`` (see :func:`ingest.load.load_layers`).
    dry_run : bool
        Validate and count, then roll back; nothing is written and nothing is refreshed.
    result : LoadResult, optional
        The result to fill in (a caller that holds it sees the counts of a failed load).

    Returns
    -------
    LoadResult
        With ``network`` set to the refresh's report, if there was one.

    Raises
    ------
    IngestError
        A bad row or a database error; nothing was written.
    InterruptedAfterCommit
        A Ctrl-C arrived after the commit (during the commit or the network refresh): the
        data is loaded, the network was not refreshed. ``exc.result`` says what was loaded.
    KeyboardInterrupt
        A Ctrl-C arrived before the commit; nothing was written.
    """
    import psycopg2

    result = result if result is not None else LoadResult()
    conn = psycopg2.connect(libpq_url(url))
    try:
        load_layers(
            conn,
            layers,
            source=source,
            sha256=sha256,
            rejects=rejects,
            started_at=started_at,
            progress=progress,
            result=result,
            after=after,
            dry_run=dry_run,
        )
        conn.close()
        if refresh and not dry_run:
            result.network = refresh_network(url, progress=progress)
    except KeyboardInterrupt as exc:
        if not result.committed or isinstance(exc, InterruptedAfterCommit):
            raise
        result.interrupted = True
        logger.warning("interrupted after the load of %s was committed", source)
        raise InterruptedAfterCommit(result) from exc
    finally:
        conn.close()
    return result

"""Road-condition changes: staff set a segment's condition from a road report, and restore it.

A staff action on a verified *jalan rusak* or *banjir* report calls
:func:`set_road_condition` (condition up to ``tidak_dapat_dilalui``, with its source);
clearing the report calls :func:`restore_road_condition`. Both run as the caller's role (the
staff pages' ``sigap_staff``), through the ``SECURITY DEFINER`` functions of migration 0006,
which are the only way that role changes ``road_segment``:

* **Exact restores.** The active changes of a segment form a stack. A change rests on what
  the segment held before it (``previous_condition``, ``previous_source``); restoring the
  change on top puts that back, restoring one lower down leaves the road to the change above
  and hands it what the restored one rested on. Whatever order several overlapping changes
  are restored in, the last restore puts back what the segment had before the first change.
* **Newer inspections win.** A write that did not come through these functions (a field
  inspection loaded by ingest, a re-import that changes the condition, ``inspected_at``) is
  newer than every change on the stack: the next set or restore there marks the stack
  ``superseded`` and leaves that write alone.
* **One at a time.** Set and restore are serialised (an advisory lock) and take
  ``road_segment``'s write lock first, so a network build sees all of a change or none of
  it, and each commit sends ``NOTIFY sigap_road_condition``.

Who updates what
----------------
* **Query processes** (every ``sigap serve`` worker, any process with a router) follow the
  changes live: :mod:`gis.routing` listens for the notification and, without waiting for a
  rebuild, re-reads the segments changed since its cache was built
  (:func:`changed_segment_costs`) and patches its own copy of the weights and of the
  nearest-facility tables the change can affect (:mod:`gis.live`). Measured in
  ``bench/road_reports.py``.
* **The owner** keeps the database and the cache current: ``sigap serve`` starts a network
  keeper (:mod:`gis.network_keeper`, as the owner) that writes the touched segments'
  ``cost_*_s`` at once (:func:`write_segment_costs`) and then rebuilds the cache in the
  background; query processes swap to it when it is written. Without a running server,
  ``sigap network build`` (or the next ingest) does the same.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import numpy as np

from gis.costs import MODES, edge_costs
from gis.errors import InvalidInputError, NotFoundError, SigapError
from gis.network_data import transaction, write_costs
from layers.vocab import ROAD_CONDITIONS

logger = logging.getLogger(__name__)

#: The ``NOTIFY`` channel of road-condition changes (payload: the change id).
CHANNEL = "sigap_road_condition"
#: Conditions a change may set: every class but ``unknown``.
SETTABLE_CONDITIONS: tuple[str, ...] = tuple(c for c in ROAD_CONDITIONS if c != "unknown")
#: Most segments one change may touch.
MAX_SEGMENTS = 10_000
#: Longest ``source`` (it becomes ``road_segment.condition_source``) and ``note``.
MAX_SOURCE_CHARS = 24
MAX_NOTE_CHARS = 4000


class NotAllowedError(SigapError, PermissionError):
    """The database role may not change road conditions (only ``sigap_staff`` may)."""

    status = 403
    default_code = "forbidden"


def _segment_ids(segment_ids: Iterable[int]) -> list[int]:
    if isinstance(segment_ids, str | bytes) or not isinstance(segment_ids, Iterable):
        msg = "segment_ids must be a list of road segment ids."
        raise InvalidInputError(msg, param="segment_ids")
    ids = []
    for sid in segment_ids:
        if isinstance(sid, bool) or not isinstance(sid, int | np.integer):
            msg = f"segment_ids must be integers; got {sid!r}."
            raise InvalidInputError(msg, param="segment_ids")
        ids.append(int(sid))
    ids = sorted(set(ids))
    if not ids:
        msg = "segment_ids is empty: name at least one road segment."
        raise InvalidInputError(msg, param="segment_ids")
    if len(ids) > MAX_SEGMENTS:
        msg = f"segment_ids names {len(ids)} segments; at most {MAX_SEGMENTS} per change."
        raise InvalidInputError(msg, param="segment_ids")
    return ids


def _check_text(value, param: str, most: int, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        msg = f"{param} must be a non-empty text."
        raise InvalidInputError(msg, param=param)
    if len(value) > most:
        msg = f"{param} is {len(value)} characters long; at most {most} are allowed."
        raise InvalidInputError(msg, param=param)
    if "\x00" in value:
        msg = f"{param} must not contain NUL characters."
        raise InvalidInputError(msg, param=param)
    return value


def _database_error(exc: Exception) -> SigapError | None:
    """Translate the functions' errors (SQLSTATE and ``HINT`` = the parameter)."""
    import psycopg2.errors

    hint = getattr(getattr(exc, "diag", None), "message_hint", None) or None
    text = str(getattr(getattr(exc, "diag", None), "message_primary", "") or exc).strip()
    if isinstance(exc, psycopg2.errors.InvalidParameterValue):
        return InvalidInputError(text[:1].upper() + text[1:] + ".", param=hint)
    if isinstance(exc, psycopg2.errors.NoDataFound):
        return NotFoundError(text[:1].upper() + text[1:] + ".", param=hint)
    if isinstance(exc, psycopg2.errors.InsufficientPrivilege):
        msg = (
            "This database role may not change road conditions; connect as sigap_staff "
            "(SIGAP_STAFF_DATABASE_URL)."
        )
        return NotAllowedError(msg)
    return None


def set_road_condition(
    url: str,
    segment_ids: Iterable[int],
    condition: str,
    *,
    source: str,
    note: str | None = None,
) -> int:
    """Set the condition of road segments (a verified road report), restorably.

    Parameters
    ----------
    url : str
        Database URL of the caller: a role that may execute ``sigap_set_road_condition``
        (``sigap_staff``, or the owner).
    segment_ids : iterable of int
        ``road_segment.id`` of the segments (duplicates are ignored).
    condition : str
        One of :data:`SETTABLE_CONDITIONS` (up to ``tidak_dapat_dilalui``, which closes the
        segments to every mode).
    source : str
        Where the change comes from, 1 to 24 characters, e.g. ``"laporan"``; it becomes the
        segments' ``condition_source`` (``"osm"`` is reserved for imported data).
    note : str, optional
        Free text kept with the change (e.g. the report's tracking id), up to 4,000
        characters.

    Returns
    -------
    int
        The change id, for :func:`restore_road_condition`.

    Raises
    ------
    InvalidInputError
        A bad ``segment_ids``, ``condition``, ``source`` or ``note`` (``param`` names it).
    NotFoundError
        A segment id that does not exist (all are named; nothing is changed).
    NotAllowedError
        The role may not change road conditions.
    """
    ids = _segment_ids(segment_ids)
    if condition not in SETTABLE_CONDITIONS:
        choices = ", ".join(SETTABLE_CONDITIONS)
        msg = f"Unknown road condition {condition!r}; choose one of {choices}."
        raise InvalidInputError(msg, param="condition")
    source_text = _check_text(source, "source", MAX_SOURCE_CHARS, required=True)
    if source_text == "osm":
        msg = "source 'osm' is reserved for imported OpenStreetMap data; name the report's source."
        raise InvalidInputError(msg, param="source")
    note = _check_text(note, "note", MAX_NOTE_CHARS, required=False)
    import psycopg2

    try:
        with transaction(url) as cur:
            cur.execute(
                "SELECT sigap_set_road_condition(%s::bigint[], %s, %s, %s)",
                (ids, condition, source_text, note),
            )
            (change_id,) = cur.fetchone()
    except psycopg2.Error as exc:
        err = _database_error(exc)
        if err is None:
            raise
        raise err from exc
    logger.info(
        "road condition change %d: %d segments set to %s (%s)",
        change_id,
        len(ids),
        condition,
        source,
    )
    return int(change_id)


def restore_road_condition(url: str, change_id: int) -> None:
    """Undo a road-condition change: its segments get back what they had before it.

    Restoring a change that was restored before does nothing. A segment that another write
    (a field inspection, an import) changed since keeps that write (see the module docstring).

    Parameters
    ----------
    url : str
        Database URL of the caller (``sigap_staff``, or the owner).
    change_id : int
        What :func:`set_road_condition` returned.

    Raises
    ------
    InvalidInputError
        ``change_id`` is not an integer.
    NotFoundError
        No change has that id.
    NotAllowedError
        The role may not change road conditions.
    """
    if isinstance(change_id, bool) or not isinstance(change_id, int | np.integer):
        msg = f"change_id must be an integer; got {change_id!r}."
        raise InvalidInputError(msg, param="change_id")
    import psycopg2

    try:
        with transaction(url) as cur:
            cur.execute("SELECT sigap_restore_road_condition(%s)", (int(change_id),))
            (restored,) = cur.fetchone()
    except psycopg2.Error as exc:
        err = _database_error(exc)
        if err is None:
            raise
        raise err from exc
    logger.info("road condition change %d restored (%d segments changed)", change_id, restored)


# --- following the changes -------------------------------------------------------------------


def condition_seq(cur) -> int:
    """Give the newest change sequence number (0: none yet).

    Every set and restore of a segment takes a new one; a network build records the newest
    it saw in its manifest (``condition_seq``).

    Parameters
    ----------
    cur : cursor
        A cursor of any role that may read ``road_condition_change_segment``.

    Returns
    -------
    int
        ``max(seq)``.
    """
    cur.execute("SELECT coalesce(max(seq), 0) FROM road_condition_change_segment")
    return int(cur.fetchone()[0])


def changed_segment_costs(
    cur, since_seq: int, modes: Iterable[str]
) -> tuple[int, np.ndarray, dict[str, np.ndarray]]:
    """Read the segments changed after ``since_seq`` and their travel times now.

    Parameters
    ----------
    cur : cursor
        A cursor (the web role's will do), best at ``REPEATABLE READ``.
    since_seq : int
        The ``condition_seq`` a cache was built with.
    modes : iterable of str
        Modes to compute travel times for (:func:`gis.costs.edge_costs`).

    Returns
    -------
    seq : int
        The newest sequence number read (:func:`condition_seq`).
    ids : ndarray of int64
        ``road_segment.id`` of the segments changed since, sorted (segments deleted since
        are left out).
    costs : dict of str to ndarray
        Per mode, their seconds now (NaN: impassable).
    """
    seq = condition_seq(cur)
    cur.execute(
        "SELECT s.id, s.highway, s.maxspeed, s.length_m, s.condition FROM road_segment s "
        "WHERE s.id IN (SELECT segment_id FROM road_condition_change_segment WHERE seq > %s) "
        "ORDER BY s.id",
        (int(since_seq),),
    )
    rows = cur.fetchall()
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    highway = [r[1] for r in rows]
    maxspeed = [r[2] for r in rows]
    length = np.array([r[3] for r in rows], dtype=float)
    condition = [r[4] for r in rows]
    costs = {m: edge_costs(m, highway, maxspeed, length, condition) for m in modes}
    return seq, ids, costs


def write_segment_costs(url: str, since_seq: int, modes: Iterable[str] | None = None) -> int:
    """Write ``cost_<mode>_s`` of the segments changed after ``since_seq`` (as the owner).

    Like a build, under ``road_segment``'s ``SHARE ROW EXCLUSIVE`` lock, so no condition
    changes between reading it and writing the costs derived from it.

    Parameters
    ----------
    url : str
        The owner's database URL.
    since_seq : int
        Write the segments changed after this sequence number.
    modes : iterable of str, optional
        The modes whose columns to write (default: every mode).

    Returns
    -------
    int
        The newest sequence number written.
    """
    wanted = [m for m in MODES if modes is None or m in set(modes)]
    with transaction(url) as cur:
        cur.execute("LOCK TABLE road_segment IN SHARE ROW EXCLUSIVE MODE")
        seq, ids, costs = changed_segment_costs(cur, since_seq, wanted)
        updated = write_costs(cur, ids, costs) if len(ids) else 0
    if updated:
        logger.info("wrote the travel times of %d changed road segments", updated)
    return seq


class ConditionListener:
    """``LISTEN`` for road-condition changes on a connection of its own.

    :meth:`poll` never blocks (the caller sleeps between polls: this works the same under
    gevent's monkey-patching, since libpq's socket is not Python's). A lost connection is
    reopened on the next poll.

    Parameters
    ----------
    url : str
        Database URL (any role may listen).
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.conn: Any = None

    def poll(self) -> bool | None:
        """Tell whether a change was notified since the last poll.

        Returns
        -------
        bool or None
            True after a notification (or right after (re)connecting, when one may have been
            missed); False when none; None when the database cannot be reached now.
        """
        import psycopg2

        from gis.db import libpq_url

        fresh = False
        try:
            if self.conn is None:
                conn = psycopg2.connect(
                    libpq_url(self.url),
                    connect_timeout=5,
                    application_name=f"sigap-road-listener-{os.getpid()}",
                )
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(f"LISTEN {CHANNEL}")
                self.conn, fresh = conn, True
            conn = self.conn
            conn.poll()
            notified = bool(conn.notifies)
            conn.notifies.clear()
            return notified or fresh
        except psycopg2.Error:
            self.close()
            return None

    def close(self) -> None:
        """Close the connection (the next :meth:`poll` reopens it)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - already broken
                pass

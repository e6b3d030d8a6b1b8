"""The bulk path of a first load: rows read ahead, ids drawn a chunk at a time, indexes after.

:func:`ingest.load.upsert_layer` takes this path for a first load of at least
:data:`BULK_INDEX_ROWS` rows into an empty table: the next chunk is read and checked in a
background thread (:func:`prefetch`) while PostgreSQL copies this one, the rows get their ids
from the sequence a chunk at a time (:func:`reserve_ids`), and the secondary indexes are built
once after the COPY (:func:`indexes_built_after`), all in the caller's transaction.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

from psycopg2 import sql

#: A first load of at least this many rows into an empty table builds its indexes after the
#: COPY instead of row by row.
BULK_INDEX_ROWS = 50_000


def prefetch(items: Iterable, *, depth: int = 1) -> Iterator:
    """Yield ``items``, produced ahead in a background thread.

    The file loader reads and checks the next chunk while PostgreSQL ingests this one: the
    server's COPY work runs on its own core, and the wait for it releases the GIL. An
    exception of the producer is raised here; when the consumer stops early (an error, a
    Ctrl-C), the producer stops at its next item.

    Parameters
    ----------
    items : iterable
        Consumed in the background thread.
    depth : int
        Items held ready at most.
    """
    import queue

    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((done, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            box.put((done, exc))

    thread = threading.Thread(target=produce, name="sigap-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = box.get()
            if item is done:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()


def id_sequence(cur, table: str) -> str | None:
    """Return the sequence of ``table``'s ``id`` column; lock the table against writers.

    A bulk load gives the rows their ids itself (:func:`reserve_ids`): the server's
    ``nextval`` per row is a sixth of a COPY's time. The lock (``EXCLUSIVE``: readers
    go on) keeps any other insert, and so any other ``nextval`` of the sequence, out until
    the commit. None when the table has no ``id`` column drawn from a sequence (of step 1).
    """
    cur.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(sql.Identifier(table)))
    cur.execute(
        "SELECT s.seqrelid::regclass::text FROM pg_attribute a JOIN pg_sequence s "
        "ON s.seqrelid = pg_get_serial_sequence(a.attrelid::regclass::text, a.attname)::regclass "
        "WHERE a.attrelid = %s::regclass AND a.attname = 'id' AND NOT a.attisdropped "
        "AND s.seqincrement = 1",
        (table,),
    )
    row = cur.fetchone()
    return row[0] if row else None


def reserve_ids(cur, sequence: str, n: int) -> int:
    """Draw ``n`` consecutive values of ``sequence`` as ``n`` nextval would; return the first."""
    cur.execute("SELECT nextval(%s)", (sequence,))
    first = int(cur.fetchone()[0])
    if n > 1:
        cur.execute("SELECT setval(%s, %s)", (sequence, first + n - 1))
    return first


def table_is_empty(cur, table: str) -> bool:
    """Say whether ``table`` has no rows."""
    cur.execute(sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(table)))
    return bool(cur.fetchone()[0])


@contextlib.contextmanager
def indexes_built_after(cur, table: str) -> Iterator[None]:
    """Drop ``table``'s secondary indexes and unique constraints; create them again after.

    Inside the caller's transaction (the table is locked meanwhile, and a failure restores
    them with everything else). The primary key stays.
    """
    cur.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'u'",
        (table,),
    )
    constraints = cur.fetchall()
    cur.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        (table,),
    )
    indexes = cur.fetchall()
    ident = sql.Identifier(table)
    for name, _ in constraints:
        cur.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(ident, sql.Identifier(name))
        )
    for name, _ in indexes:
        cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    yield
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        cur.execute(definition)
    for name, definition in constraints:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} ").format(ident, sql.Identifier(name))
            + sql.SQL(definition)
        )

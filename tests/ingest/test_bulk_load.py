"""A first load of many rows into an empty table (ingest.load's bulk path): indexes built
after the COPY, ids drawn from the table's sequence in blocks, the same ids as row by row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import psycopg2

from gis.db import libpq_url
from ingest.files import ingest_file
from ingest.load import BULK_INDEX_ROWS


def _write_points(path, n: int) -> None:
    rng = np.random.default_rng(3)
    pd.DataFrame(
        {
            "id": [f"P-{i}" for i in range(n)],
            "nama": [f"Puskesmas {i}" for i in range(n)],
            "kategori": "puskesmas",
            "latitude": rng.uniform(-7.0, -6.1, n).round(6),
            "longitude": rng.uniform(106.6, 107.8, n).round(6),
        }
    ).to_csv(path, index=False)


def test_a_bulk_load_numbers_the_rows_from_the_sequence_and_keeps_the_indexes(fresh_db, tmp_path):
    n = 2 * BULK_INDEX_ROWS + 7  # three chunks: ids reserved chunk by chunk
    path = tmp_path / "puskesmas.csv"
    _write_points(path, n)
    conn = psycopg2.connect(libpq_url(fresh_db))
    try:
        with conn, conn.cursor() as cur:  # the sequence has moved on; the table is empty
            cur.execute("SELECT setval(pg_get_serial_sequence('office', 'id'), 41)")
            cur.execute(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid = 'office'::regclass ORDER BY 1"
            )
            indexes = [r[0] for r in cur.fetchall()]
        result = ingest_file(
            path,
            fresh_db,
            layer="offices",
            progress=False,
            refresh_network=False,
            chunk_rows=BULK_INDEX_ROWS,
        )
        assert (result.new, result.rejected) == (n, 0)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT id, source_id FROM office ORDER BY id")
            rows = cur.fetchall()
            assert [r[0] for r in rows] == list(range(42, 42 + n))
            assert [r[1] for r in rows] == [f"P-{i}" for i in range(n)]  # in the file's order
            cur.execute(
                "SELECT indexrelid::regclass::text FROM pg_index "
                "WHERE indrelid = 'office'::regclass ORDER BY 1"
            )
            assert [r[0] for r in cur.fetchall()] == indexes
            cur.execute("SELECT nextval(pg_get_serial_sequence('office', 'id'))")
            assert cur.fetchone()[0] == 42 + n
    finally:
        conn.close()

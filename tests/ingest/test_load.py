"""The bulk loader (ingest.load): the upsert by (source, source_id), one transaction, and
Ctrl-C around the commit.
"""

from __future__ import annotations

import signal

import psycopg2
import psycopg2.extensions
import pytest
from shapely.geometry import LineString

from gis.db import libpq_url
from ingest.load import InterruptedAfterCommit, load_layers, upsert_layer
from tests.conftest import query
from tests.ingest.helpers import office, waste_bin

# --- the upsert -------------------------------------------------------------------------------


def road(source_id: str, way: int, **fields) -> dict:
    return {
        "source": "osm",
        "source_id": source_id,
        "u": 1,
        "v": 2,
        "osm_way_id": way,
        "highway": "residential",
        "oneway": False,
        "length_m": 100.0,
        "condition": "baik",
        "geom": LineString([(106.8, -6.2), (106.801, -6.2)]),
        **fields,
    }


def upsert(url: str, layer: str, rows: list[dict]) -> tuple[int, int, int]:
    conn = psycopg2.connect(libpq_url(url))
    with conn, conn.cursor() as cur:
        counts = upsert_layer(cur, layer, rows)
    conn.close()
    return counts


def test_upsert_counts_new_updated_unchanged_and_pruned(fresh_db):
    rows = [road("w/1/a", 1), road("w/1/b", 1), road("w/2/a", 2)]
    assert upsert(fresh_db, "road_segment", rows) == (3, 0, 0)
    assert upsert(fresh_db, "road_segment", rows) == (0, 0, 0)  # unchanged: untouched
    changed = [road("w/1/a", 1, name="Jalan Baru"), road("w/1/b", 1), road("w/2/a", 2)]
    assert upsert(fresh_db, "road_segment", changed) == (0, 1, 0)
    # way 1 now yields one piece: w/1/b is pruned; way 2, absent from the input, stays
    assert upsert(fresh_db, "road_segment", [road("w/1/a", 1, name="Jalan Baru")]) == (0, 0, 1)
    assert query(fresh_db, "SELECT source_id FROM road_segment ORDER BY 1") == [
        ("w/1/a",),
        ("w/2/a",),
    ]


def test_an_inspected_condition_survives_a_reimport(fresh_db):
    upsert(fresh_db, "road_segment", [road("w/1", 1), road("w/2", 2)])
    query(
        fresh_db,
        "UPDATE road_segment SET condition = 'rusak_berat', condition_source = 'inspection' "
        "WHERE source_id = 'w/1'",
    )
    rows = [road("w/1", 1, condition="sedang"), road("w/2", 2, condition="sedang")]
    assert upsert(fresh_db, "road_segment", rows) == (0, 1, 0)  # only w/2 changes
    assert query(fresh_db, "SELECT source_id, condition FROM road_segment ORDER BY 1") == [
        ("w/1", "rusak_berat"),
        ("w/2", "sedang"),
    ]


# --- one transaction, and Ctrl-C around the commit ---------------------------------------------


class InterruptAtCommit(psycopg2.extensions.connection):
    """A connection that receives a real SIGINT right after its commit went through."""

    def commit(self) -> None:
        super().commit()
        signal.raise_signal(signal.SIGINT)


class InterruptingCursor(psycopg2.extensions.cursor):
    """A cursor that receives a real SIGINT after its second COPY (a layer is written)."""

    copies = 0

    def copy_expert(self, *args, **kwargs):
        super().copy_expert(*args, **kwargs)
        InterruptingCursor.copies += 1
        if InterruptingCursor.copies == 2:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_during_the_commit_is_reported_after_it(fresh_db):
    conn = psycopg2.connect(libpq_url(fresh_db), connection_factory=InterruptAtCommit)
    try:
        with pytest.raises(InterruptedAfterCommit) as info:
            load_layers(conn, {"office": [office("1")]}, source="x", sha256=None)
    finally:
        conn.close()
    result = info.value.result
    assert result.committed and result.interrupted and result.total == {"office": 1}
    assert isinstance(info.value, KeyboardInterrupt)
    assert query(fresh_db, "SELECT count(*) FROM office") == [(1,)]
    assert query(fresh_db, "SELECT id, status FROM ingest_run") == [(result.run_id, "ok")]


def test_ctrl_c_before_the_commit_rolls_everything_back(fresh_db):
    InterruptingCursor.copies = 0
    conn = psycopg2.connect(libpq_url(fresh_db), cursor_factory=InterruptingCursor)
    layers = {
        "office": [office("1")],
        "waste_bin": [waste_bin("1")],
        "road_segment": [road("r", 1)],
    }
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            load_layers(conn, layers, source="x", sha256=None)
    finally:
        conn.close()
    assert not isinstance(info.value, InterruptedAfterCommit)
    assert InterruptingCursor.copies == 2
    for table in ("office", "waste_bin", "road_segment"):
        assert query(fresh_db, f"SELECT count(*) FROM {table}") == [(0,)]  # noqa: S608
    assert query(fresh_db, "SELECT status FROM ingest_run") == [("interrupted",)]

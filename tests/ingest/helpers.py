"""Rows for the ingest tests: a point, an office, a waste bin, and a load into a database."""

from __future__ import annotations

import psycopg2
from shapely.geometry import Point

from gis.db import libpq_url
from ingest.load import LoadResult, load_layers

P = Point(106.8, -6.2)


def office(source_id: str, **fields) -> dict:
    return {"source": "test", "source_id": source_id, "category": "health", "geom": P, **fields}


def waste_bin(source_id: str, **fields) -> dict:
    return {"source": "test", "source_id": source_id, "kind": "recycling", "geom": P, **fields}


def load(url: str, layers: dict, **kwargs) -> LoadResult:
    conn = psycopg2.connect(libpq_url(url))
    try:
        return load_layers(conn, layers, source="test-input", sha256=None, **kwargs)
    finally:
        conn.close()

"""Buahbatu (Bandung) with the city's TPS list, a depot, a TPA and a footway-only lane.

Most of Bandung's 154 TPS lie outside the Buahbatu network's box; the 22 inside it are the
stops these tests plan for (a fill file gives them the day's volumes), the others are too far
from any truck road and are reported unserved.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gis import routing
from gis.network import build_network, drop_cache
from ingest.files import ingest_file
from tests.conftest import _dispose, create_database, drop_database, query, shared_file

NETWORK = "indonesia/bandung_buahbatu_drive.osm.pbf"
TPS = "indonesia/bandung_tps_2016.csv"
#: The Buahbatu network's box (W, S, E, N).
BOX = (107.6320, -6.9789, 107.6777, -6.9199)
DEPOT = (107.655, -6.950)  # lon, lat: central Buahbatu
TPA = (107.670, -6.975)
#: The footway-only lane's far end, where its TPS stands (about 600 m south of the network).
FOOTWAY_BIN = "TPS GANG UJI"


def box_tps(url: str) -> list[tuple[int, str, float]]:
    """``(id, source_id, sampah_masuk)`` of the TPS inside the network's box."""
    return query(
        url,
        "SELECT id, source_id, (attributes->>'sampah_masuk')::float FROM waste_bin "
        "WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND name <> %s ORDER BY id",
        (*BOX, FOOTWAY_BIN),
    )


def write_fill(path: Path, rows: list[tuple[str, float]]) -> Path:
    """Write a fill file of ``(id, volume_m3)``."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "volume_m3"])
        w.writerows(rows)
    return path


def collection_db(server_url: str, template_db: str, name: str) -> str:
    """Create and fill the database; return its URL."""
    from ingest.osm import ingest_osm_file

    url = create_database(server_url, name, template=template_db)
    ingest_osm_file(shared_file(NETWORK), url, progress=False)
    ingest_file(
        shared_file(TPS),
        url,
        layer="bins",
        constants={"kind": "tps"},
        progress=False,
        refresh_network=False,
    )
    query(
        url,
        "INSERT INTO depot (source, source_id, name, address, geom) VALUES "
        "('test', 'd1', 'Pool Buahbatu', 'Jl. Uji 1', ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
        DEPOT,
    )
    query(
        url,
        "INSERT INTO disposal_site (source, source_id, name, geom) VALUES "
        "('test', 't1', 'TPA Uji', ST_SetSRID(ST_MakePoint(%s, %s), 4326))",
        TPA,
    )
    # a footway-only lane off the southernmost node, 600 m long, with a TPS at its end
    ((node, lon, lat),) = query(
        url,
        "SELECT u, ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)) FROM road_segment "
        "ORDER BY ST_Y(ST_StartPoint(geom)) LIMIT 1",
    )
    end_lat = lat - 600 / 111_195.0
    query(
        url,
        "INSERT INTO road_segment (source, source_id, u, v, highway, oneway, length_m, geom) "
        "VALUES ('test', 'footway', %s, -424242, 'footway', false, 600, "
        "ST_SetSRID(ST_MakeLine(ST_MakePoint(%s, %s), ST_MakePoint(%s, %s)), 4326))",
        (node, lon, lat, lon, end_lat),
    )
    query(
        url,
        "INSERT INTO waste_bin (source, source_id, kind, name, geom, attributes) VALUES "
        "('test', 'gang', 'waste_disposal', %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326), "
        "'{\"sampah_masuk\": 2.0}')",
        (FOOTWAY_BIN, lon, end_lat + 0.00001),
    )
    build_network(url, progress=False)
    return url


def drop_collection_db(server_url: str, url: str, name: str) -> None:
    """Drop the database, its cache and routers."""
    drop_cache(url)
    routing.clear_routers()
    _dispose(url)
    drop_database(server_url, name)


def near_tps(url: str) -> list[str]:
    """``source_id`` of the TPS in the box within 150 m of a road a truck may use (PostGIS)."""
    rows = query(
        url,
        "SELECT b.source_id FROM waste_bin b WHERE b.geom && ST_MakeEnvelope(%s, %s, %s, %s, "
        "4326) AND EXISTS (SELECT 1 FROM road_segment s WHERE s.cost_truck_s IS NOT NULL AND "
        "ST_DWithin(s.geom::geography, b.geom::geography, 150)) ORDER BY b.id",
        BOX,
    )
    return [r[0] for r in rows]

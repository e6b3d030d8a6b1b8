"""Helpers shared by the routing tests: routed databases, random origins, route checks."""

from __future__ import annotations

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from gis import routing
from gis.db import libpq_url
from gis.network import build_network, drop_cache
from ingest.osm import ingest_osm_file
from tests.conftest import _dispose, create_database, drop_database, query, shared_file

__all__ = [
    "check_route",
    "check_snap",
    "drop_routed_db",
    "query",
    "random_origins",
    "recreate_keeping_cache",
    "routed_db",
]


def routed_db(server_url: str, template_db: str, name: str, pbf: str, *, build: bool = True):
    """A new database ``name`` with the extract ``pbf`` (under ``shared/data``) ingested and,
    if ``build``, its routing network built; returns its URL."""
    url = create_database(server_url, name, template=template_db)
    ingest_osm_file(shared_file(pbf), url, progress=False)
    if build:
        build_network(url, progress=False)
    return url


def drop_routed_db(server_url: str, url: str, name: str) -> None:
    """Drop the database, its network cache and every loaded router."""
    drop_cache(url)
    routing.clear_routers()
    _dispose(url)
    drop_database(server_url, name)


def recreate_keeping_cache(server_url: str, url: str, name: str, template_db: str) -> None:
    """DROP and CREATE database ``name`` (from ``template_db``) and leave its network cache on
    disk, as a database administrator would outside SIGAP."""
    _dispose(url)
    admin = make_url(libpq_url(server_url)).set(database="postgres")
    conn = psycopg2.connect(admin.render_as_string(hide_password=False))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            ident = sql.Identifier(name)
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(ident))
            cur.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(ident, sql.Identifier(template_db))
            )
    finally:
        conn.close()


# --- origins and checks shared by the routing tests -----------------------------------------


def random_origins(ref, n: int, seed: int, max_m: float = 250.0) -> list[tuple[float, float]]:
    """``(lat, lon)`` of ``n`` points up to ``max_m`` from random nodes of ``ref``'s network,
    the way a user clicks near a road."""
    import math

    import numpy as np

    rng = np.random.default_rng(seed)
    nodes = sorted(ref.graph.nodes)
    out = []
    for i in rng.choice(len(nodes), n, replace=False):
        lon, lat = ref.coord[nodes[i]]
        dist, bearing = rng.uniform(0, max_m), rng.uniform(0, 2 * math.pi)
        dlat = dist * math.cos(bearing) / 111_195.0
        dlon = dist * math.sin(bearing) / (111_195.0 * math.cos(math.radians(lat)))
        out.append((lat + dlat, lon + dlon))
    return out


def check_snap(ref, lat: float, lon: float, snapped: dict) -> None:
    """Our snap of ``(lat, lon)`` (``snapped`` or ``facility_snap``) agrees with PostGIS: the
    distance to the nearest usable segment, and the road point lies on the reported segment at
    the reported fraction."""
    import pytest

    from tests.gis.reference import cost_column, utm_srid

    (min_m,) = query(
        ref.url,
        sql.SQL(
            "SELECT min(ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)"
            "::geography)) FROM road_segment WHERE {} IS NOT NULL"
        ).format(cost_column(ref.mode)),
        (lon, lat),
    )[0]
    assert snapped["distance_m"] == pytest.approx(min_m, rel=0.01, abs=1.0)
    srid = utm_srid(lon)
    on_m, frac, length = query(
        ref.url,
        "SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography),"
        " ST_LineLocatePoint(ST_Transform(geom, %s), "
        "  ST_Transform(ST_SetSRID(ST_MakePoint(%s, %s), 4326), %s)), length_m "
        "FROM road_segment WHERE id = %s",
        (
            snapped["lon"],
            snapped["lat"],
            srid,
            snapped["lon"],
            snapped["lat"],
            srid,
            snapped["segment_id"],
        ),
    )[0]
    assert on_m < 0.5
    assert abs(frac - snapped["fraction"]) * length < 1.0


def check_route(ref, result: dict, snapped: dict) -> None:
    """The route is connected and allowed for the mode, runs from the origin's road point on
    its segment to the facility's road point on its segment, and its summed costs and lengths
    (from the database columns) equal what was reported."""
    import pytest

    ids = result["segment_ids"]
    fac = result["facility_snap"]
    assert ids[0] == snapped["segment_id"] and ids[-1] == fac["segment_id"]
    f, t = snapped["fraction"], fac["fraction"]
    candidates = []
    if len(ids) == 1:  # the direct piece between origin and facility on one segment
        sid = ids[0]
        u, v, _, cost, length = ref.seg[sid]
        assert ref.along(sid, f, t) < float("inf"), "backwards on a one-way segment"
        candidates.append((abs(t - f) * cost, abs(t - f) * length))
    else:
        u0, v0, _, cost0, len0 = ref.seg[ids[0]]
        # Leave the first segment forwards through v0 or, unless one-way binds (or the origin
        # is at u0), backwards through u0.
        exits = [(v0, (1 - f) * cost0, (1 - f) * len0)]
        if not ref.binds(ids[0]) or f == 0.0:
            exits.append((u0, f * cost0, f * len0))
        uf, vf, _, costf, lenf = ref.seg[ids[-1]]
        enter = {uf: (t * costf, t * lenf)}
        if not ref.binds(ids[-1]) or t == 1.0:
            v_way = ((1 - t) * costf, (1 - t) * lenf)
            enter[vf] = min(enter.get(vf, v_way), v_way)
        for exit_node, part_s, part_m in exits:
            node, total_s, total_m, ok = exit_node, part_s, part_m, True
            for sid in ids[1:-1]:
                u, v, _, cost, length = ref.seg[sid]
                other = v if node == u else (u if node == v else None)
                if other is None or not ref.allowed(sid, node, other):
                    ok = False
                    break
                node, total_s, total_m = other, total_s + cost, total_m + length
            if ok and node in enter:
                candidates.append((total_s + enter[node][0], total_m + enter[node][1]))
    assert candidates, "the route is not a connected, allowed path to the facility"
    assert any(
        s == pytest.approx(result["travel_time_s"], abs=2e-3)
        and m == pytest.approx(result["distance_m"], abs=2e-2)
        for s, m in candidates
    ), (candidates, result["travel_time_s"], result["distance_m"])
    coords = result["route"]["coordinates"]
    assert coords[0] == pytest.approx([snapped["lon"], snapped["lat"]], abs=1e-6)
    assert coords[-1] == pytest.approx([fac["lon"], fac["lat"]], abs=1e-6)

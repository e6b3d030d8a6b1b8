"""Routing: SIGAP's router against OSMnx/networkx and pgRouting, side by side on one graph.

Graphs: the Helsinki and Andorra extracts (ingested into scratch databases, built with
``build_network``) and synthetic road-like grids of ~100k and ~1M nodes (jittered 100 m grid,
15 % of streets missing, arterials every 10th row and column, 10 % one-way, mixed road
conditions), built through the same ``build_arrays`` code path. Mode ``car``; facilities:
``health`` (real) or one per 1,000 nodes, up to 30 m off a node (synthetic).

Figures:

* nearest-facility query, in process: ours (snap the origin to the nearest edge, table
  lookup, walk the route to the facility's point on its edge, build the JSON dict) against the
  OSMnx way (``ox.distance.nearest_nodes`` for both ends, then ``ox.shortest_path`` to every
  candidate) and networkx (``nearest_nodes`` then ``multi_source_dijkstra`` from the
  facilities' nodes to the origin);
* pgRouting ``pgr_withPointsCost`` from the origin's point to every facility's point on its
  edge, over the same costs, and whether it agrees with ours;
* precompute of one category (snap the facilities onto their edges, multi-source Dijkstra from
  their virtual nodes over the reversed graph, next-hop codes) against networkx
  ``multi_source_dijkstra`` over the same graph with the same virtual nodes; and the
  precompute time of every category the extract has;
* one 15-minute isochrone (bounded Dijkstra alone, and with the polygon);
* bytes per node of what a query process holds for one mode and one category.

Run: ``make bench`` or ``.venv/bin/python -m bench routing``.
"""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np
import psycopg2

from bench._common import SHARED_DATA, drop_scratch_database, scratch_database
from gis.db import libpq_url
from gis.network import (
    Facilities,
    LocalProjection,
    Segments,
    build_arrays,
    build_network,
    cache_root,
    edge_costs,
    load_network,
    write_cache,
)
from gis.routing import Router, bounded_dijkstra, nearest_facility_tables, reverse_graph
from ingest.osm import ingest_osm_file

MODE = "car"
CATEGORY = "health"
QUERIES = 2000
RNG = np.random.default_rng(20261128)


# --- graphs ---------------------------------------------------------------------------------


def synthetic(n_target: int) -> tuple[Segments, Facilities]:
    """A road-like grid of about ``n_target`` nodes around Jakarta, with facilities."""
    side = int(math.sqrt(n_target))
    proj = LocalProjection(-6.2, 106.8)
    ii, jj = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    x = jj.ravel() * 100.0 + RNG.uniform(-20, 20, side * side)
    y = ii.ravel() * 100.0 + RNG.uniform(-20, 20, side * side)
    lon, lat = proj.inverse(x, y)
    node = np.arange(side * side).reshape(side, side)
    u = np.concatenate([node[:, :-1].ravel(), node[:-1, :].ravel()])
    v = np.concatenate([node[:, 1:].ravel(), node[1:, :].ravel()])
    arterial = np.concatenate([(ii[:, :-1] % 10 == 0).ravel(), (jj[:-1, :] % 10 == 0).ravel()])
    keep = arterial | (RNG.random(len(u)) > 0.15)
    u, v, arterial = u[keep], v[keep], arterial[keep]
    oneway = ~arterial & (RNG.random(len(u)) < 0.10)
    flip = oneway & (RNG.random(len(u)) < 0.5)
    u, v = np.where(flip, v, u), np.where(flip, u, v)
    length = np.hypot(x[u] - x[v], y[u] - y[v])
    conditions = np.array(["baik", "sedang", "rusak_ringan", "rusak_berat"])
    condition = conditions[RNG.choice(4, len(u), p=[0.8, 0.1, 0.07, 0.03])].tolist()
    lonlat = np.empty((2 * len(u), 2))
    lonlat[0::2, 0], lonlat[0::2, 1] = lon[u], lat[u]
    lonlat[1::2, 0], lonlat[1::2, 1] = lon[v], lat[v]
    seg = Segments(
        id=np.arange(1, len(u) + 1, dtype=np.int64),
        u=u.astype(np.int64) + 1,
        v=v.astype(np.int64) + 1,
        highway=np.where(arterial, "secondary", "residential").tolist(),
        oneway=oneway,
        maxspeed=[None] * len(u),
        length_m=length,
        condition=condition,
        geom_offsets=np.arange(0, 2 * len(u) + 1, 2, dtype=np.int64),
        geom_lonlat=lonlat,
    )
    picks = RNG.choice(side * side, max(1, side * side // 1000), replace=False)
    flon, flat = proj.inverse(x[picks] + RNG.uniform(-30, 30, len(picks)), y[picks])
    facs = [
        {
            "id": int(i),
            "layer": "office",
            "name": f"Puskesmas {i}",
            "category": CATEGORY,
            "kind": "amenity=clinic",
            "lat": float(flat[i]),
            "lon": float(flon[i]),
        }
        for i in range(len(picks))
    ]
    return seg, Facilities({CATEGORY: facs})


def synthetic_router(seg: Segments, facilities: Facilities, cache: Path) -> Router:
    costs = {
        m: edge_costs(m, seg.highway, seg.maxspeed, seg.length_m, seg.condition)
        for m in (MODE, "walk")
    }
    net = build_arrays(seg, costs, facilities, progress=False)
    write_cache(cache, net)
    return Router(load_network(cache))


def _db_name(pbf: str) -> str:
    return f"sigap_bench_routing_{pbf.split('.')[0]}"


#: Scratch databases this benchmark creates (and drops at the end).
PGR_DB = "sigap_bench_routing_pgr"


def real_router(pbf: str, cache: Path) -> tuple[Router, str]:
    url = scratch_database(_db_name(pbf))
    ingest_osm_file(SHARED_DATA / "osm" / pbf, url, progress=False)
    build_network(url, cache_dir=cache, progress=False)
    return Router(load_network(cache_root(url, cache))), url


# --- measurements ---------------------------------------------------------------------------


def origins(router: Router, n: int) -> list[tuple[float, float]]:
    """Points up to 100 m from random nodes of the mode's network."""
    a = router.net.arrays
    nodes = np.flatnonzero(np.diff(a[f"{MODE}.indptr"]) > 0)
    pick = RNG.choice(nodes, n)
    lonlat = a["node_lonlat"][pick]
    d = RNG.uniform(0, 100, n)
    b = RNG.uniform(0, 2 * math.pi, n)
    lat = lonlat[:, 1] + d * np.cos(b) / 111_195
    lon = lonlat[:, 0] + d * np.sin(b) / (111_195 * np.cos(np.radians(lonlat[:, 1])))
    return list(zip(lat.tolist(), lon.tolist(), strict=True))


def percentiles_us(fn, points) -> tuple[float, float]:
    times = []
    for lat, lon in points:
        t0 = time.perf_counter_ns()
        fn(lat, lon)
        times.append(time.perf_counter_ns() - t0)
    times.sort()
    return times[len(times) // 2] / 1e3, times[int(len(times) * 0.99)] / 1e3


def ours(router: Router):
    def full(lat, lon):
        return router.rank_facilities(lat, lon, category=CATEGORY, mode=MODE)

    g = router.mode_graph(MODE)

    def core(lat, lon):
        return router.best_from_table(g.snap(lat, lon), MODE, CATEGORY)

    return full, core


def nx_graphs(router: Router):
    """The same directed graph for networkx (DiGraph) and OSMnx (projected MultiDiGraph)."""
    a = router.net.arrays
    indptr, indices, weight = a[f"{MODE}.indptr"], a[f"{MODE}.indices"], a[f"{MODE}.weight"]
    rows = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    g = nx.DiGraph()
    g.add_weighted_edges_from(zip(rows.tolist(), indices.tolist(), weight.tolist(), strict=True))
    g.graph["crs"] = "EPSG:32748"  # any projected CRS: OSMnx then uses a cKDTree
    xy = router.net.projection().forward_xy(np.asarray(a["node_lonlat"]))
    for n in g.nodes:
        g.nodes[n]["x"], g.nodes[n]["y"] = float(xy[n, 0]), float(xy[n, 1])
    return g, xy


def osmnx_way(g_multi, fac_nodes, proj):
    import osmnx as ox

    def query(lat, lon):
        x, y = proj.forward(lon, lat)
        orig = ox.distance.nearest_nodes(g_multi, float(x), float(y))
        best = math.inf
        for f in fac_nodes:
            path = ox.shortest_path(g_multi, orig, f, weight="weight")
            if path is not None:
                t = sum(
                    g_multi[a][b][0]["weight"] for a, b in zip(path[:-1], path[1:], strict=True)
                )
                best = min(best, t)
        return best

    return query


def networkx_way(g, fac_nodes, proj):
    import osmnx as ox

    rev = g.reverse(copy=False)
    sources = set(fac_nodes)

    def query(lat, lon):
        x, y = proj.forward(lon, lat)
        orig = ox.distance.nearest_nodes(g, float(x), float(y))
        try:
            return nx.multi_source_dijkstra(rev, sources, target=orig, weight="weight")
        except nx.NetworkXNoPath:
            return None

    return query


def precompute(router: Router, category: str = CATEGORY):
    """Time one category's tables (ours, median of 5), as a build computes them: the reversed
    graph and the snapping grid are per mode, shared by every category."""
    g = router.mode_graph(MODE)
    reverse = reverse_graph(g)
    facs = router.net.facilities[category]
    lonlat = np.array([[f["lon"], f["lat"]] for f in facs])
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        tables = nearest_facility_tables(g, lonlat, reverse=reverse)
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), tables


def nx_with_facilities(g_rev: nx.DiGraph, router: Router, tables) -> nx.DiGraph:
    """The reversed networkx graph plus a virtual node per facility (same entries as ours,
    both road points of a facility on a cut-off fragment)."""
    mg = router.mode_graph(MODE)
    rev = g_rev.copy()
    for i in np.flatnonzero(tables.on_network):
        for e, _, fraction, _, _, _ in tables.points(int(i)):
            for node, cost, _ in mg.entries(e, fraction):
                w = rev.get_edge_data(("F", int(i)), node, {}).get("weight", math.inf)
                rev.add_edge(("F", int(i)), node, weight=min(w, cost))
    return rev


def pgr_setup(url: str | None, router: Router) -> tuple[str, str, bool]:
    """A database with pgRouting and the graph's car costs: ``road_segment`` of a real
    extract's database, or (``url`` None) a table of the synthetic graph's edges."""
    synthetic_graph = url is None
    if url is None:
        url = scratch_database(PGR_DB)
    conn = psycopg2.connect(libpq_url(url))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
        if synthetic_graph:
            import io

            a = router.net.arrays
            cost = np.asarray(a[f"edge_cost_{MODE}"])
            ok = ~np.isnan(cost)
            rev = np.where(a["edge_oneway"], -1.0, cost)
            buf = io.StringIO()
            rows = zip(
                np.flatnonzero(ok).tolist(),
                np.asarray(a["edge_u"])[ok].tolist(),
                np.asarray(a["edge_v"])[ok].tolist(),
                cost[ok].tolist(),
                rev[ok].tolist(),
                strict=True,
            )
            for row in rows:
                buf.write("\t".join(map(str, row)) + "\n")
            buf.seek(0)
            cur.execute("DROP TABLE IF EXISTS bench_edge")
            cur.execute(
                "CREATE TABLE bench_edge (id bigint, source bigint, target bigint, "
                "cost float8, reverse_cost float8)"
            )
            cur.copy_expert("COPY bench_edge FROM STDIN", buf)
            edges = "SELECT id, source, target, cost, reverse_cost FROM bench_edge"
        else:
            edges = (
                "SELECT id, u AS source, v AS target, coalesce(cost_car_s, -1) AS cost, "
                "CASE WHEN oneway OR cost_car_s IS NULL THEN -1 ELSE cost_car_s END "
                "AS reverse_cost FROM road_segment"
            )
    conn.close()
    return url, edges, synthetic_graph


#: pgRouting's points: the origin (pid 1) and the facilities (pid 2 ...), on their edges.
PGR_POINTS = "SELECT pid, edge_id, fraction, side FROM bench_point"


def pgr_points(url: str, points: list[tuple[int, int, float]]) -> None:
    """Replace the table ``bench_point`` with ``(pid, edge id, fraction)`` rows, both sides."""
    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS bench_point "
                "(pid bigint, edge_id bigint, fraction float8, side char)"
            )
            cur.execute("TRUNCATE bench_point")
            # pgRouting takes a point at fraction 0 or 1 for the vertex and then mis-costs the
            # other points: keep them a nanometre inside their edge
            cur.executemany(
                "INSERT INTO bench_point VALUES (%s, %s, %s, 'b')",
                [(int(p), int(e), min(max(float(f), 1e-9), 1 - 1e-9)) for p, e, f in points],
            )
    finally:
        conn.close()


def pgr_query(url: str, edges: str, targets: list[int]) -> float:
    """Least cost from point 1 (the origin) to the points ``targets`` (:func:`pgr_points`)."""
    conn = psycopg2.connect(libpq_url(url))
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT min(agg_cost) FROM pgr_withPointsCost(%s, %s, -1, %s::bigint[], "
                "directed => true, driving_side => 'b')",
                (edges, PGR_POINTS, [-t for t in targets]),
            )
            return cur.fetchone()[0]
    finally:
        conn.close()


def memory_bytes(router: Router) -> dict[str, int]:
    a = router.net.arrays
    g = router.mode_graph(MODE)
    graph = sum(a[f"{MODE}.{k}"].nbytes for k in ("indptr", "indices", "weight", "edge"))
    # per node; the per-facility arrays (fac_edge, fac_fraction, ...) are a few bytes per
    # facility, not per node
    table = sum(a[f"{MODE}.{CATEGORY}.{k}"].nbytes for k in ("dist", "code", "fac"))
    snap = g.grid.cell_ptr.nbytes + g.grid.cell_piece.nbytes
    geometry = (
        a["geom_offsets"].nbytes
        + a["geom_lonlat"].nbytes
        + sum(x.nbytes for x in router.net.geometry_xy())
        + a["edge_id"].nbytes
        + a["edge_length_m"].nbytes
        + a[f"edge_cost_{MODE}"].nbytes
        + a["edge_u"].nbytes * 2
        + a["node_lonlat"].nbytes
    )
    return {"graph": graph, "table": table, "snap": snap, "geometry": geometry}


# --- the run --------------------------------------------------------------------------------


def run(label: str, router: Router, pgr_url: str | None, *, osmnx_queries: int) -> None:
    n = router.net.n_nodes
    print(
        f"\n## {label}: {n:,} nodes, {router.net.manifest['n_edges']:,} segments, "
        f"{len(router.net.facilities[CATEGORY])} facilities ({CATEGORY}), mode {MODE}"
    )
    full, core = ours(router)
    pts = origins(router, QUERIES)
    for lat, lon in pts[:200]:
        full(lat, lon)  # warm up (snap index, page cache)
    # best of three runs: other processes on a shared machine only ever add time
    p50, p99 = (min(x) for x in zip(*(percentiles_us(full, pts) for _ in range(3)), strict=True))
    c50, c99 = (min(x) for x in zip(*(percentiles_us(core, pts) for _ in range(3)), strict=True))
    print(f"ours nearest, full JSON result   p50 {p50:8.1f} us   p99 {p99:8.1f} us  (best of 3)")
    print(f"ours nearest, snap+lookup+path   p50 {c50:8.1f} us   p99 {c99:8.1f} us  (best of 3)")

    t0 = time.perf_counter()
    g, _ = nx_graphs(router)
    print(f"(networkx graph built in {time.perf_counter() - t0:.1f} s)")
    proj = router.net.projection()
    table = router.tables(MODE, CATEGORY)
    # the baselines snap each facility to its nearest node, as OSMnx users do
    import osmnx as ox

    fac_xy = proj.forward_xy(np.asarray(table.fac_lonlat)[table.on_network])
    fac_nodes = sorted({int(v) for v in ox.distance.nearest_nodes(g, fac_xy[:, 0], fac_xy[:, 1])})
    few = pts[:osmnx_queries]
    if osmnx_queries:
        g_multi = nx.MultiDiGraph(g)
        t0 = time.perf_counter()
        for lat, lon in few:
            osmnx_way(g_multi, fac_nodes, proj)(lat, lon)
        t_ox = (time.perf_counter() - t0) / len(few)
        print(
            f"OSMnx nearest_nodes + shortest_path to each candidate: {t_ox * 1e3:9.1f} ms/query"
            f"   ours is {t_ox / (p50 / 1e6):,.0f}x faster (p50)"
        )
        del g_multi
    nxq = networkx_way(g, fac_nodes, proj)
    t0 = time.perf_counter()
    for lat, lon in pts[:5]:
        nxq(lat, lon)
    t_nx = (time.perf_counter() - t0) / 5
    print(
        f"networkx nearest_nodes + multi_source_dijkstra:        {t_nx * 1e3:9.1f} ms/query"
        f"   ours is {t_nx / (p50 / 1e6):,.0f}x faster (p50)"
    )

    t_ours, tables = precompute(router)
    rev = nx_with_facilities(g.reverse(copy=False), router, tables)
    sources = {("F", int(i)) for i in np.flatnonzero(tables.on_network)}
    t0 = time.perf_counter()
    nx_dist = nx.multi_source_dijkstra_path_length(rev, sources)
    t_nxpre = time.perf_counter() - t0
    del rev
    sample = RNG.choice(n, min(n, 2000), replace=False)
    diff = max(
        (abs(float(tables.dist_s[i]) - nx_dist[int(i)]) for i in sample if int(i) in nx_dist),
        default=0.0,
    )
    print(
        f"precompute one category: ours {t_ours * 1e3:8.1f} ms   networkx "
        f"{t_nxpre * 1e3:8.1f} ms   ({t_nxpre / t_ours:,.0f}x)   max |diff| {diff:.2e} s"
    )
    per_category = {c: precompute(router, c)[0] for c in sorted(router.net.facilities)}
    print(
        f"precompute per category ({MODE}): "
        + ", ".join(
            f"{c} {t * 1e3:.1f} ms ({len(router.net.facilities[c])})"
            for c, t in per_category.items()
        )
    )

    url, edges, by_index = pgr_setup(pgr_url, router)
    edge_id = np.asarray(router.net.arrays["edge_id"])
    on = np.flatnonzero(table.on_network)
    # every road point of every facility (two for one on a cut-off fragment)
    fac_points = [
        (2 + n, e, f)
        for n, (e, f) in enumerate((p[0], p[2]) for i in on for p in table.points(int(i)))
    ]
    times, agree = [], []
    g_car = router.mode_graph(MODE)
    for lat, lon in pts[:3]:
        snap = g_car.snap(lat, lon)
        points = [(1, snap.edge, snap.fraction), *fac_points]
        if not by_index:  # the database's own segment ids
            points = [(p, int(edge_id[e]), f) for p, e, f in points]
        pgr_points(url, points)
        t0 = time.perf_counter()
        cost = pgr_query(url, edges, [p for p, _, _ in fac_points])
        times.append(time.perf_counter() - t0)
        found = router.best_from_table(snap, MODE, CATEGORY)
        ours_s = math.inf if found is None else found[0]
        if cost is None:
            agree.append(math.isinf(ours_s))
        else:
            agree.append(abs(cost - ours_s) < 1e-3 * max(1.0, ours_s))
    t_pgr = statistics.median(times)
    print(
        f"pgRouting pgr_withPointsCost origin -> all facilities: {t_pgr * 1e3:8.1f} ms/query"
        f"   ours is {t_pgr / (p50 / 1e6):,.0f}x faster (p50)   agrees: {all(agree)}"
    )

    iso_pts = pts[:30]
    for mode in (MODE, "walk"):
        if mode not in router.net.modes:
            continue
        gm = router.mode_graph(mode)
        snaps = [gm.snap(lat, lon) for lat, lon in iso_pts]
        t0 = time.perf_counter()
        found = [bounded_dijkstra(gm, s, 900.0, predecessors=False).dist_s for s in snaps]
        t_b = (time.perf_counter() - t0) / len(snaps)
        reached = [np.isfinite(d).sum() for d in found]
        del found
        t0 = time.perf_counter()
        for lat, lon in iso_pts[:10]:
            router.isochrone(lat, lon, minutes=[15], mode=mode)
        t_iso = (time.perf_counter() - t0) / 10
        print(
            f"15-min isochrone ({mode:>4}): bounded Dijkstra {t_b * 1e3:6.2f} ms "
            f"(~{int(np.median(reached)):,} nodes reached), with polygon {t_iso * 1e3:6.1f} ms"
        )

    mem = memory_bytes(router)
    per = {k: v / n for k, v in mem.items()}
    print(
        f"memory per node: graph {per['graph']:.0f} B + nearest table {per['table']:.0f} B "
        f"+ snap index {per['snap']:.0f} B = {per['graph'] + per['table'] + per['snap']:.0f} "
        f"B/node; segment geometry and ids {per['geometry']:.0f} B/node more"
    )


def main() -> None:
    extracts = ("helsinki.osm.pbf", "andorra.osm.pbf")
    with tempfile.TemporaryDirectory(prefix="sigap-bench-") as tmp:
        cache = Path(tmp)
        try:
            for pbf in extracts:
                router, url = real_router(pbf, cache)
                run(pbf, router, url, osmnx_queries=3)
            for size, oq in ((100_000, 1), (1_000_000, 0)):
                t0 = time.perf_counter()
                seg, facs = synthetic(size)
                router = synthetic_router(seg, facs, cache / f"synthetic{size}")
                print(f"\n(synthetic {size:,} built in {time.perf_counter() - t0:.1f} s)")
                run(f"synthetic ~{size:,}", router, None, osmnx_queries=oq)
                del router, seg, facs
        finally:
            for name in (*map(_db_name, extracts), PGR_DB):
                drop_scratch_database(name)

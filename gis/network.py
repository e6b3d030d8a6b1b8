"""The routing network: build it from PostGIS, keep its cache current, report its status.

Build (``sigap network build``)
-------------------------------
1. Read every ``road_segment`` row and the facilities of every facility layer of the registry
   from PostGIS (:mod:`gis.network_data`).
2. Compute each edge's travel time per mode (:mod:`gis.costs`) and write it back to
   ``road_segment.cost_walk_s`` / ``cost_motorcycle_s`` / ``cost_car_s`` (NULL where the mode
   may not pass), so pgRouting, networkx or plain SQL can reproduce every answer from the
   database alone.
3. Build the arrays (:func:`build_arrays`): node coordinates, per-segment geometry and ids, one
   CSR adjacency per mode (:mod:`gis.graph`), and per mode and facility category the
   nearest-facility tables (:mod:`gis.tables`: each facility joins the network at its
   projection on the nearest segment the mode may use, within
   :data:`gis.snapping.SNAP_LIMIT_M`).
4. Write them as a new cache version and point the manifest at it (:mod:`gis.network_cache`).

Steps 1 and 2 run in one ``REPEATABLE READ`` transaction that first takes
``LOCK TABLE road_segment IN SHARE ROW EXCLUSIVE MODE``: the stamps, segments and facilities
come from one snapshot and no road edit can land between reading a condition and writing the
costs derived from it (edits wait until the costs are written; readers never wait).

A facility further than :data:`gis.snapping.SNAP_LIMIT_M` from a mode's network is left out of
that mode's tables (no route ends there) and listed in the manifest's ``off_network``
(``{mode: {category: [facility id, ...]}}``) and in :attr:`BuildReport.off_network`.

Staleness
---------
The cache of a database is only trusted when its manifest matches on three counts:

* ``stamps["database"]``: the identity of the database (the cluster's ``system_identifier``
  and the database's oid in ``pg_database``, which changes on ``DROP``/``CREATE`` of a
  same-named database and differs between clusters on the same port);
* ``stamps["roads"]`` / ``stamps["facilities"]``: fingerprints of the rows it was built from,
  geometry included (:func:`gis.network_data.database_stamps`);
* ``model``: a hash of the cost model (:func:`gis.network_cache.cost_model_hash`). A cache
  built with another model counts as absent.

``sigap ingest osm`` rebuilds after loading; anything else that changes roads or facilities
calls :func:`build_network` (roads) or :func:`refresh_facilities` (facilities only).

Road reports
------------
Staff change a segment's condition from a verified road report with
:func:`set_road_condition` and undo it with :func:`restore_road_condition`
(:mod:`gis.road_conditions`). Query processes apply such changes within a fraction of a second
without a rebuild (:mod:`gis.live`); the build records the newest change it saw
(``condition_seq`` in the manifest), and the owner's network keeper (:mod:`gis.network_keeper`,
started by ``sigap serve``) writes the costs and rebuilds in the background.
:func:`network_status` compares the manifest with the database, and :func:`rebuild_if_stale`
rebuilds what differs. Query processes (:mod:`gis.routing`) check this on first use and then
in a background thread, never on the request path.

This module is also the facade of the build side: the names other packages use are importable
from here (see ``__all__``).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from gis.costs import CONDITION_FACTORS, MIN_COST_S, MODES, PROFILES, edge_costs, parse_maxspeed_kph
from gis.errors import InvalidInputError
from gis.graph import ModeGraph, largest_component, mode_csr, reverse_graph
from gis.network_cache import (
    CACHE_FORMAT,
    MANIFEST,
    Network,
    NetworkArrays,
    build_lock,
    cache_root,
    cost_model_hash,
    database_key,
    load_network,
    read_manifest,
    read_manifest_file,
    write_cache,
)
from gis.network_data import (
    Facilities,
    Segments,
    database_stamps,
    read_facilities,
    read_segments,
    roads_changed,
    transaction,
    write_costs,
)
from gis.road_conditions import condition_seq, restore_road_condition, set_road_condition
from gis.snapping import SNAP_LIMIT_M, LocalProjection, projected_geometry
from gis.tables import facility_lonlat, nearest_facility_tables
from layers.vocab import FACILITY_CATEGORIES

logger = logging.getLogger(__name__)

__all__ = [
    "CACHE_FORMAT",
    "CONDITION_FACTORS",
    "FACILITY_CATEGORIES",
    "MANIFEST",
    "MIN_COST_S",
    "MODES",
    "PROFILES",
    "SNAP_LIMIT_M",
    "BuildReport",
    "Facilities",
    "LocalProjection",
    "Network",
    "NetworkArrays",
    "Segments",
    "build_arrays",
    "build_network",
    "cache_root",
    "cost_model_hash",
    "database_key",
    "drop_cache",
    "edge_costs",
    "load_network",
    "network_status",
    "parse_maxspeed_kph",
    "parse_modes",
    "read_manifest",
    "rebuild_if_built",
    "rebuild_if_stale",
    "refresh_facilities",
    "restore_road_condition",
    "set_road_condition",
    "write_cache",
]


def build_arrays(
    seg: Segments,
    costs: dict[str, np.ndarray],
    facilities: Facilities,
    *,
    progress: bool | None = None,
) -> NetworkArrays:
    """Turn segments, per-mode costs and facilities into the cache arrays.

    Parameters
    ----------
    seg : Segments
        The road network (graph edges with geometry).
    costs : dict of str to ndarray
        ``mode -> cost_s`` per segment (NaN: impassable for that mode).
    facilities : Facilities
        Facilities per category; each joins a mode's network at its projection on the
        nearest segment the mode may use (:mod:`gis.tables`).
    progress : bool, optional
        Show a progress bar; default only on a terminal.

    Returns
    -------
    NetworkArrays
        Arrays by file name, and the manifest's metadata.
    """
    nodes, inverse = np.unique(np.concatenate([seg.u, seg.v]), return_inverse=True)
    n_nodes, n_edges = len(nodes), len(seg)
    edge_u = inverse[:n_edges].astype(np.int32)
    edge_v = inverse[n_edges:].astype(np.int32)
    node_lonlat = np.zeros((n_nodes, 2))
    if n_edges:
        node_lonlat[edge_u] = seg.geom_lonlat[seg.geom_offsets[:-1]]
        node_lonlat[edge_v] = seg.geom_lonlat[seg.geom_offsets[1:] - 1]
    lat0 = float(np.median(node_lonlat[:, 1])) if n_nodes else 0.0
    lon0 = float(np.median(node_lonlat[:, 0])) if n_nodes else 0.0
    proj = LocalProjection(lat0, lon0)
    arrays: dict[str, np.ndarray] = {
        "node_osm_id": nodes.astype(np.int64),
        "node_lonlat": node_lonlat,
        "edge_id": seg.id.astype(np.int64),
        "edge_u": edge_u,
        "edge_v": edge_v,
        "edge_length_m": seg.length_m.astype(float),
        "edge_oneway": seg.oneway.astype(bool),
        "geom_offsets": seg.geom_offsets.astype(np.int64),
        "geom_lonlat": seg.geom_lonlat,
    }
    arrays["geom_xy"], arrays["geom_cum_m"] = projected_geometry(
        proj, seg.geom_lonlat, seg.geom_offsets
    )
    cats: dict[str, list[dict]] = {c: f for c, f in facilities.by_category.items() if f}
    meta: dict = {"lat0": lat0, "lon0": lon0, "n_nodes": n_nodes, "n_edges": n_edges}
    meta["modes"] = {}
    steps = [(m, c) for m in costs for c in cats]
    bar = tqdm(total=len(steps), desc="Nearest-facility tables", disable=_disable(progress))
    with bar:
        for mode, cost in costs.items():
            oneway = seg.oneway if PROFILES[mode].oneway else np.zeros(n_edges, bool)
            indptr, indices, weight, code = mode_csr(n_nodes, edge_u, edge_v, cost, oneway)
            arrays[f"edge_cost_{mode}"] = cost.astype(float)
            arrays[f"{mode}.indptr"] = indptr
            arrays[f"{mode}.indices"] = indices
            arrays[f"{mode}.weight"] = weight
            arrays[f"{mode}.edge"] = code
            graph = ModeGraph(arrays, proj, mode)
            main = largest_component(graph.graph)
            meta["modes"][mode] = {"entries": int(len(indices)), "main_nodes": int(main.sum())}
            _add_tables(arrays, meta, graph, cats, bar)
    meta["facilities"] = cats
    return NetworkArrays(arrays, meta)


def _add_tables(arrays: dict, meta: dict, graph: ModeGraph, cats: dict, bar=None) -> None:
    """Compute the tables of every category for ``graph``'s mode into ``arrays``."""
    reverse = reverse_graph(graph)
    for cat, facs in cats.items():
        tables = nearest_facility_tables(graph, facility_lonlat(facs), reverse=reverse)
        arrays.update(tables.to_arrays(f"{graph.mode}.{cat}"))
        _note_off_network(meta, graph.mode, cat, facs, tables.fac_edge)
        if bar is not None:
            bar.update(1)


def _note_off_network(meta: dict, mode: str, cat: str, facs: list[dict], fac_edge) -> None:
    """Record (and log) the facilities of ``cat`` that are off ``mode``'s network."""
    off = [int(facs[i]["id"]) for i in np.flatnonzero(np.asarray(fac_edge) < 0)]
    if off:
        meta.setdefault("off_network", {}).setdefault(mode, {})[cat] = off
        logger.warning(
            "%d %s facilities are more than %g m from the %s network and are left out: ids %s",
            len(off),
            cat,
            SNAP_LIMIT_M,
            mode,
            off[:10],
        )


def _disable(progress: bool | None) -> bool | None:
    return None if progress is None else not progress


@dataclass
class BuildReport:
    """What a build did.

    Parameters
    ----------
    root : Path
        The cache directory.
    version : str
        The version written.
    modes : list of str
        The modes the cache holds.
    segments, nodes : int
        Size of the network.
    updated_rows : int
        ``road_segment`` rows whose costs changed.
    categories : dict of str to int
        Facilities per category.
    seconds : float
        Wall time of the build.
    off_network : dict
        ``{mode: {category: [facility id, ...]}}`` of facilities beyond
        :data:`gis.snapping.SNAP_LIMIT_M` from the mode's roads.
    """

    root: Path
    version: str
    modes: list[str]
    segments: int
    nodes: int
    updated_rows: int
    categories: dict[str, int]
    seconds: float
    off_network: dict[str, dict[str, list[int]]] = field(default_factory=dict)


def parse_modes(mode: str | Iterable[str] | None) -> list[str]:
    """Read a ``modes`` argument: ``"all"`` or None is every mode, else the modes named.

    Parameters
    ----------
    mode : str, iterable of str or None
        What the caller asked for.

    Returns
    -------
    list of str
        Modes, each one of :data:`MODES`.

    Raises
    ------
    InvalidInputError
        An unknown mode.
    """
    if mode is None or mode == "all":
        return list(MODES)
    modes = [mode] if isinstance(mode, str) else list(mode)
    for m in modes:
        if m not in MODES:
            msg = f"Unknown mode '{m}'; choose one of {', '.join(MODES)}."
            raise InvalidInputError(msg, param="mode")
    return modes


def build_network(
    url: str,
    *,
    modes: str | Iterable[str] | None = None,
    cache_dir: Path | None = None,
    progress: bool | None = None,
) -> BuildReport:
    """Build the routing network of the database at ``url``.

    Computes travel times, writes them back to ``road_segment``, precomputes the
    nearest-facility tables and writes a new cache version.

    Parameters
    ----------
    url : str
        Database URL.
    modes : str or iterable of str, optional
        ``"all"`` (default) or some of :data:`MODES`. Modes not named keep their cached arrays
        when the roads have not changed since they were built, and are dropped otherwise (a
        later query rebuilds them).
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).
    progress : bool, optional
        Show progress bars; default only on a terminal.

    Returns
    -------
    BuildReport
        What was built.
    """
    t0 = time.perf_counter()
    wanted = parse_modes(modes)
    root = cache_root(url, cache_dir)
    with build_lock(root):
        previous = read_manifest(root)
        # One snapshot for the stamps, roads and facilities; road edits wait until the costs
        # derived from them are written (SHARE ROW EXCLUSIVE: readers pass, writers and other
        # builds wait). The lock comes before the first query, so the snapshot follows it.
        with transaction(url, repeatable=True) as cur:
            cur.execute("LOCK TABLE road_segment IN SHARE ROW EXCLUSIVE MODE")
            stamps = database_stamps(cur)
            seq = condition_seq(cur)
            seg = read_segments(cur)
            facilities = read_facilities(cur)
            if previous and not roads_changed(previous, stamps):
                keep = [m for m in previous.get("modes", {}) if m not in wanted]
            else:
                keep = []
            build_modes = [m for m in MODES if m in wanted or m in keep]
            costs = {
                m: edge_costs(m, seg.highway, seg.maxspeed, seg.length_m, seg.condition)
                for m in build_modes
            }
            updated = write_costs(cur, seg.id, {m: costs[m] for m in wanted})
        net = build_arrays(seg, costs, facilities, progress=progress)
        manifest = write_cache(root, net, {"stamps": stamps, "condition_seq": seq})
    report = BuildReport(
        root=root,
        version=manifest["version"],
        modes=build_modes,
        segments=len(seg),
        nodes=int(manifest["n_nodes"]),
        updated_rows=updated,
        categories={c: len(f) for c, f in net.meta["facilities"].items()},
        seconds=time.perf_counter() - t0,
        off_network=manifest.get("off_network", {}),
    )
    logger.info("built network %s in %.2f s", report.version, report.seconds)
    return report


def refresh_facilities(
    url: str, *, cache_dir: Path | None = None, progress: bool | None = None
) -> BuildReport:
    """Recompute only the nearest-facility tables (facilities changed, roads did not).

    Falls back to a full :func:`build_network` when there is no cache yet or the roads changed.

    Parameters
    ----------
    url : str
        Database URL.
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).
    progress : bool, optional
        Show progress bars; default only on a terminal.

    Returns
    -------
    BuildReport
        What was built.
    """
    t0 = time.perf_counter()
    root = cache_root(url, cache_dir)
    previous = read_manifest(root)
    stamps = _stamps(url)
    if previous is None or roads_changed(previous, stamps):
        return build_network(url, cache_dir=cache_dir, progress=progress)
    with build_lock(root):
        old = load_network(root, writable_weights=False)
        with transaction(url, repeatable=True) as cur:
            stamps = database_stamps(cur)
            facilities = read_facilities(cur)
        moved = roads_changed(old.manifest, stamps)  # changed while we waited for the lock?
        if not moved:
            cats = {c: f for c, f in facilities.by_category.items() if f}
            manifest = _write_tables(root, old, cats, stamps)
    if moved:  # outside the lock: build_network takes it itself
        return build_network(url, cache_dir=cache_dir, progress=progress)
    return BuildReport(
        root=root,
        version=manifest["version"],
        modes=list(manifest["modes"]),
        segments=int(manifest["n_edges"]),
        nodes=int(manifest["n_nodes"]),
        updated_rows=0,
        categories={c: len(f) for c, f in cats.items()},
        seconds=time.perf_counter() - t0,
        off_network=manifest.get("off_network", {}),
    )


def _write_tables(root: Path, old: Network, cats: dict[str, list[dict]], stamps: dict) -> dict:
    """Write a new cache version: ``old``'s graph with nearest-facility tables for ``cats``."""
    arrays = {k: v for k, v in old.arrays.items() if k.count(".") < 2}
    dropped = ("version", "built_at", "off_network")
    meta = {k: v for k, v in old.manifest.items() if k not in dropped}
    for mode in old.modes:
        _add_tables(arrays, meta, ModeGraph.from_network(old, mode), cats)
    meta["facilities"] = cats
    meta["stamps"] = stamps
    return write_cache(root, NetworkArrays(arrays, meta))


def _stamps(url: str) -> dict[str, str]:
    with transaction(url, repeatable=True) as cur:
        return database_stamps(cur)


def network_status(url: str, *, cache_dir: Path | None = None) -> dict:
    """Tell whether the cached network matches the database and the code.

    Parameters
    ----------
    url : str
        Database URL.
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).

    Returns
    -------
    dict
        ``{"built", "stale", "version", ...}``; ``model_changed`` (the cost model or cache
        format differ: a cache built by other code, which counts as not built),
        ``database_changed`` (another database of that name, see
        :func:`gis.network_data.database_stamps`), ``roads_changed`` (roads or database) and
        ``facilities_changed``.
    """
    root = cache_root(url, cache_dir)
    manifest = read_manifest(root)
    if manifest is None:
        raw = read_manifest_file(root)
        return {
            "built": False,
            "stale": True,
            "model_changed": raw is not None,
            "version": None,
            "path": str(root),
        }
    stamps = _stamps(url)
    old = manifest.get("stamps", {})
    return {
        "built": True,
        "stale": old != stamps,
        "model_changed": False,
        "database_changed": old.get("database") != stamps["database"],
        "roads_changed": roads_changed(manifest, stamps),
        "facilities_changed": old.get("facilities") != stamps["facilities"],
        "version": manifest["version"],
        "built_at": manifest.get("built_at"),
        "modes": list(manifest.get("modes", {})),
        "path": str(root),
    }


def rebuild_if_stale(
    url: str, *, cache_dir: Path | None = None, progress: bool | None = None
) -> BuildReport | None:
    """Rebuild what changed: roads, everything; facilities only, the tables.

    Parameters
    ----------
    url : str
        Database URL.
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).
    progress : bool, optional
        Show progress bars; default only on a terminal.

    Returns
    -------
    BuildReport or None
        What was rebuilt; None when the cache was current.
    """
    status = network_status(url, cache_dir=cache_dir)
    if not status["stale"]:
        return None
    if status["built"] and not status["roads_changed"]:
        return refresh_facilities(url, cache_dir=cache_dir, progress=progress)
    return build_network(url, cache_dir=cache_dir, progress=progress)


def rebuild_if_built(
    url: str, *, cache_dir: Path | None = None, progress: bool | None = None
) -> BuildReport | None:
    """Bring an existing cache up to date after an ingest; do nothing when none was built.

    Without a cache, the first query (or ``sigap network build``) builds it.

    Parameters
    ----------
    url : str
        Database URL.
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).
    progress : bool, optional
        Show progress bars; default only on a terminal.

    Returns
    -------
    BuildReport or None
        What was rebuilt; None when nothing was built or the cache was current.
    """
    if read_manifest(cache_root(url, cache_dir)) is None:
        return None
    return rebuild_if_stale(url, cache_dir=cache_dir, progress=progress)


def drop_cache(url: str, *, cache_dir: Path | None = None) -> None:
    """Delete the network cache of the database at ``url`` (e.g. when it is dropped).

    Parameters
    ----------
    url : str
        Database URL.
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).
    """
    shutil.rmtree(cache_root(url, cache_dir), ignore_errors=True)

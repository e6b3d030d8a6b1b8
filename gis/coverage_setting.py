"""The setting of planning analyses: the network, the areas and the road pieces per area.

A :class:`Setting` is loaded once per database, network version and choice of areas, and kept
(:func:`load_setting`); answers then only compute what depends on the request.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from gis import coverage_cache as cache
from gis import validate
from gis.coverage_areas import AreaPieces, Areas, drop_empty, hex_areas, split_edges
from gis.coverage_frame import Frame, make_frame
from gis.coverage_report import area_features
from gis.routing import Router, get_router

logger = logging.getLogger(__name__)


@dataclass
class Setting:
    """Everything analyses of one database share: the network, the areas, their road pieces.

    Attributes
    ----------
    router : Router
        The loaded routing network.
    url : str or None
        The database (None: a network without one, e.g. a benchmark's).
    classes : ndarray of object [E]
        Each segment's ``highway`` class.
    areas : Areas
        The areas analysed.
    pieces : AreaPieces
        Road pieces per area.
    stamp : dict
        What the answers depend on besides the request (the cache key's base).
    capacities : dict of str to ndarray
        Facility capacities per category (read on first use).
    """

    router: Router
    url: str | None
    classes: np.ndarray
    areas: Areas
    pieces: AreaPieces
    stamp: dict
    capacities: dict[str, np.ndarray] = field(default_factory=dict)
    _frames: dict[str, Frame] = field(default_factory=dict, repr=False)
    _features: list[dict] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def frame(self, mode: str) -> Frame:
        """Give the fixed inputs of ``mode`` (built once)."""
        with self._lock:
            f = self._frames.get(mode)
            if f is None:
                g = self.router.mode_graph(mode)
                f = self._frames[mode] = make_frame(g, self.areas, self.pieces, self.classes)
            return f

    def area_features(self) -> list[dict]:
        """Give the areas' GeoJSON geometry (computed once)."""
        if self._features is None:
            self._features = area_features(self.areas)
        return self._features

    def facilities(self, category: str) -> list[dict]:
        """List the stored facilities of ``category`` (possibly none)."""
        return list(self.router.net.facilities.get(category) or [])

    def capacity(self, category: str) -> np.ndarray:
        """Give each facility's capacity (see :mod:`gis.coverage_inputs`; 1 without a DB)."""
        cap = self.capacities.get(category)
        if cap is None:
            facs = self.facilities(category)
            if self.url is None:
                cap = np.ones(len(facs))
            else:
                from gis.coverage_inputs import read_capacities

                cap = read_capacities(self.url, facs)
            self.capacities[category] = cap
        return cap

    def base_tables(self, mode: str, category: str):
        """Give the stored facilities' ``(dist_s, fac_edge, fac_fraction)`` for ``mode``."""
        if self.facilities(category):
            t = self.router.tables(mode, category)
            return np.asarray(t.dist_s), np.asarray(t.fac_edge), np.asarray(t.fac_fraction)
        n = self.router.mode_graph(mode).n_nodes
        return np.full(n, np.inf, np.float32), np.zeros(0, np.int32), np.zeros(0)


_settings: OrderedDict[tuple, Setting] = OrderedDict()
_settings_lock = threading.Lock()
_classes: dict[tuple, np.ndarray] = {}


def setting_from_router(
    router: Router,
    classes: np.ndarray,
    *,
    areas: Areas | None = None,
    hex_resolution: int | None = None,
) -> Setting:
    """Build a setting for a network without a database (benchmarks, tests).

    Parameters
    ----------
    router : Router
        A loaded network.
    classes : ndarray of object [E]
        Each segment's ``highway`` class.
    areas : Areas, optional
        The areas (default: a hexagon grid).
    hex_resolution : int, optional
        Resolution of the default grid.

    Returns
    -------
    Setting
        The setting (answers are cached in memory only).
    """
    g = router.mode_graph(router.net.modes[0])
    if areas is None:
        areas = hex_areas(np.asarray(g.lonlat), hex_resolution)
    areas, pieces = drop_empty(areas, split_edges(g, areas))
    stamp = {"network": router.net.version, "areas": areas.kind}
    return Setting(router, None, np.asarray(classes, dtype=object), areas, pieces, stamp)


def load_setting(
    url: str | None,
    *,
    mode: str,
    by: str | None = None,
    admin_level: int | None = None,
    hex_resolution: int | None = None,
    progress: bool | None = None,
) -> Setting:
    """Load (or reuse) the setting of a database for analyses by ``mode``.

    Parameters
    ----------
    url : str or None
        Database URL (default: the configured database).
    mode : str
        A mode (its graph is built if the cache lacks it).
    by : str, optional
        ``admin_area`` or ``hex``; default admin areas when any are loaded, else hexagons
        (also when ``admin_area`` is asked for and none are loaded).
    admin_level : int, optional
        Which level of admin areas (default the most detailed loaded).
    hex_resolution : int, optional
        H3 resolution of the grid (default: from the network's extent).
    progress : bool, optional
        Show a progress bar (default: only on a terminal).

    Returns
    -------
    Setting
        The setting.

    Raises
    ------
    InvalidInputError
        No admin area of ``admin_level``.
    """
    from tqdm import tqdm

    from gis.coverage_inputs import admin_levels, planning_stamp, read_edge_classes

    router = get_router(url, mode=mode)
    manifest = router.net.manifest
    bar = tqdm(total=3, desc="Coverage: areas", disable=None if progress is None else not progress)
    with bar:
        resolved = url if url is not None else _default_url()
        stamp_areas = planning_stamp(resolved)
        levels = admin_levels(resolved)
        kind = by or ("admin_area" if levels else "hex")
        if kind == "admin_area" and not levels:
            kind = "hex"
        level = None
        if kind == "admin_area":
            known = [lv for lv in levels if lv is not None]
            if admin_level is not None and admin_level not in levels:
                shown = ", ".join(str(lv) for lv in known) or "none"
                msg = f"No admin areas of level {admin_level}; the levels loaded are: {shown}."
                raise validate.bad("admin_level", msg)
            level = admin_level if admin_level is not None else (max(known) if known else None)
        key = (
            resolved,
            manifest.get("version"),
            stamp_areas,
            kind,
            level,
            hex_resolution if kind == "hex" else None,
        )
        with _settings_lock:
            found = _settings.get(key)
            if found is not None:
                _settings.move_to_end(key)
                return found
        bar.update(1)
        ckey = (resolved, manifest.get("version"))
        classes = _classes.get(ckey)
        if classes is None:
            classes = read_edge_classes(resolved, np.asarray(router.net.arrays["edge_id"]))
            _classes[ckey] = classes
        g = router.mode_graph(mode)
        if kind == "admin_area":
            areas = _admin_areas(resolved, level)
        else:
            areas = hex_areas(np.asarray(g.lonlat), hex_resolution)
        bar.set_description("Coverage: road pieces per area")
        bar.update(1)
        pieces = _pieces(resolved, manifest, stamp_areas, g, areas, key)
        areas, pieces = drop_empty(areas, pieces)
        bar.update(1)
    stamp = {
        "stamps": manifest.get("stamps"),
        "model": manifest.get("model"),
        "planning": stamp_areas,
        "areas": kind,
        "admin_level": level,
        "hex_resolution": areas.hex_resolution,
    }
    setting = Setting(router, resolved, classes, areas, pieces, stamp)
    with _settings_lock:
        _settings[key] = setting
        while len(_settings) > 8:
            _settings.popitem(last=False)
    return setting


def _default_url() -> str:
    from gis.db import database_url

    return database_url(start=False)


def _admin_areas(url: str, level: int | None) -> Areas:
    import shapely

    from gis.coverage_inputs import read_admin_areas

    rows = read_admin_areas(url, level)
    geoms = np.array([shapely.from_wkb(bytes(r[5])) for r in rows], dtype=object)
    return Areas(
        kind="admin_area",
        keys=[f"admin_area/{r[0]}" for r in rows],
        ids=[int(r[0]) for r in rows],
        names=[r[1] for r in rows],
        codes=[r[2] for r in rows],
        levels=[r[3] for r in rows],
        population=np.array([np.nan if r[4] is None else float(r[4]) for r in rows]),
        geoms=geoms,
        admin_level=level,
    )


def _pieces(url: str, manifest: dict, stamp: str, graph, areas: Areas, key: tuple) -> AreaPieces:
    ckey = cache.cache_key(
        kind="pieces",
        roads=(manifest.get("stamps") or {}).get("roads"),
        database=(manifest.get("stamps") or {}).get("database"),
        model=manifest.get("model"),
        areas=stamp,
        by=key[3:],
        hexes=areas.keys if areas.kind == "hex" else None,
    )
    names = ("edge", "area", "f0", "f1")
    found = cache.get_arrays(url, ckey, names)
    if found is not None:
        return AreaPieces(found["edge"], found["area"], found["f0"], found["f1"])
    pieces = split_edges(graph, areas)
    cache.put_arrays(url, ckey, pieces.to_arrays())
    return pieces

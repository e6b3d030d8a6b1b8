"""Planning analyses: coverage gaps, accessibility, where to build, what-if scenarios.

The public functions (the CLI's ``sigap coverage`` / ``sigap suggest`` and the API's
``/api/coverage``, ``/api/suggest`` and ``/api/scenario`` call them and print or return their
JSON unchanged):

* :func:`coverage`: for a facility category, a mode and T minutes, the share of road length
  and of nodes beyond T, per area (admin areas, else an H3 hexagon grid) with people beyond T
  and an E2SFCA accessibility score, and the gap layer;
* :func:`suggest`: the ``count`` sites that would newly cover the most demand;
* :func:`scenario`: the coverage with roads closed and facilities added or removed, against
  the baseline.

How each part is computed is documented in its module: :mod:`gis.coverage_gaps` (nodes and
partial segments), :mod:`gis.coverage_areas` (areas, hexagons, population),
:mod:`gis.coverage_access` (E2SFCA and its distance decay), :mod:`gis.coverage_location`
(greedy MCLP), :mod:`gis.coverage_scenario` (what-if) and :mod:`gis.coverage_cache` (the
result cache and its invalidation). Every answer is computed from the routing network's cache
(:func:`gis.routing.get_router`) plus a few reads of PostGIS (segment classes, admin areas,
capacities); nothing is written to the database.
"""

from __future__ import annotations

import logging

import numpy as np

from gis import coverage_cache as cache
from gis import validate
from gis.coverage_analysis import Analysis, analyse
from gis.coverage_location import (
    CANDIDATE_CLASSES,
    Demand,
    build_model,
    greedy,
)
from gis.coverage_reach import node_entries, point_entries
from gis.coverage_report import scenario_change, site_features
from gis.coverage_request import (
    AREA_KINDS,
    MAX_CANDIDATE_POINTS,
    MAX_COUNT,
    MAX_MINUTES,
    answer_body,
    answer_head,
    baseline,
    check_request,
    facility_info,
    request_setting,
    validate_count,
    validate_threshold,
)
from gis.coverage_scenario import Scenario, closed_segments, parse_scenario
from gis.coverage_setting import Setting, load_setting, setting_from_router
from gis.routing import nearest_facility_tables, reverse_graph

logger = logging.getLogger(__name__)

__all__ = [
    "AREA_KINDS",
    "MAX_COUNT",
    "MAX_MINUTES",
    "Setting",
    "coverage",
    "coverage_of",
    "load_setting",
    "scenario",
    "scenario_of",
    "setting_from_router",
    "site_model",
    "suggest",
    "suggest_of",
    "validate_count",
    "validate_threshold",
]


def coverage_of(
    setting: Setting, category: str, mode: str, minutes: float, *, gaps: bool = True
) -> dict:
    """Answer :func:`coverage` on a loaded setting (arguments already checked).

    Returns
    -------
    dict
        The JSON of :func:`coverage`.
    """
    key = cache.cache_key(
        analysis="coverage",
        base=setting.stamp,
        category=category,
        mode=mode,
        minutes=minutes,
        gaps=gaps,
    )
    found = cache.get(setting.url, key)
    if found is not None:
        return found
    analysis = baseline(setting, category, mode, minutes * 60.0)
    facs = setting.facilities(category)
    _, fac_edge, _ = setting.base_tables(mode, category)
    out = answer_head("coverage", key, setting, category, mode, minutes)
    out["facilities"] = facility_info(setting, category, fac_edge, facs)
    out.update(answer_body(analysis, setting, gaps=gaps))
    cache.put(setting.url, key, out)
    return out


def coverage(
    category: object,
    mode: object,
    minutes: object,
    *,
    url: str | None = None,
    by: object = None,
    admin_level: object = None,
    hex_resolution: object = None,
    gaps: bool = True,
    progress: bool | None = None,
) -> dict:
    """Analyse how much of the network is more than ``minutes`` from a facility of a category.

    Parameters
    ----------
    category : str
        A facility category (``health``, ``government``, ..., or a waste-bin kind). One
        without facilities is a valid answer: everything is beyond T.
    mode : str
        ``walk``, ``motorcycle`` or ``car``.
    minutes : float
        T, above 0 and at most :data:`MAX_MINUTES`.
    url : str, optional
        Database URL (default: the configured database).
    by : str, optional
        ``admin_area`` or ``hex`` (default: admin areas when any are loaded, else hexagons).
    admin_level : int, optional
        Level of admin areas (default: the most detailed loaded).
    hex_resolution : int, optional
        H3 resolution of the hexagon grid (default: from the network's extent).
    gaps : bool
        Include the gap layer.
    progress : bool, optional
        Show a progress bar (default: only on a terminal).

    Returns
    -------
    dict
        ``analysis`` (``coverage``), ``key`` (of the inputs), ``category``, ``mode``,
        ``minutes``, ``threshold_s``, ``areas_kind``, ``admin_level``, ``hex_resolution``;
        ``facilities`` (``count``, ``on_network``, ``off_network`` ids); ``summary``
        (``nodes``, ``nodes_beyond``, ``nodes_unreachable``, ``share_nodes_beyond``,
        ``road_length_m``, ``road_length_beyond_m``, ``share_length_beyond``,
        ``population``, ``population_beyond``); ``demand_unit``, ``accessibility_unit``,
        ``decay``; ``areas`` (a FeatureCollection, one feature per area with ``key``, ``id``,
        ``name``, ``code``, ``admin_level``, ``road_length_m``, ``road_length_beyond_m``,
        ``share_beyond``, ``population``, ``population_beyond``, ``residential_road_m``,
        ``accessibility``); ``outside`` (roads in no area); ``bands`` (the gap layer's
        classes) and ``gaps`` (a FeatureCollection of the pieces beyond T).

    Raises
    ------
    InvalidInputError
        A bad category, mode, minutes, by, admin_level or hex_resolution.
    NotFoundError
        The database has no road network.
    """
    category, mode, minutes = check_request(category, mode, minutes)
    setting = request_setting(url, mode, by, admin_level, hex_resolution, progress)
    return coverage_of(setting, category, mode, minutes, gaps=gaps)


# --- where to build -------------------------------------------------------------------------


def _candidates(setting: Setting, mode: str, points: list[tuple[float, float]] | None):
    """Candidate sites: ``(lonlat [C, 2], entries, entry nodes, xy [C, 2], info)``."""
    g = setting.frame(mode).graph
    if points is None:
        frame = setting.frame(mode)
        major = np.isin(setting.classes, list(CANDIDATE_CLASSES)) & frame.usable
        nodes = np.unique(
            np.concatenate([np.asarray(g.edge_u)[major], np.asarray(g.edge_v)[major]])
        )
        lonlat = np.asarray(g.node_lonlat, dtype=float)[nodes]
        entries = node_entries(nodes)
        info = {"source": "roads", "classes": sorted(CANDIDATE_CLASSES), "count": len(nodes)}
        return lonlat, entries, nodes, g.proj.forward_xy(lonlat), info
    lonlat = np.array([[lon, lat] for lat, lon in points], dtype=float).reshape(-1, 2)
    edge = np.full(len(lonlat), -1, np.int64)
    frac = np.zeros(len(lonlat))
    for i, (lon, lat) in enumerate(lonlat.tolist()):
        snap = g.locate(lat, lon)
        if snap is not None:
            edge[i], frac[i] = snap.edge, snap.fraction
    entries = point_entries(g, edge, frac)
    near = np.zeros(len(lonlat), np.int64)
    near[entries[0][::-1]] = entries[1][::-1]  # any entry node of each point
    near = np.where(edge >= 0, near, 0)
    ok = edge >= 0
    info = {
        "source": "points",
        "classes": None,
        "count": int(len(lonlat)),
        "on_network": int(ok.sum()),
    }
    xy = g.proj.forward_xy(lonlat)
    return lonlat, entries, near, xy, info


def site_model(
    setting: Setting,
    category: str,
    mode: str,
    threshold_s: float,
    candidates: list[tuple[float, float]] | None = None,
):
    """Build the site-choice model of :mod:`gis.coverage_location` for one analysis.

    Returns
    -------
    tuple
        ``(baseline Analysis (no accessibility score), Model, candidate lonlat [C, 2], entry
        node [C], xy [C, 2], candidates info)``.
    """
    frame = setting.frame(mode)
    # where to build needs the units and the figures, not the accessibility score
    base = baseline(setting, category, mode, threshold_s, accessibility=False)
    units = base.units
    weight = units.people if frame.demand_unit == "people" else units.length_m
    keep = weight > 0
    demand = Demand(units.edge[keep], 0.5 * (units.lo + units.hi)[keep], weight[keep])
    lonlat, entries, near, xy, info = _candidates(setting, mode, candidates)
    model = build_model(
        frame.graph, frame.reverse, demand, entries, len(lonlat), threshold_s, space=frame.space
    )
    info.setdefault("on_network", int(len(np.unique(entries[0]))))
    return base, model, lonlat, near, xy, info


def suggest_of(
    setting: Setting,
    category: str,
    mode: str,
    minutes: float,
    count: int,
    *,
    candidates: list[tuple[float, float]] | None = None,
) -> dict:
    """Answer :func:`suggest` on a loaded setting (arguments already checked).

    Returns
    -------
    dict
        The JSON of :func:`suggest`.
    """
    key = cache.cache_key(
        analysis="suggest",
        base=setting.stamp,
        category=category,
        mode=mode,
        minutes=minutes,
        count=count,
        candidates=candidates,
    )
    found = cache.get(setting.url, key)
    if found is not None:
        return found
    threshold_s = minutes * 60.0
    frame = setting.frame(mode)
    base, model, lonlat, near, xy, info = site_model(
        setting, category, mode, threshold_s, candidates
    )
    choice = greedy(model, count, xy, near) if info["on_network"] else None
    picked = [] if choice is None else choice.sites
    gains = [] if choice is None else choice.gains
    base_lonlat = np.array(
        [[f["lon"], f["lat"]] for f in setting.facilities(category)], dtype=float
    ).reshape(-1, 2)
    cap = np.concatenate([setting.capacity(category), np.ones(len(picked))])
    sites = []
    before = base
    g = frame.graph
    for rank, c in enumerate(picked, start=1):
        fac = np.vstack([base_lonlat, lonlat[picked[:rank]]])
        t = nearest_facility_tables(g, fac, reverse=frame.reverse)
        after = analyse(
            frame,
            t.dist_s,
            threshold_s,
            fac_edge=t.fac_edge,
            fac_fraction=t.fac_fraction,
            capacity=cap[: len(fac)],
            accessibility=False,
        )
        sites.append(_site(rank, c, lonlat[c], before, after, gains[rank - 1], setting, near))
        before = after
    out = answer_head("suggest", key, setting, category, mode, minutes)
    out.update(
        {
            "count": count,
            "candidates": {**info, "considered": 0 if choice is None else choice.candidates},
            "demand_unit": frame.demand_unit,
            "baseline": base.summary(),
            "after": before.summary(),
            "sites": site_features(sites),
            "method": {
                "name": "greedy with lazy evaluation (CELF)",
                "model_demand": "people" if frame.demand_unit == "people" else "road_m",
                "evaluations": 0 if choice is None else choice.evaluations,
                "cluster_searches": 0 if choice is None else choice.cluster_searches,
            },
        }
    )
    if len(picked) < count:
        out["message"] = (
            f"Only {len(picked)} of the {count} sites asked for would newly cover any demand."
        )
    cache.put(setting.url, key, out)
    return out


def _site(rank, c, lonlat, before: Analysis, after: Analysis, gain, setting, near) -> dict:
    total = after.road_length_m
    b, a = before.summary(), after.summary()
    people = None
    if b["population_beyond"] is not None:
        people = round(b["population_beyond"] - a["population_beyond"], 1)
    return {
        "rank": rank,
        "lat": round(float(lonlat[1]), 7),
        "lon": round(float(lonlat[0]), 7),
        "candidate": int(c),
        "newly_covered_length_m": round(before.beyond_m - after.beyond_m, 1),
        "newly_covered_share": round((before.beyond_m - after.beyond_m) / total, 6)
        if total
        else 0.0,
        "newly_covered_people": people,
        "newly_covered_nodes": b["nodes_beyond"] - a["nodes_beyond"],
        "share_length_beyond_after": a["share_length_beyond"],
        "model_gain": round(float(gain), 3),
    }


def suggest(
    category: object,
    mode: object,
    minutes: object,
    count: object,
    *,
    url: str | None = None,
    candidates: list | None = None,
    by: object = None,
    admin_level: object = None,
    hex_resolution: object = None,
    progress: bool | None = None,
) -> dict:
    """Suggest ``count`` new sites that would cover the most demand now beyond T.

    Parameters
    ----------
    category, mode, minutes
        As :func:`coverage`.
    count : int
        How many sites, 1 to :data:`MAX_COUNT`.
    url : str, optional
        Database URL.
    candidates : list of (lat, lon), optional
        Candidate points (at most :data:`MAX_CANDIDATE_POINTS`); default every node on a road
        of class tertiary or higher (:data:`gis.coverage_location.CANDIDATE_CLASSES`).
    by, admin_level, hex_resolution, progress
        As :func:`coverage` (the areas decide where people live).

    Returns
    -------
    dict
        The head of :func:`coverage` (``analysis`` ``suggest``), ``count``, ``candidates``
        (``source`` ``roads`` or ``points``, ``classes``, ``count``, ``considered``),
        ``demand_unit``, ``baseline`` and ``after`` (summaries as :func:`coverage`'s, before
        and with every site), ``sites`` (a FeatureCollection of Points, in the order chosen,
        each with ``rank``, ``lat``, ``lon``, ``candidate``, ``newly_covered_length_m``,
        ``newly_covered_share`` (of the network's length), ``newly_covered_people``,
        ``newly_covered_nodes``, ``share_length_beyond_after`` and ``model_gain``: each
        figure is the exact change when that site is added to those before it), ``method``
        and, when fewer sites help than asked for, ``message``.

    Raises
    ------
    InvalidInputError
        Bad input (as :func:`coverage`, and ``count`` or ``candidates``).
    """
    category, mode, minutes = check_request(category, mode, minutes)
    count = validate_count(count)
    if candidates is not None:
        if len(candidates) > MAX_CANDIDATE_POINTS:
            msg = f"At most {MAX_CANDIDATE_POINTS} candidate points, got {len(candidates)}."
            raise validate.bad("candidates", msg)
        candidates = [validate.point(lat, lon) for lat, lon in candidates]
    setting = request_setting(url, mode, by, admin_level, hex_resolution, progress)
    return suggest_of(setting, category, mode, minutes, count, candidates=candidates)


# --- what-if ----------------------------------------------------------------------------------


def scenario_of(
    setting: Setting, category: str, mode: str, minutes: float, what: Scenario, *, gaps: bool = True
) -> dict:
    """Answer :func:`scenario` on a loaded setting (arguments already checked).

    Returns
    -------
    dict
        The JSON of :func:`scenario`.
    """
    key = cache.cache_key(
        analysis="scenario",
        base=setting.stamp,
        category=category,
        mode=mode,
        minutes=minutes,
        scenario=what.as_dict(),
        gaps=gaps,
    )
    found = cache.get(setting.url, key)
    if found is not None:
        return found
    threshold_s = minutes * 60.0
    frame = setting.frame(mode)
    base = baseline(setting, category, mode, threshold_s)
    facs = setting.facilities(category)
    known = {int(f["id"]) for f in facs}
    unknown = [i for i in what.remove_facilities if i not in known]
    if unknown:
        msg = f"Unknown {category} facility ids in 'remove_facilities': {unknown[:10]}."
        raise validate.bad("remove_facilities", msg)
    keep = [i for i, f in enumerate(facs) if int(f["id"]) not in set(what.remove_facilities)]
    lonlat = [[facs[i]["lon"], facs[i]["lat"]] for i in keep]
    lonlat += [[p["lon"], p["lat"]] for p in what.add_facilities]
    cap = np.concatenate(
        [setting.capacity(category)[keep], [p["capacity"] for p in what.add_facilities]]
    )
    shut = closed_segments(frame.graph, what)
    g = frame.graph.without(np.asarray(frame.graph.edge_id)[shut]) if len(shut) else frame.graph
    fac = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    reverse = frame.reverse if g is frame.graph else reverse_graph(g)  # once, for both
    t = nearest_facility_tables(g, fac, reverse=reverse)
    result = analyse(
        frame,
        t.dist_s,
        threshold_s,
        fac_edge=t.fac_edge,
        fac_fraction=t.fac_fraction,
        graph=g,
        capacity=cap,
        reverse=reverse,
    )
    out = answer_head("scenario", key, setting, category, mode, minutes)
    base_rows, rows = base.area_rows(), result.area_rows()
    out["scenario"] = {
        **what.as_dict(),
        "closed_segment_ids": np.asarray(frame.graph.edge_id)[shut].tolist(),
    }
    out["baseline"] = {"summary": base.summary(), "areas": base_rows}
    result_json = {
        "facilities": facility_info(
            setting,
            category,
            t.fac_edge,
            [
                *[facs[i] for i in keep],
                *[{"id": -(j + 1), **p} for j, p in enumerate(what.add_facilities)],
            ],
        )
    }
    result_json.update(answer_body(result, setting, gaps=gaps))
    out["result"] = result_json
    out["change"] = scenario_change(base.summary(), base_rows, result.summary(), rows)
    cache.put(setting.url, key, out)
    return out


def scenario(
    category: object,
    mode: object,
    minutes: object,
    *,
    url: str | None = None,
    close_segments: object = None,
    close_polygon: object = None,
    add_facilities: object = None,
    remove_facilities: object = None,
    by: object = None,
    admin_level: object = None,
    hex_resolution: object = None,
    gaps: bool = True,
    progress: bool | None = None,
) -> dict:
    """Analyse coverage with a what-if scenario applied, against the baseline.

    Nothing is stored: see :mod:`gis.coverage_scenario`.

    Parameters
    ----------
    category, mode, minutes, url, by, admin_level, hex_resolution, gaps, progress
        As :func:`coverage`.
    close_segments : list of int, optional
        ``road_segment`` ids to close.
    close_polygon : dict, optional
        A GeoJSON Polygon or MultiPolygon: every segment intersecting it is closed.
    add_facilities : list of dict, optional
        ``{"lat", "lon"}`` (and optionally ``name``, ``capacity``) of facilities to add.
    remove_facilities : list of int, optional
        Ids of facilities of the category to leave out.

    Returns
    -------
    dict
        The head of :func:`coverage` (``analysis`` ``scenario``); ``scenario`` (the
        normalised input and ``closed_segment_ids``, every segment closed); ``baseline``
        (``summary`` and ``areas``, the per-area rows); ``result`` (``facilities`` and the
        body of :func:`coverage`: ``summary``, ``areas``, ``gaps``, ...); ``change``
        (``summary``: scenario minus baseline per figure, and ``areas``: the same per area,
        for the areas that changed).

    Raises
    ------
    InvalidInputError
        Bad input (as :func:`coverage`), a malformed scenario, unknown segment or facility
        ids.
    """
    category, mode, minutes = check_request(category, mode, minutes)
    what = parse_scenario(close_segments, close_polygon, add_facilities, remove_facilities)
    setting = request_setting(url, mode, by, admin_level, hex_resolution, progress)
    return scenario_of(setting, category, mode, minutes, what, gaps=gaps)

"""The map pages: citizen (``/``), sanitation (``/sanitation``), planning (``/planning``)."""

from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import gettext

from gis import coverage
from gis.costs import PROFILES
from gis.routing import MODES
from layers.registry import LAYERS, LayerSpec, facility_layers
from web import features, mapbuild, params
from web.db import app_database_url, cursor
from web.features import ROAD_LAYER
from web.http import asset_url
from web.i18n import current_lang, js_strings, planning_js_strings
from web.security import add_nonce

logger = logging.getLogger(__name__)

bp = Blueprint("maps", __name__)


#: Road drawing weight by ``highway`` class (the road layer's style on every map): major
#: roads drawn wide, paths and footways thin and dashed, everything else in between.
ROAD_STYLE: dict[str, tuple[str, ...]] = {
    "major": (
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
    ),
    "foot": ("footway", "path", "steps", "pedestrian", "cycleway", "bridleway", "corridor"),
}


def layer_data(spec: LayerSpec, lang: str) -> dict:
    """What the page needs to draw a layer's popups and legend, from the registry: field
    labels and types, popup fields (the first is the title), class labels and colours."""
    return {
        "title": spec.title(lang),
        "fields": {f.name: {"label": f.label(lang), "type": f.type} for f in spec.fields},
        "popup": list(spec.popup_fields),
        "classField": spec.class_field,
        "classes": {value: spec.class_label(value, lang) for value in spec.classes},
        "colors": dict(spec.colors),
    }


def _markers(spec: LayerSpec, items: list[dict]) -> dict:
    """A point layer's features for the page: ``{"layer": name, "items": [...]}``."""
    return {"layer": spec.name, "items": items}


def _classes(spec: LayerSpec) -> dict[str, str]:
    """Class value -> label in the current language, in the registry's order."""
    return {value: spec.class_label(value, current_lang()) for value in spec.classes}


def mode_labels() -> dict[str, str]:
    labels = {
        "walk": gettext("Walking"),
        "motorcycle": gettext("Motorcycle"),
        "car": gettext("Car"),
    }
    return {m: labels.get(m, m) for m in MODES}


def page_data(
    parts: mapbuild.MapParts, page: str, layers: tuple[LayerSpec, ...] = (), **extra
) -> str:
    """The page's one JSON blob (``<`` and ``>`` escaped so it cannot close its script),
    with :func:`layer_data` of each of ``layers``."""
    lang = current_lang()
    blob = {
        "page": page,
        "lang": lang,
        "names": parts.names,
        "strings": js_strings(),
        "layers": {spec.name: layer_data(spec, lang) for spec in layers},
        "roadLayer": ROAD_LAYER,
        "roadStyle": ROAD_STYLE,
        **extra,
    }
    text = json.dumps(blob, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


#: Seconds a database's map extent is reused before it is computed again.
BOUNDS_TTL_S = 60.0
_bounds_cache: dict[str, tuple[float, tuple | None]] = {}


def _bounds(cur) -> tuple | None:
    """The data extent, computed at most every BOUNDS_TTL_S seconds per database."""
    url = app_database_url()
    hit = _bounds_cache.get(url)
    now = time.monotonic()
    if hit is not None and now - hit[0] < BOUNDS_TTL_S:
        return hit[1]
    bounds = features.data_bounds(cur)
    _bounds_cache[url] = (now, bounds)
    return bounds


def _base_map(cur):
    cfg = current_app.config
    return mapbuild.new_map(
        _bounds(cur),
        tile_url=cfg.get("TILE_URL"),
        tile_attribution=cfg.get("TILE_ATTRIBUTION", ""),
        tile_name=gettext("Basemap"),
    )


def _render(template: str, parts: mapbuild.MapParts, blob: str, **context):
    """The page, with this request's CSP nonce on the map's own inline scripts."""
    parts.header = add_nonce(parts.header)
    return render_template(template, parts=parts, page_json=blob, **context)


@bp.get("/")
def citizen():
    """Offices by category; click or "my location" to route to the nearest one."""
    office = LAYERS["office"]
    with cursor() as cur:
        m = _base_map(cur)
        offices = features.point_features(cur, office)
    mapbuild.add_roads(m, gettext("Roads"), style="roadBaseStyle")
    categories = _classes(office)
    present = [c for c in categories if any(o[office.class_field] == c for o in offices)]
    clusters = mapbuild.add_clusters(m, {c: categories[c] for c in present})
    parts = mapbuild.finish(m, {"clusters": clusters})
    blob = page_data(
        parts, "citizen", (office,), markers=_markers(office, offices), modes=mode_labels()
    )
    return _render(
        "citizen.html",
        parts,
        blob,
        categories=categories,
        present=present,
        modes=mode_labels(),
        colors=office.colors,
    )


@bp.get("/sanitation")
def sanitation():
    """Waste bins by kind and roads coloured by condition class."""
    bins_spec, roads_spec = LAYERS["waste_bin"], LAYERS[ROAD_LAYER]
    with cursor() as cur:
        m = _base_map(cur)
        bins = features.point_features(cur, bins_spec)
    roads = mapbuild.add_roads(
        m, gettext("Road condition"), style="roadConditionStyle", interactive=True
    )
    kinds = _classes(bins_spec)
    groups = mapbuild.add_groups(m, kinds)
    parts = mapbuild.finish(m, {"groups": groups, "roads": roads.get_name()})
    blob = page_data(
        parts, "sanitation", (bins_spec, roads_spec), markers=_markers(bins_spec, bins)
    )
    conditions = [(c, label, roads_spec.colors[c]) for c, label in _classes(roads_spec).items()]
    kind_rows = [(k, label, bins_spec.colors[k]) for k, label in kinds.items()]
    return _render("sanitation.html", parts, blob, conditions=conditions, kinds=kind_rows)


#: The travel times (minutes) the planning form offers: T of the coverage analysis and of
#: the isochrone from a point.
PLANNING_MINUTES: tuple[int, ...] = (5, 10, 15, 20, 30, 45, 60)
#: T chosen when the page opens.
PLANNING_DEFAULT_MINUTES = 15
#: Suggested sites asked for when the page opens.
PLANNING_DEFAULT_COUNT = 2


def _planning_categories(offices: list[dict]) -> tuple[list[dict], str | None]:
    """The categories the planning form offers, grouped by facility layer (registry order),
    and the one chosen at first: the first office category with an office in the data."""
    lang = current_lang()
    groups = [
        {"layer": spec.name, "title": spec.title(lang), "classes": _classes(spec)}
        for spec in facility_layers()
    ]
    office = LAYERS["office"]
    present = {o[office.class_field] for o in offices}
    chosen = next((c for c in office.classes if c in present), None)
    if chosen is None:
        chosen = next((c for g in groups for c in g["classes"]), None)
    return groups, chosen


def _planning_data(categories: list[dict]) -> dict:
    """The planning page's part of the blob: API addresses, limits, and which road classes
    each mode may use (so "close this road" picks a road the chosen mode travels)."""
    return {
        "api": {
            "coverage": url_for("planning_api.coverage"),
            "suggest": url_for("planning_api.suggest"),
            "scenario": url_for("planning_api.scenario"),
            "isochrone": url_for("api.isochrone"),
            "roads": url_for("api.layer_items", name=ROAD_LAYER),
        },
        "categoryLabels": {c: label for g in categories for c, label in g["classes"].items()},
        # loaded when first needed (js/planning.js), not with the page
        "scripts": {
            "text": asset_url("static", "js/planning-text.js"),
            "draw": asset_url("static", "js/planning-draw.js"),
        },
        "maxCount": coverage.MAX_COUNT,
        "maxMinutes": coverage.MAX_MINUTES,
        "modeRoads": {mode: sorted(PROFILES[mode].speeds_kph) for mode in MODES},
    }


@bp.get("/planning")
def planning():
    """Coverage gaps, accessibility per area, where to build and what-if scenarios of a
    category, a mode and T minutes (from the planning API, on demand), and isochrones from
    a clicked point."""
    office = LAYERS["office"]
    with cursor() as cur:
        m = _base_map(cur)
        offices = features.point_features(cur, office)
    mapbuild.add_roads(m, gettext("Roads"), style="roadBaseStyle")
    groups = mapbuild.add_groups(
        m,
        {
            "admin": gettext("Administrative areas"),
            "areas": gettext("Coverage per area"),
            "gaps": gettext("Roads beyond the travel time"),
            "change": gettext("Scenario: what changes"),
            "sites": gettext("Suggested sites"),
            "isochrone": gettext("Reachable areas (isochrones)"),
        },
    )
    clusters = mapbuild.add_clusters(m, {"offices": gettext("Public service offices")})
    parts = mapbuild.finish(m, {"groups": groups, "clusters": clusters})
    areas = LAYERS["admin_area"]
    categories, chosen = _planning_categories(offices)
    blob = page_data(
        parts,
        "planning",
        (office, areas),
        markers=_markers(office, offices),
        areas={
            "layer": areas.name,
            "url": url_for("api.layer_items", name=areas.name, limit=params.MAX_LIMIT),
        },
        modes=mode_labels(),
        planning=_planning_data(categories),
        # the planning scripts' own strings join the shared ones (this key replaces the blob's)
        strings={**js_strings(), **planning_js_strings()},
    )
    return _render(
        "planning.html",
        parts,
        blob,
        modes=mode_labels(),
        minutes=PLANNING_MINUTES,
        default_minutes=PLANNING_DEFAULT_MINUTES,
        categories=categories,
        chosen=chosen,
        default_count=PLANNING_DEFAULT_COUNT,
        max_count=coverage.MAX_COUNT,
    )

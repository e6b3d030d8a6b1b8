"""The map pages: citizen (``/``), sanitation (``/sanitation``), planning (``/planning``)."""

from __future__ import annotations

import json
import logging
import time

from flask import Blueprint, current_app, render_template
from flask_babel import gettext

from gis.network import MODES
from layers.registry import LAYERS
from layers.vocab import (
    OFFICE_CATEGORIES,
    ROAD_CONDITION_COLORS,
    ROAD_CONDITIONS,
    WASTE_BIN_KINDS,
)
from web import features, mapbuild
from web.db import app_database_url, cursor
from web.i18n import current_lang, js_strings

logger = logging.getLogger(__name__)

bp = Blueprint("maps", __name__)


def _label(spec_name: str, value: str) -> str:
    return LAYERS[spec_name].class_label(value, current_lang())


def mode_labels() -> dict[str, str]:
    labels = {
        "walk": gettext("Walking"),
        "motorcycle": gettext("Motorcycle"),
        "car": gettext("Car"),
    }
    return {m: labels.get(m, m) for m in MODES}


def page_data(parts: mapbuild.MapParts, page: str, **extra) -> str:
    """The page's one JSON blob (``<`` and ``>`` escaped so it cannot close its script)."""
    blob = {
        "page": page,
        "lang": current_lang(),
        "names": parts.names,
        "strings": js_strings(),
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
    return render_template(template, parts=parts, page_json=blob, **context)


@bp.get("/")
def citizen():
    """Offices by category; click or "my location" to route to the nearest one."""
    with cursor() as cur:
        m = _base_map(cur)
        offices = features.point_features(cur, LAYERS["office"])
    mapbuild.add_roads(m, gettext("Roads"), style="roadBaseStyle")
    present = [c for c in OFFICE_CATEGORIES if any(o["category"] == c for o in offices)]
    clusters = mapbuild.add_clusters(m, {c: _label("office", c) for c in present})
    parts = mapbuild.finish(m, {"clusters": clusters})
    categories = {c: _label("office", c) for c in OFFICE_CATEGORIES}
    blob = page_data(
        parts,
        "citizen",
        offices=offices,
        colors=LAYERS["office"].colors,
        categories=categories,
        modes=mode_labels(),
    )
    return _render(
        "citizen.html",
        parts,
        blob,
        categories=categories,
        present=present,
        modes=mode_labels(),
        colors=LAYERS["office"].colors,
    )


@bp.get("/sanitation")
def sanitation():
    """Waste bins by kind and roads coloured by condition class."""
    with cursor() as cur:
        m = _base_map(cur)
        bins = features.point_features(cur, LAYERS["waste_bin"])
    roads = mapbuild.add_roads(
        m, gettext("Road condition"), style="roadConditionStyle", interactive=True
    )
    groups = mapbuild.add_groups(m, {k: _label("waste_bin", k) for k in WASTE_BIN_KINDS})
    parts = mapbuild.finish(m, {"groups": groups, "roads": roads.get_name()})
    conditions = [(c, _label("road_segment", c), ROAD_CONDITION_COLORS[c]) for c in ROAD_CONDITIONS]
    blob = page_data(
        parts,
        "sanitation",
        bins=bins,
        colors=LAYERS["waste_bin"].colors,
        kinds={k: _label("waste_bin", k) for k in WASTE_BIN_KINDS},
        conditionColors=ROAD_CONDITION_COLORS,
        conditions={c: label for c, label, _ in conditions},
    )
    kinds = [(k, _label("waste_bin", k), LAYERS["waste_bin"].colors[k]) for k in WASTE_BIN_KINDS]
    return _render("sanitation.html", parts, blob, conditions=conditions, kinds=kinds)


@bp.get("/planning")
def planning():
    """Administrative areas, isochrones from a clicked point, and the offices."""
    with cursor() as cur:
        m = _base_map(cur)
        offices = features.point_features(cur, LAYERS["office"])
    mapbuild.add_roads(m, gettext("Roads"), style="roadBaseStyle")
    groups = mapbuild.add_groups(
        m,
        {
            "admin": gettext("Administrative areas"),
            "isochrone": gettext("Reachable areas (isochrones)"),
        },
    )
    clusters = mapbuild.add_clusters(m, {"offices": gettext("Public service offices")})
    parts = mapbuild.finish(m, {"groups": groups, "clusters": clusters})
    blob = page_data(
        parts,
        "planning",
        offices=offices,
        colors=LAYERS["office"].colors,
        categories={c: _label("office", c) for c in OFFICE_CATEGORIES},
        modes=mode_labels(),
    )
    return _render("planning.html", parts, blob, modes=mode_labels(), minutes=(5, 10, 15, 30))

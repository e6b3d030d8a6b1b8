"""Folium map builders for the three pages.

Folium draws the map skeleton: the Leaflet map, the road basemap (vector tiles of our own
road layer), one marker group per class, and the layer control. Every asset it links is
served by this app (see :mod:`web.http`); folium's default Bootstrap, jQuery and
awesome-markers are left out to keep pages light.

Features from the database never pass through folium's popup or tooltip templates (which
paste HTML into JavaScript strings). They reach the page as one JSON blob and ``sigap.js``
builds markers and popups with ``textContent``, so any name shows as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import folium
from branca.element import Figure
from folium.map import FitBounds
from folium.plugins import MarkerCluster, VectorGridProtobuf
from folium.template import Template
from folium.utilities import JsCode

from web import params
from web.http import asset_url

#: Central Jakarta: the map's centre when the database holds no data yet.
FALLBACK_CENTER: tuple[float, float] = (-6.1754, 106.8272)
MAX_ZOOM = 19
ROAD_TILE_URL = "/api/roads/tiles/{z}/{x}/{y}.pbf"
OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"
_FOLIUM_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*user-scalable=no"\s*/>', re.S)


@dataclass
class MapParts:
    """A rendered folium map, in the pieces a page template needs."""

    header: str
    body: str
    script: str
    names: dict[str, object] = field(default_factory=dict)


def _leaflet_assets() -> tuple[list, list]:
    js = [("leaflet", asset_url("vendor", "leaflet.js", "leaflet"))]
    css = [("leaflet_css", asset_url("vendor", "leaflet.css", "leaflet"))]
    return js, css


def new_map(
    bounds: tuple[float, float, float, float] | None,
    *,
    tile_url: str | None = None,
    tile_attribution: str = "",
    tile_name: str = "Basemap",
) -> folium.Map:
    """An empty map fitted to ``bounds`` (minlon, minlat, maxlon, maxlat), no CDN assets."""
    if bounds:
        center = ((bounds[1] + bounds[3]) / 2, (bounds[0] + bounds[2]) / 2)
    else:
        center = FALLBACK_CENTER
    m = folium.Map(
        location=list(center),
        zoom_start=16 if bounds else 12,
        tiles=None,
        max_zoom=MAX_ZOOM,
        control_scale=True,
    )
    m.default_js, m.default_css = _leaflet_assets()
    # folium passes max_zoom to its tile layer only; clusters need it on the map itself
    # before the road layer (loaded late) is on the map
    m.options["maxZoom"] = MAX_ZOOM
    if bounds and bounds[2] - bounds[0] > 1e-6 and bounds[3] - bounds[1] > 1e-6:
        fit = FitBounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
        # no zoom animation: layers added right after would first load the tiles of
        # zoom_start, which an animated fit keeps until it ends (a third more bytes)
        fit.options["animate"] = False
        fit.add_to(m)
    if tile_url:
        folium.TileLayer(
            tiles=tile_url,
            attr=tile_attribution or OSM_ATTRIBUTION,
            name=tile_name,
            max_zoom=MAX_ZOOM,
            overlay=False,
        ).add_to(m)
    return m


class _Roads(VectorGridProtobuf):
    """The road layer: a feature group on the map at once, holding the VectorGrid layer as
    soon as Leaflet.VectorGrid has loaded. The page's script loads it after the page's load
    event (an ``async`` script could run before Leaflet), so the offices' markers, which come
    with the page, wait neither for its 15 KB nor for the tiles on a slow connection. Events
    of the tiles (clicks on roads) reach the group."""

    _template = Template(
        """
        {% macro script(this, kwargs) -%}
        var {{ this.get_name() }} = L.featureGroup();
        SIGAP.map.loadScript({{ this.script_url|tojson }}, function () { return L.vectorGrid; },
          function () {
            {{ this.get_name() }}.addLayer(L.vectorGrid.protobuf(
                {{ this.url|tojson }}, {{ this.options|tojavascript }}));
        });
        {%- endmacro %}
        """
    )
    default_js: list = []
    #: URL of Leaflet.VectorGrid (content-hashed), loaded by the page after its load event
    script_url: str = ""


def add_roads(m: folium.Map, name: str, *, style: str, interactive: bool = False):
    """Our own road layer as vector tiles, styled by ``SIGAP.<style>`` in ``js/map.js``."""
    layer = _Roads(
        ROAD_TILE_URL,
        name=name,
        options={
            "vectorTileLayerStyles": {"roads": JsCode(f"SIGAP.{style}")},
            "interactive": interactive,
            "minZoom": params.MIN_TILE_ZOOM,  # the API refuses lower-zoom tiles
            "maxNativeZoom": 18,
            "maxZoom": MAX_ZOOM,
            "attribution": OSM_ATTRIBUTION,
        },
    )
    layer.script_url = asset_url(
        "vendor", "Leaflet.VectorGrid.bundled.min.js", "leaflet.vectorgrid"
    )
    layer.add_to(m)
    return layer


def add_clusters(m: folium.Map, groups: dict[str, str]) -> dict[str, str]:
    """One marker cluster per class (class value -> layer name); returns JS variable names."""
    names = {}
    for value, label in groups.items():
        cluster = MarkerCluster(
            name=label,
            options={
                "showCoverageOnHover": False,
                # 44 px icons in the class colour, with an accessible name (js/map.js)
                "iconCreateFunction": JsCode("SIGAP.clusterIcon"),
            },
        )
        cluster.default_js = [
            (
                "markerclusterjs",
                asset_url("vendor", "leaflet.markercluster.js", "leaflet.markercluster"),
            )
        ]
        # MarkerCluster.Default.css only colours the default icons, which are not used
        cluster.default_css = [
            ("markerclustercss", asset_url("vendor", "MarkerCluster.css", "leaflet.markercluster")),
        ]
        cluster.add_to(m)
        names[value] = cluster.get_name()
    return names


def add_groups(m: folium.Map, groups: dict[str, str], *, show: bool = True) -> dict[str, str]:
    """One plain feature group per key (key -> layer name); returns JS variable names."""
    names = {}
    for key, label in groups.items():
        group = folium.FeatureGroup(name=label, show=show)
        group.add_to(m)
        names[key] = group.get_name()
    return names


def finish(m: folium.Map, names: dict[str, object]) -> MapParts:
    """Add the layer control, render, and split into header / body / script.

    The layer control starts collapsed below the desktop width (``js/map.js`` decides, in
    the browser) and open on a desktop, as the side panel's neighbour.
    """
    control = folium.LayerControl(
        # decided in the browser by the screen width; folium types this option as bool
        collapsed=JsCode("SIGAP.map.layersCollapsed()"),  # type: ignore[arg-type]
        position="topright",
    )
    control.add_to(m)
    root = m.get_root()
    assert isinstance(root, Figure)
    root.render()
    names = {**names, "map": m.get_name(), "layerControl": control.get_name()}
    # folium's own viewport tag forbids zooming the page, which low-vision users need;
    # the page template has its own.
    header = _FOLIUM_VIEWPORT.sub("", root.header.render())
    return MapParts(
        header=header,
        body=root.html.render(),
        script=root.script.render(),
        names=names,
    )

"""The layer API against real PostGIS with the Helsinki extract loaded.

Expected answers are computed independently: straight SQL on the database for counts and ids,
shapely for the bbox filter, pyogrio for reading the GeoPackage back.
"""

from __future__ import annotations

import csv
import gzip
import io
import json

import pyogrio
import pytest
import shapely
from shapely.geometry import box, shape

from layers.registry import LAYERS
from web import params

BBOX = (24.940, 60.166, 24.948, 60.172)  # a block of central Helsinki, inside the extract
BBOX_ARG = ",".join(str(v) for v in BBOX)


def _all_geoms(db_rows, table: str) -> dict[int, object]:
    return {
        fid: shapely.from_wkb(bytes(wkb))
        for fid, wkb in db_rows(f"SELECT id, ST_AsBinary(geom) FROM {table}")  # noqa: S608
    }


def test_layers_lists_every_layer_with_fields_and_counts(client, db_rows):
    r = client.get("/api/layers")
    assert r.status_code == 200
    body = r.get_json()
    by_name = {layer["name"]: layer for layer in body["layers"]}
    assert set(by_name) == set(LAYERS)
    for name, spec in LAYERS.items():
        expected = db_rows(f"SELECT count(*) FROM {spec.table}")[0][0]  # noqa: S608
        assert by_name[name]["count"] == expected
        assert [f["name"] for f in by_name[name]["fields"]] == list(spec.field_names)
    assert by_name["office"]["count"] > 20
    assert by_name["road_segment"]["count"] > 4000


@pytest.mark.parametrize("name", ["office", "waste_bin", "road_segment"])
def test_items_bbox_matches_shapely(client, db_rows, name):
    spec = LAYERS[name]
    window = box(*BBOX)
    expected = {fid for fid, g in _all_geoms(db_rows, spec.table).items() if g.intersects(window)}
    assert 0 < len(expected) < len(_all_geoms(db_rows, spec.table))
    r = client.get(f"/api/layers/{name}/items?bbox={BBOX_ARG}&limit={params.MAX_LIMIT}")
    assert r.status_code == 200
    assert r.mimetype == "application/geo+json"
    fc = r.get_json()
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == len(expected)
    assert fc["numberReturned"] == len(fc["features"]) == len(expected)
    assert {f["id"] for f in fc["features"]} == expected
    for f in fc["features"]:
        assert shape(f["geometry"]).intersects(window)
        assert f["geometry"]["type"] == spec.geometry_type


def test_items_return_only_public_fields(client):
    for name, spec in LAYERS.items():
        fc = client.get(f"/api/layers/{name}/items?limit=50").get_json()
        public = set(spec.field_names) - {"id"}
        for f in fc["features"]:
            assert set(f["properties"]) == public
            assert "source_id" not in f["properties"] and "geom" not in f["properties"]


def test_items_paging_covers_every_feature_once(client, db_rows):
    ids = sorted(r[0] for r in db_rows("SELECT id FROM road_segment"))
    seen: list[int] = []
    offset, limit = 0, 1500
    while True:
        fc = client.get(f"/api/layers/road_segment/items?limit={limit}&offset={offset}").get_json()
        assert fc["numberMatched"] == len(ids)
        assert fc["numberReturned"] == len(fc["features"])
        seen += [f["id"] for f in fc["features"]]
        rels = {link["rel"] for link in fc["links"]}
        if offset + limit >= len(ids):
            assert "next" not in rels
            break
        assert "next" in rels
        offset += limit
    assert seen == ids


def test_items_office_attributes_match_database(client, db_rows):
    rows = db_rows("SELECT id, name, category, address, phone, opening_hours FROM office")
    fc = client.get("/api/layers/office/items").get_json()
    got = {
        f["id"]: (
            f["properties"]["name"],
            f["properties"]["category"],
            f["properties"]["address"],
            f["properties"]["phone"],
            f["properties"]["opening_hours"],
        )
        for f in fc["features"]
    }
    assert got == {r[0]: tuple(r[1:]) for r in rows}


def test_items_csv(client, db_rows):
    r = client.get(f"/api/layers/waste_bin/items?f=csv&bbox={BBOX_ARG}")
    assert r.status_code == 200
    assert r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert list(rows[0]) == [*LAYERS["waste_bin"].field_names, "wkt"]
    window = box(*BBOX)
    expected = {fid for fid, g in _all_geoms(db_rows, "waste_bin").items() if g.intersects(window)}
    assert {int(row["id"]) for row in rows} == expected
    geoms = _all_geoms(db_rows, "waste_bin")
    for row in rows:
        assert shapely.from_wkt(row["wkt"]).equals_exact(geoms[int(row["id"])], 1e-9)


def test_items_gpkg_is_a_real_geopackage(client, db_rows, tmp_path):
    r = client.get("/api/layers/office/items?f=gpkg")
    assert r.status_code == 200
    assert r.mimetype == "application/geopackage+sqlite3"
    path = tmp_path / "office.gpkg"
    path.write_bytes(r.get_data())
    assert path.read_bytes()[:16] == b"SQLite format 3\x00"
    info = pyogrio.read_info(path)
    assert info["driver"] == "GPKG"
    assert info["geometry_type"] == "Point"
    assert "4326" in info["crs"]
    gdf = pyogrio.read_dataframe(path)
    rows = db_rows("SELECT id, name, ST_X(geom), ST_Y(geom) FROM office ORDER BY id")
    assert list(gdf["id"]) == [r[0] for r in rows]
    assert list(gdf["name"]) == [r[1] for r in rows]
    for geom, row in zip(gdf.geometry, rows, strict=True):
        assert geom.x == pytest.approx(row[2], abs=1e-9)
        assert geom.y == pytest.approx(row[3], abs=1e-9)
    assert set(gdf.columns) == {*LAYERS["office"].field_names, "geometry"}


def test_items_gpkg_road_lines(client, db_rows, tmp_path):
    r = client.get(f"/api/layers/road_segment/items?f=gpkg&bbox={BBOX_ARG}")
    path = tmp_path / "roads.gpkg"
    path.write_bytes(r.get_data())
    gdf = pyogrio.read_dataframe(path)
    fc = client.get(f"/api/layers/road_segment/items?bbox={BBOX_ARG}&limit=10000").get_json()
    assert fc["numberMatched"] > 1000  # more than one GeoJSON page: the export has them all
    assert sorted(gdf["id"]) == sorted(f["id"] for f in fc["features"])
    assert set(gdf.geometry.geom_type) == {"LineString"}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def _fields(buf: bytes):
    """(field number, wire type, value) of a protobuf message (varint and bytes only)."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            value, i = buf[i : i + n], i + n
        else:
            raise AssertionError(f"unexpected wire type {wire}")
        yield num, wire, value


def _tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """WGS84 bounds of an XYZ tile (independent of PostGIS)."""
    import math

    n = 2**z

    def lat(yy: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * yy / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def _lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    import math

    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def test_road_tile_holds_the_segments_of_the_tile(client, db_rows):
    z = 16
    x, y = _lonlat_to_tile(24.944, 60.169, z)
    r = client.get(f"/api/roads/tiles/{z}/{x}/{y}.pbf")
    assert r.status_code == 200
    assert r.mimetype == "application/vnd.mapbox-vector-tile"
    assert "max-age" in r.headers["Cache-Control"]
    layers = [v for num, _, v in _fields(r.get_data()) if num == 3]
    assert len(layers) == 1
    name = next(v for num, _, v in _fields(layers[0]) if num == 1)
    assert name == b"roads"
    ids = set()
    for num, _, feature in _fields(layers[0]):
        if num == 2:
            ids.add(next(v for n, _, v in _fields(feature) if n == 1))
    minx, miny, maxx, maxy = _tile_bounds(z, x, y)
    geoms = _all_geoms(db_rows, "road_segment")
    pad_x, pad_y = (maxx - minx) * 64 / 4096, (maxy - miny) * 64 / 4096
    outer = box(minx - pad_x, miny - pad_y, maxx + pad_x, maxy + pad_y)
    inner = box(minx + pad_x, miny + pad_y, maxx - pad_x, maxy - pad_y)
    lengths = dict(db_rows("SELECT id, length_m FROM road_segment"))
    must = {fid for fid, g in geoms.items() if g.intersects(inner) and lengths[fid] > 10}
    may = {fid for fid, g in geoms.items() if g.intersects(outer)}
    assert len(must) > 10
    assert must <= ids <= may


def test_road_tile_carries_the_registry_popup_and_class_fields(client):
    """The map's road popup reads its fields from the tile: the registry decides which."""
    roads = LAYERS["road_segment"]
    z = 16
    x, y = _lonlat_to_tile(24.944, 60.169, z)
    layer = next(
        v
        for num, _, v in _fields(client.get(f"/api/roads/tiles/{z}/{x}/{y}.pbf").get_data())
        if num == 3
    )
    keys = {v.decode() for num, _, v in _fields(layer) if num == 3}
    assert {roads.class_field, *roads.popup_fields, "highway"} <= keys


def test_road_tile_outside_the_data_is_empty(client):
    r = client.get(f"/api/roads/tiles/{params.MIN_TILE_ZOOM}/0/0.pbf")
    assert r.status_code == 200
    assert r.get_data() == b""


@pytest.mark.parametrize(
    ("url", "status", "param"),
    [
        ("/api/layers/office/items?bbox=24.9,60.1,25.0", 400, "bbox"),
        ("/api/layers/office/items?bbox=24.9,60.1,25.0,x", 400, "bbox"),
        ("/api/layers/office/items?bbox=24.9,60.1,25.0,91", 400, "bbox"),
        ("/api/layers/office/items?bbox=25.0,60.1,24.9,60.2", 400, "bbox"),
        ("/api/layers/office/items?limit=-1", 400, "limit"),
        ("/api/layers/office/items?limit=0", 400, "limit"),
        (f"/api/layers/office/items?limit={10**9}", 400, "limit"),
        ("/api/layers/office/items?limit=ten", 400, "limit"),
        ("/api/layers/office/items?offset=-5", 400, "offset"),
        ("/api/layers/office/items?f=exe", 400, "f"),
        ("/api/layers/complaint_reporter/items", 404, "name"),
        ("/api/layers/no_such_layer/items", 404, "name"),
        (f"/api/roads/tiles/{params.MAX_TILE_ZOOM + 1}/0/0.pbf", 400, "z"),
        (f"/api/roads/tiles/{params.MIN_TILE_ZOOM - 1}/0/0.pbf", 400, "z"),
        (f"/api/roads/tiles/{params.MIN_TILE_ZOOM}/{2**params.MIN_TILE_ZOOM}/0.pbf", 400, "x"),
        (f"/api/roads/tiles/{params.MIN_TILE_ZOOM}/0/{2**params.MIN_TILE_ZOOM}.pbf", 400, "y"),
        ("/api/nearest?lat=91&lon=24.94&category=health", 400, "lat"),
        ("/api/nearest?lat=60.17&lon=181&category=health", 400, "lon"),
        ("/api/nearest?lat=nan&lon=24.94&category=health", 400, "lat"),
        ("/api/nearest?lat=60.17&lon=24.94", 400, "category"),
        ("/api/nearest?lat=60.17&lon=24.94&category=spaceport", 400, "category"),
        ("/api/nearest?lat=60.17&lon=24.94&category=health&mode=boat", 400, "mode"),
        ("/api/nearest?lat=60.17&lon=24.94&category=health&k=0", 400, "k"),
        ("/api/nearest?lat=60.17&lon=24.94&category=health&k=1000", 400, "k"),
        ("/api/isochrone?lon=24.94&minutes=10", 400, "lat"),
        ("/api/isochrone?lat=60.17&lon=24.94&minutes=0", 400, "minutes"),
        ("/api/isochrone?lat=60.17&lon=24.94&minutes=5,x", 400, "minutes"),
        ("/api/isochrone?lat=60.17&lon=24.94&minutes=121", 400, "minutes"),
        ("/api/isochrone?lat=60.17&lon=24.94&minutes=1,2,3,4,5,6,7", 400, "minutes"),
        ("/api/isochrone?lat=60.17&lon=24.94&minutes=10&mode=jetpack", 400, "mode"),
    ],
)
def test_bad_input_is_a_json_error_naming_the_parameter(client, url, status, param):
    r = client.get(url)
    assert r.status_code == status
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] and body["error"]["message"]
    assert body["error"]["param"] == param
    assert b"Traceback" not in r.get_data() and b"<html" not in r.get_data()


def test_unknown_api_path_and_method_are_json(client):
    r = client.get("/api/nowhere")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.post("/api/layers")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"


def test_limit_maximum_is_documented(client):
    doc = client.get("/api/openapi.json").get_json()
    items = doc["paths"]["/api/layers/{name}/items"]["get"]["parameters"]
    limit = next(p for p in items if p["name"] == "limit")
    assert limit["schema"]["maximum"] == params.MAX_LIMIT
    r = client.get(f"/api/layers/road_segment/items?limit={params.MAX_LIMIT}")
    assert r.status_code == 200
    r = client.get(f"/api/layers/road_segment/items?limit={params.MAX_LIMIT + 1}")
    assert r.status_code == 400


def test_json_responses_are_gzipped(client):
    r = client.get("/api/layers/road_segment/items?limit=500", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["Vary"]
    fc = json.loads(gzip.decompress(r.get_data()))
    assert fc["numberReturned"] == 500
    plain = client.get("/api/layers/road_segment/items?limit=500")
    assert "Content-Encoding" not in plain.headers
    assert json.loads(plain.get_data()) == fc


def test_routing_limits_in_the_api_are_the_engines(client):
    from gis import routing
    from layers.vocab import FACILITY_CATEGORIES

    doc = client.get("/api/openapi.json").get_json()
    nearest = {p["name"]: p for p in doc["paths"]["/api/nearest"]["get"]["parameters"]}
    assert nearest["k"]["schema"]["maximum"] == routing.MAX_K
    assert nearest["category"]["schema"]["enum"] == list(FACILITY_CATEGORIES)
    assert nearest["mode"]["schema"]["enum"] == list(routing.MODES)
    iso = {p["name"]: p for p in doc["paths"]["/api/isochrone"]["get"]["parameters"]}
    assert f"{routing.MAX_MINUTES:g}" in iso["minutes"]["description"]
    assert f"at most {routing.MAX_ISOCHRONES} values" in iso["minutes"]["description"]
    here = "lat=60.17&lon=24.94"
    r = client.get(f"/api/nearest?{here}&category=health&k={routing.MAX_K + 1}")
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "k"
    too_many = ",".join(["1"] * (routing.MAX_ISOCHRONES + 1))
    r = client.get(f"/api/isochrone?{here}&minutes={too_many}")
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "minutes"
    r = client.get(f"/api/isochrone?{here}&minutes={routing.MAX_MINUTES * 1.01:g}")
    assert r.status_code == 400 and r.get_json()["error"]["param"] == "minutes"

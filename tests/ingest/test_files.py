"""``ingest.files``: the files governments have, loaded and checked, on real data.

Every check ends in the database (or the reject report): what the loader says it did is what
the tables hold.
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from gis.errors import IngestError
from ingest.files import ingest_file
from tests.conftest import query, shared_file

TPS = "indonesia/bandung_tps_2016.csv"
BOUNDARIES = "indonesia/surabaya_admin_boundaries.osm"


def load(url, path, tmp_path, **kwargs):
    kwargs.setdefault("rejects", tmp_path / "rejects.csv")
    return ingest_file(path, url, progress=False, **kwargs)


# --- Bandung's TPS list ----------------------------------------------------------------------


def test_bandung_tps_load_as_154_bins_with_their_volumes(fresh_db, tmp_path):
    result = load(fresh_db, shared_file(TPS), tmp_path, layer="bins", constants={"kind": "tps"})
    assert (result.rows, result.new, result.rejected) == (154, 154, 0)
    assert query(fresh_db, "SELECT kind, count(*) FROM waste_bin GROUP BY kind") == [
        ("waste_disposal", 154)
    ]
    csv = pd.read_csv(shared_file(TPS))
    first = csv.iloc[0]
    ((name, attrs, lon, lat),) = query(
        fresh_db,
        "SELECT name, attributes, ST_X(geom), ST_Y(geom) FROM waste_bin WHERE source_id = %s",
        (first["id_tps"],),
    )
    assert name == first["nama_tps"]
    assert attrs["sampah_masuk"] == first["sampah_masuk"]
    assert attrs["sampah_diangkut"] == first["sampah_diangkut"]
    assert attrs["kecamatan"] == first["kecamatan"]
    assert (lon, lat) == (first["longitude"], first["latitude"])
    (run,) = query(fresh_db, "SELECT status, counts, rejected FROM ingest_run")
    assert run == ("ok", {"waste_bin": 154}, 0)


def test_attributes_come_back_in_the_geojson_and_csv(fresh_db, tmp_path):
    from tests.web.conftest import web_app

    load(fresh_db, shared_file(TPS), tmp_path, layer="bins", constants={"kind": "tps"})
    client = web_app(fresh_db).test_client()
    features = client.get("/api/layers/waste_bin/items?limit=200").get_json()["features"]
    expected = pd.read_csv(shared_file(TPS)).set_index("nama_tps")["sampah_masuk"]
    assert len(features) == 154
    for feature in features:
        attrs = feature["properties"]["attributes"]
        assert attrs["sampah_masuk"] == expected[feature["properties"]["name"]].item() or (
            feature["properties"]["name"] in expected.index[expected.index.duplicated()]
        )
    text = client.get("/api/layers/waste_bin/items?f=csv").get_data(as_text=True)
    rows = pd.read_csv(pd.io.common.StringIO(text))
    assert json.loads(rows["attributes"][0])["sampah_masuk"] > 0
    gpkg = tmp_path / "export.gpkg"
    gpkg.write_bytes(client.get("/api/layers/waste_bin/items?f=gpkg").get_data())
    exported = gpd.read_file(gpkg)
    assert len(exported) == 154
    assert json.loads(exported["attributes"][0])["sampah_diangkut"] > 0


def test_the_same_file_twice_changes_nothing_and_a_changed_row_updates(fresh_db, tmp_path):
    path = shared_file(TPS)
    load(fresh_db, path, tmp_path, layer="bins", constants={"kind": "tps"})
    again = load(fresh_db, path, tmp_path, layer="bins", constants={"kind": "tps"})
    assert (again.new, again.updated, again.unchanged) == (0, 0, 154)
    changed = tmp_path / "bandung_tps_2016.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[0, "sampah_masuk"] = "99.5"
    frame.to_csv(changed, index=False)
    third = load(fresh_db, changed, tmp_path, layer="bins", constants={"kind": "tps"})
    assert (third.new, third.updated, third.unchanged) == (0, 1, 153)
    assert query(fresh_db, "SELECT count(*) FROM waste_bin") == [(154,)]
    assert query(
        fresh_db,
        "SELECT attributes->>'sampah_masuk' FROM waste_bin WHERE source_id = %s",
        (frame.loc[0, "id_tps"],),
    ) == [("99.5",)]


def test_dry_run_writes_nothing(fresh_db, tmp_path):
    result = load(
        fresh_db, shared_file(TPS), tmp_path, layer="bins", constants={"kind": "tps"}, dry_run=True
    )
    assert result.dry_run and result.new == 154
    assert query(fresh_db, "SELECT count(*) FROM waste_bin") == [(0,)]
    assert query(fresh_db, "SELECT count(*) FROM ingest_run") == [(0,)]


def test_a_file_without_an_id_column_is_keyed_by_a_stable_row_hash(fresh_db, tmp_path):
    path = tmp_path / "puskesmas.csv"
    path.write_text(
        "nama;kategori;lintang;bujur;jam_buka\n"
        "Puskesmas Menteng;puskesmas;-6,1962;106,8317;07.30-14.00\n"
        "Kantor Pos Cikini;Kantor Pos;-6,1935;106,8400;\n",
        encoding="cp1252",
    )
    first = load(fresh_db, path, tmp_path, layer="offices")
    assert first.new == 2 and "category <- 'kategori'" in first.mapping
    again = load(fresh_db, path, tmp_path, layer="offices")
    assert (again.new, again.unchanged) == (0, 2)
    rows = query(
        fresh_db,
        "SELECT name, category, opening_hours, length(source_id) FROM office ORDER BY name",
    )
    assert rows == [
        ("Kantor Pos Cikini", "post", None, 16),
        ("Puskesmas Menteng", "health", "07.30-14.00", 16),
    ]


# --- bad rows --------------------------------------------------------------------------------


def test_swapped_latitude_and_longitude_are_detected_and_named(fresh_db, tmp_path):
    path = tmp_path / "tps.csv"
    path.write_text(
        "id,nama,latitude,longitude\n"
        "1,TPS A,-6.90,107.60\n"
        "2,TPS B,107.61,-6.91\n"  # swapped
        "3,TPS C,-6.92,107.62\n"
        "4,TPS D,107.63,-6.93\n"  # swapped
    )
    result = load(fresh_db, path, tmp_path, layer="bins", constants={"kind": "tps"})
    assert (result.new, result.rejected) == (2, 2)
    report = pd.read_csv(result.rejects_path)
    assert report["reject_row"].tolist() == [2, 4]
    assert all("latitude and longitude look swapped" in r for r in report["reject_reason"])
    assert report["nama"].tolist() == ["TPS B", "TPS D"]  # the original values


def test_projected_metres_in_degree_columns_are_detected(fresh_db, tmp_path):
    path = tmp_path / "utm.csv"
    path.write_text("id,nama,y,x\n1,TPS A,9236000,790000\n2,TPS B,-6.9,107.6\n")
    result = load(fresh_db, path, tmp_path, layer="bins", constants={"kind": "tps"})
    assert (result.new, result.rejected) == (1, 1)
    report = pd.read_csv(result.rejects_path)
    assert report["reject_row"].tolist() == [1]
    assert (
        "projected metres" in report["reject_reason"][0] and "--crs" in report["reject_reason"][0]
    )
    # and with the CRS given, the same metres load
    fixed = tmp_path / "utm_only.csv"
    fixed.write_text("id,nama,y,x\n1,TPS A,9236000,790000\n")
    ok = load(
        fresh_db,
        fixed,
        tmp_path,
        layer="bins",
        constants={"kind": "tps"},
        crs="EPSG:32749",
        source="utm",
    )
    assert ok.new == 1


def test_unknown_categories_are_rejected_with_the_valid_list(fresh_db, tmp_path):
    path = tmp_path / "kantor.csv"
    path.write_text("id,nama,jenis,lat,lon\n1,A,sekolah,-6.2,106.8\n2,B,bengkel,-6.2,106.8\n")
    result = load(fresh_db, path, tmp_path, layer="offices")
    assert (result.new, result.rejected) == (1, 1)
    reason = pd.read_csv(result.rejects_path)["reject_reason"][0]
    assert "'bengkel' is not one of" in reason
    for category in ("government", "health", "police", "post", "school"):
        assert category in reason


def test_required_fields_missing_and_duplicate_ids_are_rejected(fresh_db, tmp_path):
    path = tmp_path / "kantor.csv"
    path.write_text(
        "id,nama,kategori,lat,lon\n1,A,,-6.2,106.8\n2,B,health,-6.2,106.8\n2,C,health,-6.2,106.8\n"
        "3,D,health,,\n"
    )
    result = load(fresh_db, path, tmp_path, layer="offices")
    report = pd.read_csv(result.rejects_path).set_index("reject_row")["reject_reason"]
    assert result.new == 1
    assert "'category' is missing" in report[1]
    assert "same id ('2') as row 2" in report[3]
    assert "no coordinates" in report[4]


def test_a_declared_extent_rejects_rows_outside_it(fresh_db, tmp_path):
    path = shared_file(TPS)
    bbox = (107.6320, -6.9789, 107.6777, -6.9199)  # the Buahbatu road network's box
    result = load(fresh_db, path, tmp_path, layer="bins", constants={"kind": "tps"}, bbox=bbox)
    csv = pd.read_csv(path)
    inside = csv["longitude"].between(bbox[0], bbox[2]) & csv["latitude"].between(bbox[1], bbox[3])
    assert result.new == inside.sum() == 22
    assert result.rejected == 154 - 22


def test_invalid_polygons_are_repaired_when_safe_and_said_so(fresh_db, tmp_path):
    bowtie = shapely.Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])  # self-crossing
    spike = shapely.Polygon([(0, 0), (2, 0), (2, 2), (1, 2), (1, 3), (1, 2), (0, 2), (0, 0)])
    gdf = gpd.GeoDataFrame(
        {"kode": ["A", "B"], "nama": ["Bowtie", "Spike"]},
        geometry=[
            shapely.affinity.translate(
                shapely.affinity.scale(bowtie, 0.01, 0.01, origin=(0, 0)), 106.8, -6.2
            ),
            shapely.affinity.translate(
                shapely.affinity.scale(spike, 0.01, 0.01, origin=(0, 0)), 106.9, -6.2
            ),
        ],
        crs=4326,
    )
    path = tmp_path / "areas.geojson"
    gdf.to_file(path)
    result = load(fresh_db, path, tmp_path, layer="areas", rejects=tmp_path / "r.geojson")
    assert result.new == 1 and result.repaired == [2]  # the spike: area kept
    assert "repaired with make_valid" in result.load.notes[0]
    rejected = gpd.read_file(result.rejects_path)
    assert rejected["reject_row"].tolist() == [1]
    assert "make_valid would change its area" in rejected["reject_reason"][0]
    assert query(fresh_db, "SELECT bool_and(ST_IsValid(geom)) FROM admin_area") == [(True,)]


# --- CRS: GeoPackage and Shapefile in UTM 49S --------------------------------------------------


def _utm_points(epsg: int = 32749):
    lonlat = gpd.GeoSeries(
        shapely.points([112.7343, 112.7521, 112.6890], [-7.2559, -7.2901, -7.3102]), crs=4326
    )
    frame = gpd.GeoDataFrame(
        {
            "id": ["tps-1", "tps-2", "tps-3"],
            "nama": ["TPS Genteng", "TPS Tegalsari", "TPS Wonokromo"],
        },
        geometry=lonlat.to_crs(epsg),
    )
    return lonlat, frame


@pytest.mark.parametrize("epsg", [32749, 23879], ids=["WGS84-UTM49S", "DGN95-UTM49S"])
@pytest.mark.parametrize("kind", ["gpkg", "shp", "shp.zip"])
def test_utm_49s_files_round_trip_to_the_same_points_within_1_cm(fresh_db, tmp_path, kind, epsg):
    import zipfile

    from pyproj import Geod

    lonlat, frame = _utm_points(epsg)
    if kind == "gpkg":
        path = tmp_path / "tps.gpkg"
        frame.to_file(path, layer="tps", driver="GPKG")
    else:
        path = tmp_path / "tps.shp"
        frame.to_file(path)
        if kind == "shp.zip":
            zipped = tmp_path / "tps.zip"
            with zipfile.ZipFile(zipped, "w") as zf:
                for part in tmp_path.glob("tps.*"):
                    if part != zipped:
                        zf.write(part, part.name)
            path = zipped
    result = load(fresh_db, path, tmp_path, layer="bins", constants={"kind": "tps"})
    assert result.new == 3
    rows = dict(query(fresh_db, "SELECT source_id, ST_AsText(geom) FROM waste_bin"))
    geod = Geod(ellps="WGS84")
    for source_id, point in zip(frame["id"], lonlat, strict=True):
        got = shapely.from_wkt(rows[source_id])
        _, _, dist_m = geod.inv(point.x, point.y, got.x, got.y)
        assert dist_m < 0.01


def test_crs_option_overrides_the_file(fresh_db, tmp_path):
    lonlat, frame = _utm_points()
    path = tmp_path / "no_prj.geojson"
    # a GeoJSON that claims WGS 84 but holds UTM metres: rejected, then loaded with --crs
    frame.set_crs(4326, allow_override=True).to_file(path)
    bad = load(
        fresh_db,
        path,
        tmp_path,
        layer="bins",
        constants={"kind": "tps"},
        rejects=tmp_path / "r.geojson",
    )
    assert bad.new == 0 and bad.rejected == 3
    good = load(fresh_db, path, tmp_path, layer="bins", constants={"kind": "tps"}, crs="EPSG:32749")
    assert good.new == 3


# --- Surabaya: boundaries, population, offices -------------------------------------------------


def test_surabaya_boundaries_and_a_population_join_by_code(fresh_db, tmp_path):
    result = load(
        fresh_db, shared_file(BOUNDARIES), tmp_path, layer="areas", rejects=tmp_path / "r.geojson"
    )
    assert result.rejected == 0
    levels = dict(query(fresh_db, "SELECT admin_level, count(*) FROM admin_area GROUP BY 1"))
    assert levels == {6: 31, 7: 160}
    assert query(
        fresh_db, "SELECT count(*) FROM admin_area WHERE name IS NULL OR code IS NULL"
    ) == [(0,)]
    assert query(fresh_db, "SELECT name FROM admin_area WHERE code = '3578240001'") == [
        ("Bongkaran",)
    ]
    population = tmp_path / "penduduk.csv"
    population.write_text(
        "kode_wilayah;nama;jumlah_penduduk;luas_km2\n"
        "3578240001;Bongkaran;17203;0,6\n"
        "3578240002;Nyamplungan;12345;0,5\n"
        "9999999999;Tidak Ada;1;1\n"
    )
    joined = load(fresh_db, population, tmp_path, layer="areas", join="code")
    assert joined.updated == 2
    assert joined.unmatched == ["code '9999999999' matches no row of admin_area"]
    rows = query(
        fresh_db,
        "SELECT code, population, attributes->>'luas_km2' FROM admin_area "
        "WHERE population IS NOT NULL ORDER BY code",
    )
    assert rows == [("3578240001", 17203, "0,6"), ("3578240002", 12345, "0,5")]
    assert query(fresh_db, "SELECT count(*) FROM admin_area") == [(191,)]
    again = load(fresh_db, population, tmp_path, layer="areas", join="code")
    assert again.updated == 0


def test_surabaya_facilities_load_as_offices_with_their_categories(fresh_db, tmp_path):
    from ingest.osm import read_osm

    path = shared_file("indonesia/surabaya_facilities.osm")
    expected = pd.Series([r["category"] for r in read_osm(path, progress=False).rows["office"]])
    result = load(fresh_db, path, tmp_path, layer="offices", rejects=tmp_path / "r.geojson")
    assert result.new == len(expected) and result.rejected == 0
    got = dict(query(fresh_db, "SELECT category, count(*) FROM office GROUP BY 1"))
    assert got == expected.value_counts().to_dict()
    assert got["school"] == 147 and got["police"] == 12 and got["post"] == 5


# --- complaints ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "loaded", "rejected"),
    [("complaints/boston311-100.csv", 100, 0), ("complaints/nyc311-100.csv", 82, 18)],
)
def test_311_exports_load_as_complaints(fresh_db, tmp_path, name, loaded, rejected):
    path = shared_file(name)
    result = load(fresh_db, path, tmp_path, layer="complaints")
    assert (result.new, result.rejected) == (loaded, rejected)
    csv = pd.read_csv(path, dtype=str)
    lat = next(c for c in csv.columns if c.lower() == "latitude")
    assert csv[lat].notna().sum() == loaded  # exactly the rows lacking coordinates went
    if rejected:
        report = pd.read_csv(result.rejects_path)
        assert len(report) == rejected
        assert set(report["reject_reason"]) == {
            "has no coordinates (latitude and longitude are empty)"
        }
    assert query(fresh_db, "SELECT count(*), count(DISTINCT public_id) FROM complaint") == [
        (loaded, loaded)
    ]
    assert query(fresh_db, "SELECT DISTINCT channel FROM complaint") == [("api",)]
    statuses = {s for (s,) in query(fresh_db, "SELECT DISTINCT status FROM complaint")}
    assert statuses <= {"open", "acknowledged", "in_progress", "closed", "rejected"}


def test_open311_names_load_as_they_are(fresh_db, tmp_path):
    path = tmp_path / "georeport.csv"
    path.write_text(
        "service_request_id,status,service_name,service_code,description,requested_datetime,"
        "address,lat,long\n"
        "638344,closed,Pothole,jalan_rusak,Lubang besar,2026-11-02T08:15:00+07:00,"
        "Jl. Buah Batu 10,-6.9501,107.6402\n"
    )
    result = load(fresh_db, path, tmp_path, layer="complaints")
    assert result.new == 1
    rows = query(
        fresh_db,
        "SELECT source_id, service_code, status, description, requested_at AT TIME ZONE 'UTC', "
        "attributes->>'service_name' FROM complaint",
    )
    assert rows[0][:4] == ("638344", "jalan_rusak", "closed", "Lubang besar")
    assert str(rows[0][4]) == "2026-11-02 01:15:00" and rows[0][5] == "Pothole"


# --- options ---------------------------------------------------------------------------------


def test_map_and_set_override_the_automatic_mapping(fresh_db, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("kode,label,utara,timur\nK1,Puskesmas X,-6.2,106.8\n")
    result = load(
        fresh_db,
        path,
        tmp_path,
        layer="offices",
        mapping={"name": "label", "lat": "utara", "lon": "timur", "source_id": "kode"},
        constants={"category": "kesehatan"},
    )
    assert result.new == 1
    assert query(fresh_db, "SELECT source_id, name, category FROM office") == [
        ("K1", "Puskesmas X", "health")
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mapping": {"nope": "nama"}}, "has no field 'nope'"),
        ({"mapping": {"name": "nope"}}, "has no column 'nope'"),
        ({"constants": {"category": "bengkel"}}, "--set category=bengkel"),
        ({"crs": "EPSG:999999"}, "--crs EPSG:999999"),
        ({"join": "nope"}, "--join nope"),
        ({"layer": "nope"}, "unknown layer 'nope'"),
    ],
)
def test_bad_options_are_one_clear_error(fresh_db, tmp_path, kwargs, message):
    path = tmp_path / "x.csv"
    path.write_text("id,nama,kategori,lat,lon\n1,A,health,-6.2,106.8\n")
    kwargs = {"layer": "offices", **kwargs}
    with pytest.raises(IngestError, match=message.replace("(", r"\(")):
        load(fresh_db, path, tmp_path, **kwargs)
    assert query(fresh_db, "SELECT count(*) FROM office") == [(0,)]


def test_road_lines_from_a_file_join_at_shared_ends(fresh_db, tmp_path):
    lines = gpd.GeoDataFrame(
        {
            "id": ["a", "b"],
            "nama_jalan": ["Jl. A", "Jl. B"],
            "highway": ["residential"] * 2,
            "surface": ["asphalt", "gravel"],
        },
        geometry=[
            shapely.LineString([(107.60, -6.90), (107.61, -6.90)]),
            shapely.LineString([(107.61, -6.90), (107.61, -6.91)]),
        ],
        crs=4326,
    )
    path = tmp_path / "jalan.geojson"
    lines.to_file(path)
    result = load(fresh_db, path, tmp_path, layer="roads")
    assert result.new == 2
    rows = query(
        fresh_db, "SELECT source_id, u, v, length_m, condition, oneway FROM road_segment ORDER BY 1"
    )
    (a, au, av, alen, acond, _), (b, bu, bv, blen, bcond, oneway) = rows
    assert av == bu and au != bv and au < 0  # joined at the shared end; never an OSM id
    assert math.isclose(alen, 1105, rel_tol=0.01) and math.isclose(blen, 1106, rel_tol=0.01)
    assert (acond, bcond, oneway) == ("baik", "rusak_ringan", False)

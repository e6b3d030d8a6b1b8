"""The planning API as the web role sees it: coverage, suggest, scenario, downloads, errors."""

from __future__ import annotations

import csv
import io

import pytest


def test_coverage_json_per_area_and_downloads(routed_client, tmp_path):
    r = routed_client.get("/api/coverage?category=health&mode=walk&minutes=5")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["analysis"] == "coverage" and body["areas_kind"] == "admin_area"
    (area,) = body["areas"]["features"]
    assert area["properties"]["name"] == "Kelurahan Uji"
    assert area["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert body["gaps"]["type"] == "FeatureCollection"
    assert r.headers["X-Sigap-Cache"] in ("hit", "miss")
    again = routed_client.get("/api/coverage?category=health&mode=walk&minutes=5")
    assert again.headers["X-Sigap-Cache"] == "hit" and again.get_json() == body
    c = routed_client.get("/api/coverage?category=health&mode=walk&minutes=5&f=csv")
    assert c.status_code == 200 and c.mimetype == "text/csv"
    assert "coverage-health-walk-5min.csv" in c.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(c.get_data(as_text=True))))
    assert len(rows) == 1 and rows[0]["name"] == "Kelurahan Uji"
    assert float(rows[0]["share_beyond"]) == pytest.approx(area["properties"]["share_beyond"])
    g = routed_client.get("/api/coverage?category=health&mode=walk&minutes=5&f=gpkg")
    assert g.status_code == 200
    path = tmp_path / "areas.gpkg"
    path.write_bytes(g.data)
    import pyogrio

    frame = pyogrio.read_dataframe(path, layer="areas")
    assert list(frame["name"]) == ["Kelurahan Uji"]
    assert frame["road_length_m"][0] == pytest.approx(area["properties"]["road_length_m"])


def test_a_suggested_site_added_by_scenario_lowers_the_share_as_promised(routed_client):
    s = routed_client.get("/api/suggest?category=health&mode=car&minutes=1.5&count=2")
    assert s.status_code == 200, s.get_json()
    sites = [f["properties"] for f in s.get_json()["sites"]["features"]]
    assert len(sites) == 2
    first = sites[0]
    r = routed_client.post(
        "/api/scenario",
        json={
            "category": "health",
            "mode": "car",
            "minutes": 1.5,
            "add_facilities": [{"lat": first["lat"], "lon": first["lon"]}],
            "gaps": False,
        },
    )
    assert r.status_code == 200, r.get_json()
    change = r.get_json()["change"]["summary"]
    assert change["road_length_beyond_m"] == pytest.approx(
        -first["newly_covered_length_m"], abs=0.15
    )
    assert change["share_length_beyond"] == pytest.approx(-first["newly_covered_share"], abs=2e-6)
    # both sites together: what the suggestion's "after" promised
    both = routed_client.post(
        "/api/scenario",
        json={
            "category": "health",
            "mode": "car",
            "minutes": 1.5,
            "add_facilities": [{"lat": x["lat"], "lon": x["lon"]} for x in sites],
            "gaps": False,
        },
    ).get_json()
    assert both["result"]["summary"] == s.get_json()["after"]


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("category=health&minutes=0", "minutes"),
        ("category=health&minutes=240.5", "minutes"),
        ("category=health&minutes=-3", "minutes"),
        ("category=nope&minutes=15", "category"),
        ("minutes=15", "category"),
        ("category=health&mode=plane", "mode"),
        ("category=health&by=county", "by"),
        ("category=health&admin_level=3", "admin_level"),
        ("category=health&f=xlsx", "f"),
        ("category=health&gaps=maybe", "gaps"),
    ],
)
def test_coverage_bad_input_is_400(routed_client, query, param):
    r = routed_client.get(f"/api/coverage?{query}")
    assert r.status_code == 400
    assert r.get_json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("category=health&count=51", "count"),
        ("category=health&count=0", "count"),
        ("category=health&candidates=1,2,3", "candidates"),
        ("category=health&minutes=241", "minutes"),
    ],
)
def test_suggest_bad_input_is_400(routed_client, query, param):
    r = routed_client.get(f"/api/suggest?{query}")
    assert r.status_code == 400
    assert r.get_json()["error"]["param"] == param


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"category": "health", "close_segments": [999999999999]}, "close_segments"),
        ({"category": "health", "close_segment": [1]}, "close_segment"),
        ({"close_segments": [1]}, "category"),
        ({"category": "health", "minutes": 0}, "minutes"),
        ({"category": "health", "remove_facilities": [123456789]}, "remove_facilities"),
        ([1, 2], "body"),
    ],
)
def test_scenario_bad_input_is_400(routed_client, body, param):
    r = routed_client.post("/api/scenario", json=body)
    assert r.status_code == 400
    assert r.get_json()["error"]["param"] == param


def test_a_category_without_facilities_is_a_valid_answer(routed_client):
    from gis.routing import FACILITY_CATEGORIES

    empty = None
    for c in FACILITY_CATEGORIES:
        answer = routed_client.get(f"/api/coverage?category={c}&mode=car&minutes=10&gaps=0")
        assert answer.status_code == 200
        if answer.get_json()["facilities"]["count"] == 0:
            empty = answer.get_json()
            break
    assert empty is not None
    assert empty["summary"]["share_length_beyond"] == 1.0
    assert "gaps" not in empty

"""What the network is built from: facilities through the layer registry, and the stamps."""

from __future__ import annotations

import dataclasses

import pytest
from psycopg2 import sql

from gis import network_data
from gis.network_data import database_stamps, read_facilities, read_segments, transaction
from layers import registry
from layers.vocab import FACILITY_CATEGORIES
from tests.conftest import query


def test_facility_categories_and_layers_come_from_the_registry(hel):
    with transaction(hel) as cur:
        facs = read_facilities(cur)
    assert list(facs.by_category) == list(FACILITY_CATEGORIES)
    layers = {spec.name: spec for spec in registry.facility_layers()}
    counted = 0
    for spec in layers.values():
        (n,) = query(hel, sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(spec.table)))[0]
        counted += n
    got = [f for fs in facs.by_category.values() for f in fs]
    assert len(got) == counted  # every feature has a known category in Helsinki
    for f in got:
        spec = layers[f["layer"]]
        assert f["category"] in spec.classes
        ((cat, lat, lon),) = query(
            hel,
            sql.SQL("SELECT {}, ST_Y(geom), ST_X(geom) FROM {} WHERE id = %s").format(
                sql.Identifier(spec.class_field), sql.Identifier(spec.table)
            ),
            (f["id"],),
        )
        assert (cat, lat, lon) == (f["category"], pytest.approx(f["lat"]), pytest.approx(f["lon"]))


def test_a_new_facility_layer_needs_no_routing_code(fresh_db, monkeypatch):
    """One more LayerSpec with ``facility=True`` (and its table) is all it takes."""
    query(
        fresh_db,
        "CREATE TABLE pos_ronda (id serial PRIMARY KEY, name text, jenis text, "
        "geom geometry(Point, 4326) NOT NULL)",
    )
    query(
        fresh_db,
        "INSERT INTO pos_ronda (name, jenis, geom) VALUES "
        "('Pos Ronda RW 03', 'police', ST_SetSRID(ST_MakePoint(106.80, -6.20), 4326)), "
        "('Pos Damkar Mini', 'fire', ST_SetSRID(ST_MakePoint(106.81, -6.21), 4326)), "
        "('Gardu', 'gardu', ST_SetSRID(ST_MakePoint(106.82, -6.22), 4326))",
    )
    office = registry.get_layer("office")
    spec = dataclasses.replace(
        office,
        name="pos_ronda",
        table="pos_ronda",
        columns=(
            *(f for f in office.columns if f.name in ("id", "name")),
            dataclasses.replace(office.field("category"), name="jenis"),
        ),
        popup_fields=("name",),
        class_field="jenis",
    )
    monkeypatch.setattr(
        network_data, "facility_layers", lambda: (*registry.facility_layers(), spec)
    )
    with transaction(fresh_db, repeatable=True) as cur:
        facs = read_facilities(cur)
        stamps = database_stamps(cur)
    assert facs.by_category["police"] == [
        {
            "id": 1,
            "layer": "pos_ronda",
            "name": "Pos Ronda RW 03",
            "category": "police",
            "kind": "police",  # no kind column: the category
            "lat": -6.2,
            "lon": 106.8,
        }
    ]
    assert [f["name"] for f in facs.by_category["fire"]] == ["Pos Damkar Mini"]
    assert all(f["name"] != "Gardu" for fs in facs.by_category.values() for f in fs)
    query(fresh_db, "UPDATE pos_ronda SET name = 'Pos Kamling' WHERE id = 1")
    with transaction(fresh_db, repeatable=True) as cur:
        again = database_stamps(cur)
    assert again["facilities"] != stamps["facilities"] and again["roads"] == stamps["roads"]


def test_segments_are_read_in_id_order_with_their_geometry(hel):
    with transaction(hel) as cur:
        seg = read_segments(cur)
    ((n, first, total),) = query(
        hel, "SELECT count(*), min(id), sum(ST_NPoints(geom)) FROM road_segment"
    )
    assert len(seg) == n and seg.id[0] == first and (seg.id[1:] > seg.id[:-1]).all()
    assert len(seg.geom_lonlat) == total and seg.geom_offsets[-1] == total

"""The layer registry: consistent, private data never public, and the same as the database.

The schema check reads the migrated database (``information_schema`` and PostGIS's
``geometry_columns``), so a migration that changes a layer's table without its ``LayerSpec``
(or the reverse) fails here.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from layers import models
from layers.registry import (
    ALL_LAYERS,
    BOOKKEEPING_COLUMNS,
    KEY_MAX_LENGTHS,
    LAYERS,
    FieldSpec,
    LayerStyle,
    check_registry,
    facility_layer,
    facility_layers,
    get_layer,
    ingest_layer,
    osm_point_layers,
)
from layers.vocab import FACILITY_CATEGORIES, OFFICE_CATEGORIES, WASTE_BIN_KINDS
from tests.conftest import query

#: PostgreSQL types (``information_schema.columns.data_type``) each field type may be stored as.
COMPATIBLE_TYPES = {
    "integer": {"smallint", "integer", "bigint"},
    "number": {"double precision", "real", "numeric"},
    "string": {"text", "character varying"},
    "boolean": {"boolean"},
    "datetime": {"timestamp with time zone", "timestamp without time zone", "date"},
    "array": {"ARRAY"},
    "object": {"jsonb", "json"},
}


@pytest.fixture(scope="module")
def schema(template_db, server_url):
    """``{table: {column: (data_type, udt_name, nullable, has_default, max_length)}}``."""
    from tests.conftest import _with_db

    url = _with_db(server_url, template_db)
    rows = query(
        url,
        "SELECT table_name, column_name, data_type, udt_name, is_nullable = 'YES', "
        "column_default IS NOT NULL, character_maximum_length "
        "FROM information_schema.columns WHERE table_schema = 'public'",
    )
    out: dict[str, dict[str, tuple]] = {}
    for table, column, *rest in rows:
        out.setdefault(table, {})[column] = tuple(rest)
    geoms = query(url, "SELECT f_table_name, type, srid FROM geometry_columns")
    return out, {t: (kind, srid) for t, kind, srid in geoms}


@pytest.mark.parametrize("name", ALL_LAYERS)
def test_every_column_of_the_table_is_described_and_compatible(schema, name):
    columns, geometry = schema
    spec = ALL_LAYERS[name]
    table = columns[spec.table]
    # both ways: a column added by a migration needs a FieldSpec, and the reverse
    assert set(spec.column_names) | BOOKKEEPING_COLUMNS == set(table), name
    for f in spec.columns:
        data_type, udt, nullable, has_default, max_length = table[f.name]
        assert data_type in COMPATIBLE_TYPES[f.type], (name, f.name, data_type)
        if f.type == "array":
            assert udt in ("_text", "_varchar"), (name, f.name, udt)
        assert f.max_length == max_length, (name, f.name)
        if f.load:
            # ingest writes every loaded column, NULL included: required <=> NOT NULL
            assert f.required == (not nullable), (name, f.name)
        else:
            assert nullable or has_default, (name, f.name)
    kind, srid = geometry[spec.table]
    assert (kind, srid) == (spec.geometry_type.upper(), 4326)
    for key, length in KEY_MAX_LENGTHS.items():
        assert table[key][0] == "character varying" and table[key][4] == length
        assert not table[key][2]  # NOT NULL


def test_the_models_describe_the_same_columns():
    tables = models.Base.metadata.tables
    for spec in ALL_LAYERS.values():
        assert set(tables[spec.table].columns.keys()) == set(spec.column_names) | (
            BOOKKEEPING_COLUMNS
        )


def test_public_fields_are_the_api_fields_in_order():
    office = LAYERS["office"]
    assert office.field_names[0] == "id"
    assert office.fields == tuple(f for f in office.columns if f.public)
    road = LAYERS["road_segment"]
    for private in ("u", "v", "osm_way_id", "cost_walk_s", "cost_motorcycle_s", "cost_car_s"):
        assert private in road.column_names and private not in road.field_names
    assert set(road.field_names) >= {"name", "condition", "condition_source", "length_m"}


def test_load_columns_are_what_ingest_writes():
    road = LAYERS["road_segment"]
    assert road.load_columns[:2] == ("source", "source_id") and road.load_columns[-1] == "geom"
    assert "id" not in road.load_columns and "cost_car_s" not in road.load_columns
    assert "condition_source" not in road.load_columns  # inspections write it, not OSM
    assert road.field("condition").overwrite_when == ("condition_source", "osm")
    assert road.prune_by == "osm_way_id"


def test_facilities_and_their_categories():
    assert [s.name for s in facility_layers()] == ["office", "waste_bin"]
    cats = [c for s in facility_layers() for c in s.classes]
    assert tuple(cats) == FACILITY_CATEGORIES == (*OFFICE_CATEGORIES, *WASTE_BIN_KINDS)
    assert facility_layer("health") is LAYERS["office"]
    assert facility_layer("recycling") is LAYERS["waste_bin"]
    assert facility_layer("nope") is None
    assert get_layer("office") is LAYERS["office"] and get_layer("nope") is None
    assert {s.name for s in osm_point_layers()} == {"office", "waste_bin"}


def test_classes_labels_and_colours_come_from_the_class_field():
    office = LAYERS["office"]
    assert set(office.classes) == set(office.colors) == set(OFFICE_CATEGORIES)
    assert office.class_label("health", "en") == "Health (clinic, hospital)"
    assert office.class_label("health", "id").startswith("Kesehatan")
    assert office.class_label("unknown-value", "en") == "unknown-value"
    assert LAYERS["admin_area"].classes == {}
    assert LAYERS["admin_area"].class_label("x", "en") == "x"


def test_describe_gives_the_page_its_popup_and_style():
    bins = LAYERS["waste_bin"].describe("en")
    assert [p["name"] for p in bins["popup"]] == list(LAYERS["waste_bin"].popup_fields)
    kind = next(p for p in bins["popup"] if p["name"] == "kind")
    assert kind["labels"]["waste_disposal"] == "Waste disposal (TPS)"
    fill = next(p for p in bins["popup"] if p["name"] == "fill_level")
    assert fill["display"] == "percent" and fill["label"] == "Fill level"
    assert bins["style"]["colors"] == dict(LAYERS["waste_bin"].colors)
    assert LAYERS["admin_area"].describe("id")["style"]["fill_opacity"] == 0.05
    assert {f["name"] for f in LAYERS["road_segment"].describe("id")["fields"]}.isdisjoint(
        {"u", "v", "cost_car_s"}
    )


def test_served_layers_and_ingest_only_layers():
    assert list(LAYERS) == ["office", "waste_bin", "road_segment", "admin_area"]
    assert {"road_inspection", "complaint"} <= set(ALL_LAYERS) - set(LAYERS)
    assert ingest_layer("offices") is ALL_LAYERS["office"]
    assert ingest_layer("inspections") is ALL_LAYERS["road_inspection"]
    assert ingest_layer("complaint") is ALL_LAYERS["complaint"]
    assert ingest_layer("nope") is None
    # every layer keeps a file's other columns; a complaint's only for staff
    for spec in ALL_LAYERS.values():
        assert spec.field("attributes").type == "object"
    assert not ALL_LAYERS["complaint"].field("attributes").public


def test_no_layer_reads_reporter_contact_details():
    assert all(spec.table != "complaint_reporter" for spec in ALL_LAYERS.values())
    reporter_columns = set(models.ComplaintReporter.__table__.columns.keys()) - {"complaint_id"}
    for spec in ALL_LAYERS.values():
        if spec.table.startswith("complaint"):
            assert not set(spec.field_names) & reporter_columns


def _with_field(spec, f: FieldSpec):
    return replace(spec, columns=(*spec.columns, f))


BROKEN = {
    "private table": (lambda o: replace(o, table="complaint_reporter"), "private table"),
    "private field": (
        lambda o: _with_field(o, FieldSpec("email", "string", "E", "E")),
        "private fields",
    ),
    "private field, not public": (
        lambda o: _with_field(o, FieldSpec("email", "string", "E", "E", public=False)),
        None,
    ),
    "popup field not public": (lambda o: replace(o, popup_fields=("source_id",)), "popup"),
    "popup of a private column": (
        lambda o: replace(
            _with_field(o, FieldSpec("secret", "string", "R", "R", public=False)),
            popup_fields=("secret",),
        ),
        "popup",
    ),
    "unknown type": (lambda o: _with_field(o, FieldSpec("x", "text", "X", "X")), "unknown type"),
    "duplicate column": (
        lambda o: _with_field(o, FieldSpec("name", "string", "N", "N")),
        "listed twice",
    ),
    "bookkeeping column": (
        lambda o: _with_field(o, FieldSpec("source", "string", "S", "S")),
        "implied",
    ),
    "id not first": (lambda o: replace(o, columns=o.columns[1:] + o.columns[:1]), "first field"),
    "class without vocabulary": (lambda o: replace(o, class_field="name"), "vocabulary"),
    "colours differ": (
        lambda o: replace(o, style=LayerStyle(colors={"health": "#fff"})),
        "colours and classes",
    ),
    "facility of lines": (lambda o: replace(o, geometry_type="LineString"), "facility layer"),
    "required but not loaded": (
        lambda o: _with_field(o, FieldSpec("x", "string", "X", "X", required=True, load=False)),
        "must be loaded",
    ),
    "guard on a missing column": (
        lambda o: _with_field(
            o, FieldSpec("x", "string", "X", "X", overwrite_when=("nope", "osm"))
        ),
        "unknown column",
    ),
    "prune by an unloaded column": (lambda o: replace(o, prune_by="id"), "prune_by"),
    "bad display hint": (
        lambda o: _with_field(o, FieldSpec("x", "number", "X", "X", display="stars")),
        "display hint",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_check_registry_rejects_inconsistent_specs(case):
    make, message = BROKEN[case]
    spec = make(LAYERS["office"])
    if message is None:
        check_registry({spec.name: spec})
        return
    with pytest.raises(ValueError, match=message):
        check_registry({spec.name: spec})


def test_a_category_cannot_belong_to_two_facility_layers():
    office = LAYERS["office"]
    twin = replace(office, name="twin", table="twin")
    with pytest.raises(ValueError, match="two layers"):
        check_registry({"office": office, "twin": twin})

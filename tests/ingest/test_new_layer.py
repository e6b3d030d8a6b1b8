"""A new layer is one ``LayerSpec`` and a table: the OSM reader, the loader and the CLI
summary pick it up with no other change.

The test adds a ``depot`` layer (waste transfer stations) to the registry for its duration and
creates its table the way a migration would.
"""

from __future__ import annotations

import pytest

from ingest.osm import ingest_osm_file
from layers.registry import ALL_LAYERS, LAYERS, FieldSpec, LayerSpec, LayerStyle, check_registry
from tests.conftest import query

DEPOT_TABLE = """
CREATE TABLE depot (
    id serial PRIMARY KEY,
    source varchar(64) NOT NULL,
    source_id varchar(128) NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    name text,
    kind varchar(32) NOT NULL,
    capacity_t double precision,
    geom geometry(Point, 4326) NOT NULL,
    UNIQUE (source, source_id)
)
"""

DEPOT_KINDS = {"transfer": ("Stasiun peralihan antara", "Transfer station")}


def depot_row(tags):
    if tags.get("amenity") != "waste_transfer_station":
        return None
    capacity = tags.get("capacity")
    return {
        "name": tags.get("name"),
        "kind": "transfer",
        "capacity_t": capacity and float(capacity),
    }


DEPOT = LayerSpec(
    name="depot",
    table="depot",
    title_id="Depo sampah",
    title_en="Waste depots",
    geometry_type="Point",
    columns=(
        FieldSpec("id", "integer", "ID", "ID", load=False),
        FieldSpec("name", "string", "Nama", "Name"),
        FieldSpec(
            "kind", "string", "Jenis", "Kind", required=True, vocab=DEPOT_KINDS, max_length=32
        ),
        FieldSpec("capacity_t", "number", "Kapasitas (ton)", "Capacity (t)"),
    ),
    popup_fields=("name", "kind", "capacity_t"),
    class_field="kind",
    style=LayerStyle(colors={"transfer": "#795548"}, radius_px=8),
    from_osm=depot_row,
)

OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version='0.6'>
  <node id='1' lat='-6.90' lon='107.60'/>
  <node id='2' lat='-6.90' lon='107.61'/>
  <node id='3' lat='-6.901' lon='107.605'>
    <tag k='amenity' v='waste_transfer_station'/><tag k='name' v='TPST Cicukang'/>
    <tag k='capacity' v='40'/>
  </node>
  <way id='10'><nd ref='1'/><nd ref='2'/><tag k='highway' v='residential'/></way>
</osm>
"""


@pytest.fixture
def with_depot(fresh_db, monkeypatch):
    query(fresh_db, DEPOT_TABLE)
    check_registry({"depot": DEPOT})
    monkeypatch.setitem(ALL_LAYERS, "depot", DEPOT)  # what ingest may write
    monkeypatch.setitem(LAYERS, "depot", DEPOT)  # what the API and maps serve
    return fresh_db


def test_a_new_point_layer_loads_from_osm_with_no_other_change(with_depot, tmp_path, runner):
    path = tmp_path / "depot.osm"
    path.write_text(OSM)
    extract, result = ingest_osm_file(path, with_depot, progress=False)
    assert [r["source_id"] for r in extract.rows["depot"]] == ["node/3"]
    assert result.total["depot"] == result.new["depot"] == 1
    assert query(with_depot, "SELECT name, kind, capacity_t, ST_AsText(geom) FROM depot") == [
        ("TPST Cicukang", "transfer", 40.0, "POINT(107.605 -6.901)")
    ]
    again = runner.invoke(["ingest", "osm", str(path)], env={"DATABASE_URL": with_depot})
    assert again.exit_code == 0, again.output
    depot_line = next(line for line in again.stdout.splitlines() if line.startswith("depot"))
    assert depot_line.split() == ["depot", "1", "0", "0", "0"]

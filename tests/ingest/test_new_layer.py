"""A new layer is one ``LayerSpec`` and a table: the OSM reader, the loader and the CLI
summary pick it up with no other change.

The test adds an ``ipal`` layer (wastewater treatment plants, *instalasi pengolahan air
limbah*) to the registry for its duration and creates its table the way a migration would.
"""

from __future__ import annotations

import pytest

from ingest.osm import ingest_osm_file
from layers.registry import ALL_LAYERS, LAYERS, FieldSpec, LayerSpec, LayerStyle, check_registry
from tests.conftest import query

IPAL_TABLE = """
CREATE TABLE ipal (
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

IPAL_KINDS = {"treatment": ("Instalasi pengolahan", "Treatment plant")}


def ipal_row(tags):
    if tags.get("man_made") != "wastewater_plant":
        return None
    capacity = tags.get("capacity")
    return {
        "name": tags.get("name"),
        "kind": "treatment",
        "capacity_t": capacity and float(capacity),
    }


IPAL = LayerSpec(
    name="ipal",
    table="ipal",
    title_id="Instalasi pengolahan air limbah",
    title_en="Wastewater treatment plants",
    geometry_type="Point",
    columns=(
        FieldSpec("id", "integer", "ID", "ID", load=False),
        FieldSpec("name", "string", "Nama", "Name"),
        FieldSpec(
            "kind", "string", "Jenis", "Kind", required=True, vocab=IPAL_KINDS, max_length=32
        ),
        FieldSpec("capacity_t", "number", "Kapasitas (m3/hari)", "Capacity (m3/day)"),
    ),
    popup_fields=("name", "kind", "capacity_t"),
    class_field="kind",
    style=LayerStyle(colors={"treatment": "#795548"}, radius_px=8),
    from_osm=ipal_row,
)

OSM = """<?xml version='1.0' encoding='UTF-8'?>
<osm version='0.6'>
  <node id='1' lat='-6.90' lon='107.60'/>
  <node id='2' lat='-6.90' lon='107.61'/>
  <node id='3' lat='-6.901' lon='107.605'>
    <tag k='man_made' v='wastewater_plant'/><tag k='name' v='IPAL Bojongsoang'/>
    <tag k='capacity' v='40'/>
  </node>
  <way id='10'><nd ref='1'/><nd ref='2'/><tag k='highway' v='residential'/></way>
</osm>
"""


@pytest.fixture
def with_ipal(fresh_db, monkeypatch):
    query(fresh_db, IPAL_TABLE)
    check_registry({"ipal": IPAL})
    monkeypatch.setitem(ALL_LAYERS, "ipal", IPAL)  # what ingest may write
    monkeypatch.setitem(LAYERS, "ipal", IPAL)  # what the API and maps serve
    return fresh_db


def test_a_new_point_layer_loads_from_osm_with_no_other_change(with_ipal, tmp_path, runner):
    path = tmp_path / "ipal.osm"
    path.write_text(OSM)
    extract, result = ingest_osm_file(path, with_ipal, progress=False)
    assert [r["source_id"] for r in extract.rows["ipal"]] == ["node/3"]
    assert result.total["ipal"] == result.new["ipal"] == 1
    assert query(with_ipal, "SELECT name, kind, capacity_t, ST_AsText(geom) FROM ipal") == [
        ("IPAL Bojongsoang", "treatment", 40.0, "POINT(107.605 -6.901)")
    ]
    again = runner.invoke(["ingest", "osm", str(path)], env={"DATABASE_URL": with_ipal})
    assert again.exit_code == 0, again.output
    line = next(line for line in again.stdout.splitlines() if line.startswith("ipal"))
    assert line.split() == ["ipal", "1", "0", "0", "0"]

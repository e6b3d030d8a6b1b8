"""web/features.py: the CSV formula guard and GeoPackage column types."""

from __future__ import annotations

import csv
import io

import pyogrio
import pytest

from layers.registry import LAYERS
from web.features import csv_cell, is_formula

#: OWASP's leading characters, then the full-width forms, then each after leading spaces.
DANGEROUS = [
    "=1+1",
    "+62 31 555",
    "-2+3",
    "@SUM(A1)",
    "\tclinic",
    "\rvaccination",
    "\n=cmd",
    "＝1+1",
    "＋62",
    "－2",
    "＠SUM(A1)",
    " =1+1",
    "   @SUM(A1)",
    "\u00a0+62",
    "\u3000＝1",
]
SAFE = ["Puskesmas", "POINT(-1 2)", " Jalan Uji", "a=b", "62+1", "", "　Kantor"]


@pytest.mark.parametrize("text", DANGEROUS)
def test_formula_starts_are_quoted(text):
    assert is_formula(text)
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("text", SAFE)
def test_ordinary_text_is_left_alone(text):
    assert not is_formula(text)
    assert csv_cell(text) == text


def test_numbers_and_lists():
    assert csv_cell(-5) == -5 and csv_cell(-0.25) == -0.25 and csv_cell(None) == ""
    assert csv_cell([" -a", "b"]) == "' -a; b"


def test_every_dangerous_cell_is_quoted_in_a_real_export(pii_client):
    """The CSV export of the office layer: no cell a spreadsheet would run."""
    r = pii_client.get("/api/layers/office/items?f=csv")
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    for row in rows[1:]:
        for cell in row[:-1]:  # the WKT column is ours
            assert not is_formula(cell) or cell.startswith("'"), cell


@pytest.mark.parametrize("name", list(LAYERS))
def test_empty_geopackage_keeps_the_registry_types(client, tmp_path, name):
    """No feature in the bbox: the columns still have their types (integers stay integers)."""
    r = client.get(f"/api/layers/{name}/items?f=gpkg&bbox=0,0,0.001,0.001")
    assert r.status_code == 200
    path = tmp_path / f"{name}.gpkg"
    path.write_bytes(r.get_data())
    info = pyogrio.read_info(path, layer=name)
    assert info["features"] == 0
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    expected = {"integer": "int64", "number": "float64", "string": "object", "array": "object"}
    spec = LAYERS[name]
    for f in spec.fields:
        if f.name == "id" and "id" not in types:
            continue  # GDAL may take an integer id as the feature id
        if f.type in expected:
            assert types[f.name] == expected[f.type], (f.name, types[f.name])
        elif f.type == "boolean":
            assert types[f.name] == "bool", f.name
        elif f.type == "datetime":
            assert types[f.name].startswith("datetime64"), f.name


def test_integer_column_with_nulls_stays_integer(routed_client, routed_db, tmp_path):
    """admin_area.population is NULL for areas without a census figure: pandas would make
    the column float; the export keeps it integer, with the NULL as NULL."""
    from tests.conftest import query

    assert query(routed_db, "SELECT population FROM admin_area") == [(None,)]
    r = routed_client.get("/api/layers/admin_area/items?f=gpkg")
    path = tmp_path / "admin_area.gpkg"
    path.write_bytes(r.get_data())
    info = pyogrio.read_info(path)
    types = dict(zip(info["fields"], info["dtypes"], strict=True))
    assert types["population"] == "int64" and types["admin_level"] == "int64"
    frame = pyogrio.read_dataframe(path)
    assert frame["population"].isna().all() and list(frame["name"]) == ["Kelurahan Uji"]

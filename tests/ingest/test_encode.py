"""Rows as COPY text (ingest.encode): NULLs, NaN and awkward text, and the registry's checks.

Values are loaded for real and read back with plain SQL: what went in is what the database
holds.
"""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import psycopg2
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon

from gis.db import libpq_url
from gis.errors import IngestError
from ingest.encode import copy_rows, copy_text, null_mask, pg_array
from layers.registry import LAYERS, FieldSpec
from tests.conftest import create_database, drop_database, query
from tests.ingest.helpers import P, load, office, waste_bin

#: Texts that a naive COPY mangles; each must come back exactly.
AWKWARD_TEXTS = {
    "quotes": "Kantor \"Lurah\" 'Menteng'",
    "tab": "a\tb",
    "newline": "line 1\nline 2",
    "carriage return": "a\r\nb",
    "backslash": "C:\\data\\x.csv",
    "backslash n": "\\N",
    "backslash quote": '\\"',
    "comma": "Jl. Merdeka, No. 5",
    "empty": "",
    "spaces": "  padded  ",
    "the text nan": "nan",
    "the text NULL": "NULL",
    "unicode": "Dinas Lingkungan Hidup — TPS № 3 🚮",
}


# --- pure functions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        (None, True),
        (float("nan"), True),
        (np.nan, True),
        (np.float32("nan"), True),
        (pd.NA, True),
        (pd.NaT, True),
        (np.datetime64("NaT"), True),
        ("", False),
        ("nan", False),
        (0, False),
        (0.0, False),
        (False, False),
        ([], False),
        ([None], False),
        ({}, False),
        (P, False),
        (datetime(2024, 1, 1, tzinfo=UTC), False),
    ],
)
def test_null_mask(value, missing):
    assert null_mask([value, "x"]).tolist() == [missing, False]


def test_pg_array_quotes_every_element():
    assert pg_array([]) == "{}"
    assert pg_array(["a", None, float("nan")]) == '{"a",NULL,NULL}'
    assert pg_array(['b "c"', "d\\e", "f,g", "{h}"]) == '{"b \\"c\\"","d\\\\e","f,g","{h}"}'


def test_copy_text_writes_null_unquoted_and_text_quoted():
    spec = LAYERS["office"]
    rows = [office("1", name=None, phone="")]
    text = copy_text(spec, rows, ("source_id", "name", "phone", "services"))
    assert text == '"1",,"",\n'


# --- values round-trip through COPY -----------------------------------------------------------


@pytest.fixture(scope="module")
def loaded(server_url, template_db):
    """A database with one load of awkward values, first-load path and upsert path both."""
    name = f"sigap_test_{os.getpid()}_load_values"
    url = create_database(server_url, name, template=template_db)
    df = pd.DataFrame(
        {
            "source": ["test"] * 3,
            "source_id": ["df/1", "df/2", "df/3"],
            "kind": ["recycling", "waste_basket", "waste_disposal"],
            "name": ["TPS Buahbatu", np.nan, None],
            "capacity_l": [1100.0, np.nan, 240],
            "fill_level": [np.float64(0.5), np.nan, pd.NA],
            "last_emptied_at": pd.to_datetime(["2024-05-01 07:30:00+07:00", None, pd.NaT]),
            "geom": [P, Point(106.81, -6.21), Point(106.82, -6.22)],
        }
    )
    bins = df.astype({"fill_level": "object"}).to_dict("records")
    offices = [office(f"text/{key}", name=text) for key, text in AWKWARD_TEXTS.items()]
    offices += [
        office("arr/empty", services=[]),
        office("arr/awkward", services=['a "b"', "c\\d", "e,f", "{g}", "NULL", "tab\there"]),
        office("arr/none", services=["x", None]),
        office("arr/numpy", services=np.array(["p", "q"])),
        office("missing", name=None, phone=None, services=None),
    ]
    areas = [
        {
            "source": "test",
            "source_id": "area/1",
            "name": "Kelurahan A",
            "admin_level": np.int64(7),
            "code": "3578010001",
            "population": 12345.0,  # pandas makes a column with a gap float
            "geom": shapely.MultiPolygon([Polygon([(0, 0), (1, 0), (1, 1), (0, 0)])]),
        },
        {
            "source": "test",
            "source_id": "area/2",
            "name": "Kelurahan B",
            "admin_level": 7,
            "code": None,
            "population": np.nan,
            "geom": shapely.MultiPolygon([Polygon([(1, 1), (2, 1), (2, 2), (1, 1)])]),
        },
    ]
    load(url, {"waste_bin": bins[:1], "office": offices[:2]})  # a first load: straight COPY
    load(url, {"waste_bin": bins, "office": offices, "admin_area": areas})  # then an upsert
    yield url
    drop_database(server_url, name)


@pytest.mark.parametrize("key", AWKWARD_TEXTS)
def test_text_arrives_as_it_was(loaded, key):
    rows = query(loaded, "SELECT name FROM office WHERE source_id = %s", (f"text/{key}",))
    assert rows == [(AWKWARD_TEXTS[key],)]


def test_pandas_nan_nat_and_na_become_null_never_the_text_nan(loaded):
    rows = query(
        loaded,
        "SELECT source_id, name, capacity_l, fill_level, last_emptied_at FROM waste_bin "
        "ORDER BY source_id",
    )
    assert rows[0][:4] == ("df/1", "TPS Buahbatu", 1100.0, 0.5)
    assert rows[0][4] == datetime(2024, 5, 1, 0, 30, tzinfo=UTC)
    assert rows[1] == ("df/2", None, None, None, None)
    assert rows[2] == ("df/3", None, 240.0, None, None)
    text = query(
        loaded,
        "SELECT count(*) FROM waste_bin WHERE lower(concat(name, capacity_l::text, "
        "fill_level::text, last_emptied_at::text)) LIKE '%nan%'",
    )
    assert text == [(0,)]


def test_none_is_null(loaded):
    rows = query(loaded, "SELECT name, phone, services FROM office WHERE source_id = 'missing'")
    assert rows == [(None, None, None)]


def test_arrays_round_trip(loaded):
    rows = dict(
        query(loaded, "SELECT source_id, services FROM office WHERE source_id LIKE 'arr/%'")
    )
    assert rows["arr/empty"] == []
    assert rows["arr/awkward"] == ['a "b"', "c\\d", "e,f", "{g}", "NULL", "tab\there"]
    assert rows["arr/none"] == ["x", None]
    assert rows["arr/numpy"] == ["p", "q"]


def test_integers_from_numpy_and_integral_floats(loaded):
    rows = query(
        loaded, "SELECT source_id, admin_level, population, code FROM admin_area ORDER BY 1"
    )
    assert rows == [("area/1", 7, 12345, "3578010001"), ("area/2", 7, None, None)]


# --- checks from the registry: the message names layer, row and field -------------------------


BAD_ROWS = {
    "category not in the vocabulary": (
        "office",
        [office("1"), office("2", category="puskesmas")],
        "layer office, row 2 (source_id 2): 'category' is 'puskesmas', not one of government,",
    ),
    "required field missing": (
        "office",
        [office("1", category=None)],
        "row 1 (source_id 1): 'category' is missing",
    ),
    "required field NaN": (
        "waste_bin",
        [waste_bin("1", kind=np.nan)],
        "'kind' is missing",
    ),
    "no geometry": ("office", [office("1", geom=None)], "'geom' is missing"),
    "wrong geometry type": (
        "office",
        [office("1", geom=LineString([(0, 0), (1, 1)]))],
        "'geom' is a LineString, not a Point",
    ),
    "not a geometry": ("office", [office("1", geom="POINT (1 2)")], "not a geometry"),
    "text too long": (
        "office",
        [office("1", kind="x" * 65)],
        "'kind' is 65 characters long; at most 64 fit",
    ),
    "NUL character": ("office", [office("1", name="a\x00b")], "'name' contains a NUL"),
    "NUL in an array": ("office", [office("1", services=["a\x00"])], "'services' contains a NUL"),
    "list as text": ("office", [office("1", name=["a"])], "'name' is ['a'], not a text"),
    "text as list": ("office", [office("1", services="a;b")], "'services' is 'a;b', not a list"),
    "fractional integer": (
        "admin_area",
        [
            {
                "source": "t",
                "source_id": "1",
                "admin_level": 7.5,
                "geom": shapely.MultiPolygon([Polygon([(0, 0), (1, 0), (1, 1)])]),
            }
        ],
        "'admin_level' is 7.5, not a whole number",
    ),
    "not a number": ("waste_bin", [waste_bin("1", capacity_l="big")], "'capacity_l' is 'big'"),
    "not a boolean": (
        "road_segment",
        [
            {
                "source": "t",
                "source_id": "1",
                "u": 1,
                "v": 2,
                "highway": "residential",
                "oneway": "yes",
                "length_m": 10.0,
                "condition": "baik",
                "geom": LineString([(0, 0), (1, 1)]),
            }
        ],
        "'oneway' is 'yes', not true or false",
    ),
    "source_id twice": (
        "office",
        [office("1"), office("2"), office("1")],
        "row 3: 'source_id' appears twice in the input",
    ),
    "source_id missing": ("office", [office(None)], "'source_id' is missing"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_bad_row_is_named_and_nothing_is_written(fresh_db, case):
    layer, rows, message = BAD_ROWS[case]
    good = {"waste_bin": [waste_bin("ok")]} if layer != "waste_bin" else {}
    with pytest.raises(IngestError) as info:
        load(fresh_db, {**good, layer: rows})
    assert message in info.value.message
    assert info.value.message.startswith("test-input: ")
    assert info.value.message.endswith("; nothing was written.")
    assert "\n" not in info.value.message
    assert query(fresh_db, "SELECT count(*) FROM waste_bin") == [(0,)]
    # the failed run is recorded, in a transaction of its own
    ((status, rejects),) = query(fresh_db, "SELECT status, rejects FROM ingest_run")
    assert status == "failed" and message in rejects[0]["error"]


def test_unknown_layer(fresh_db):
    with pytest.raises(IngestError, match="unknown layer 'depot'; the layers are office"):
        load(fresh_db, {"depot": [office("1")]})


# --- JSON objects: the file-ingest ``attributes`` column --------------------------------------


def test_an_object_field_is_stored_as_jsonb_with_nan_as_null(fresh_db):
    """No layer has a ``jsonb`` column yet; a scratch table with one stands in for it."""
    spec = replace(
        LAYERS["office"],
        columns=(LAYERS["office"].columns[0], FieldSpec("attributes", "object", "A", "A")),
    )
    attributes = {
        "sampah_masuk": 12.5,
        "sampah_diangkut": np.nan,
        "kode": np.int64(3),
        "tanggal": pd.Timestamp("2016-01-31"),
        "kosong": pd.NaT,
        "teks": 'a "b"\\c\n\tdone',
        "daftar": [1, None, float("nan")],
    }
    rows = [
        {"source": "t", "source_id": "1", "attributes": attributes, "geom": P},
        {"source": "t", "source_id": "2", "attributes": None, "geom": P},
        {"source": "t", "source_id": "3", "attributes": {}, "geom": P},
    ]
    conn = psycopg2.connect(libpq_url(fresh_db))
    with conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE scratch (source text, source_id text, attributes jsonb, "
            "geom geometry(Point, 4326))"
        )
        copy_rows(cur, spec, "scratch", rows)
        cur.execute("SELECT source_id, attributes FROM scratch ORDER BY 1")
        stored = dict(cur.fetchall())
        bad = [{"source": "t", "source_id": "4", "attributes": {"x": "a\x00"}, "geom": P}]
        with pytest.raises(IngestError, match="'attributes' cannot be written as JSON"):
            copy_rows(cur, spec, "scratch", bad)
    conn.close()
    assert stored["1"] == {
        "sampah_masuk": 12.5,
        "sampah_diangkut": None,
        "kode": 3,
        "tanggal": "2016-01-31T00:00:00",
        "kosong": None,
        "teks": 'a "b"\\c\n\tdone',
        "daftar": [1, None, None],
    }
    assert stored["2"] is None and stored["3"] == {}

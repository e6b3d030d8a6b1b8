"""The mapping table of file columns: normalised names, and the README prints all of it."""

from __future__ import annotations

import pytest

from gis.settings import PROJECT_ROOT
from layers.aliases import (
    CLASS_ALIASES,
    FIELD_ALIASES,
    ID_ALIASES,
    LATITUDE_ALIASES,
    LONGITUDE_ALIASES,
    VALUE_ALIASES,
    WKT_ALIASES,
    normalize,
)
from layers.registry import ALL_LAYERS


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Unique Key", "unique_key"),
        (" Rusak  Berat ", "rusak_berat"),
        ("kode-bps", "kode_bps"),
        ("X Coordinate (State Plane)", "x_coordinate_(state_plane)"),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_the_readme_documents_every_name():
    readme = (PROJECT_ROOT / "README.md").read_text()
    names = [n for names in FIELD_ALIASES.values() for n in names]
    names += [*CLASS_ALIASES, *ID_ALIASES, *LATITUDE_ALIASES, *LONGITUDE_ALIASES, *WKT_ALIASES]
    missing = [n for n in names if f"`{n}`" not in readme]
    assert not missing, f"README.md lacks {missing}: update the mapping table"


def test_aliases_name_real_fields_and_values_map_into_vocabularies():
    fields = {f.name for spec in ALL_LAYERS.values() for f in spec.load_fields}
    assert set(FIELD_ALIASES) <= fields
    for name, values in VALUE_ALIASES.items():
        vocabs = [
            spec.field(name).vocab for spec in ALL_LAYERS.values() if name in spec.column_names
        ]
        for target in values.values():
            assert any(v and target in v for v in vocabs), (name, target)
    for names in FIELD_ALIASES.values():
        assert all(normalize(n) == n for n in names)

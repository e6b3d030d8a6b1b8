"""The layer registry: public fields exist, private data never listed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from layers import models
from layers.registry import LAYERS, FieldSpec, check_registry


def test_every_public_field_is_a_column_of_its_table():
    tables = models.Base.metadata.tables
    for spec in LAYERS.values():
        columns = set(tables[spec.table].columns.keys())
        assert set(spec.field_names) <= columns, spec.name
        assert "geom" in columns
        assert "geom" not in spec.field_names


def test_no_layer_reads_reporter_contact_details():
    assert all(spec.table != "complaint_reporter" for spec in LAYERS.values())
    reporter_columns = set(models.ComplaintReporter.__table__.columns.keys()) - {"complaint_id"}
    for spec in LAYERS.values():
        if spec.table.startswith("complaint"):
            assert not set(spec.field_names) & reporter_columns


def test_check_registry_rejects_private_tables_and_fields():
    office = LAYERS["office"]
    with pytest.raises(ValueError, match="private table"):
        check_registry({"x": replace(office, name="x", table="complaint_reporter")})
    leaky = replace(office, fields=(*office.fields, FieldSpec("email", "string", "E", "E")))
    with pytest.raises(ValueError, match="private fields"):
        check_registry({"x": leaky})
    with pytest.raises(ValueError, match="popup fields"):
        check_registry({"x": replace(office, popup_fields=("source_id",))})

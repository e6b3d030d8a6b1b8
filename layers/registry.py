"""The one registry of map layers: what each layer is, what of it is public, how it looks.

Ingest, the API, the OpenAPI description, the maps (legends and popups) and the routing
network's facility categories all read this registry. A layer is one :class:`LayerSpec`:

- its table and the columns the registry describes (:attr:`LayerSpec.columns`), each a
  :class:`FieldSpec` with its JSON type, whether ingest requires it, its vocabulary, its labels
  in Indonesian and English, whether it is public and whether ingest writes it;
- its geometry (column ``geom``, EPSG:4326) and, for ingest, the bookkeeping columns
  ``source`` and ``source_id`` (unique together) and ``updated_at``;
- how a re-import treats it (:attr:`FieldSpec.overwrite_when`, :attr:`LayerSpec.prune_by`);
- whether its features are routing destinations (:attr:`LayerSpec.facility`), its style and
  its popup fields;
- for point layers read from OpenStreetMap, how tags become a row (:attr:`LayerSpec.from_osm`).

What a spec may hold is defined in :mod:`layers.spec` (re-exported here). Adding a layer is one
new ``LayerSpec`` here, a model in :mod:`layers.models` and a migration.
``tests/layers/test_registry.py`` checks every spec against the migrated database, so the
registry and the migrations cannot drift apart.

A column whose field is not public never leaves the database through the API or a map page.
Complaint reporters' contact details (``complaint_reporter``) are never a layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from layers import file_rows, osm_tags
from layers.spec import (
    BOOKKEEPING_COLUMNS,
    DISPLAY_HINTS,
    FIELD_TYPES,
    GEOMETRY_TYPES,
    KEY_MAX_LENGTHS,
    PRIVATE_FIELD_NAMES,
    PRIVATE_TABLES,
    SOURCE_COLUMNS,
    FieldSpec,
    LayerSpec,
    LayerStyle,
    check_layer,
)
from layers.vocab import (
    COMPLAINT_CHANNEL_LABELS,
    COMPLAINT_STATUS_LABELS,
    FACILITY_CATEGORIES,
    OFFICE_CATEGORY_LABELS,
    OFFICE_COLORS,
    ROAD_CONDITION_COLORS,
    ROAD_CONDITION_LABELS,
    WASTE_BIN_COLORS,
    WASTE_BIN_KIND_LABELS,
)

__all__ = [
    "BOOKKEEPING_COLUMNS",
    "DISPLAY_HINTS",
    "FIELD_TYPES",
    "GEOMETRY_TYPES",
    "KEY_MAX_LENGTHS",
    "ALL_LAYERS",
    "LAYERS",
    "PRIVATE_FIELD_NAMES",
    "PRIVATE_TABLES",
    "SOURCE_COLUMNS",
    "FieldSpec",
    "LayerSpec",
    "LayerStyle",
    "check_layer",
    "check_registry",
    "facility_layer",
    "facility_layers",
    "get_layer",
    "ingest_layer",
    "osm_point_layers",
]

_ID = FieldSpec("id", "integer", "ID", "ID", load=False)
#: Every column of an input file that has no field of its own, under its original name.
_ATTRIBUTES = FieldSpec("attributes", "object", "Atribut lain", "Other attributes")

#: Every layer, served or not: what ingest may write.
ALL_LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            name="office",
            table="office",
            title_id="Kantor layanan publik",
            title_en="Public service offices",
            geometry_type="Point",
            columns=(
                _ID,
                FieldSpec("name", "string", "Nama", "Name"),
                FieldSpec(
                    "category",
                    "string",
                    "Kategori",
                    "Category",
                    required=True,
                    vocab=OFFICE_CATEGORY_LABELS,
                    max_length=32,
                ),
                FieldSpec("kind", "string", "Jenis", "Kind", max_length=64),
                FieldSpec("address", "string", "Alamat", "Address"),
                FieldSpec("opening_hours", "string", "Jam buka", "Opening hours"),
                FieldSpec("phone", "string", "Telepon", "Phone", max_length=64),
                FieldSpec("services", "array", "Layanan", "Services"),
                _ATTRIBUTES,
            ),
            popup_fields=("name", "category", "address", "opening_hours", "phone", "attributes"),
            class_field="category",
            style=LayerStyle(colors=OFFICE_COLORS, radius_px=9, weight_px=2),
            facility=True,
            from_osm=osm_tags.office_row,
            aliases=("offices",),
        ),
        LayerSpec(
            name="waste_bin",
            table="waste_bin",
            title_id="Tempat sampah",
            title_en="Waste bins",
            geometry_type="Point",
            columns=(
                _ID,
                FieldSpec(
                    "kind",
                    "string",
                    "Jenis",
                    "Kind",
                    required=True,
                    vocab=WASTE_BIN_KIND_LABELS,
                    max_length=32,
                ),
                FieldSpec("name", "string", "Nama", "Name"),
                FieldSpec("capacity_l", "number", "Kapasitas (liter)", "Capacity (litres)"),
                FieldSpec(
                    "fill_level",
                    "number",
                    "Tingkat isi",
                    "Fill level",
                    display="percent",
                ),
                FieldSpec("last_emptied_at", "datetime", "Terakhir dikosongkan", "Last emptied"),
                _ATTRIBUTES,
            ),
            popup_fields=(
                "name",
                "kind",
                "capacity_l",
                "fill_level",
                "last_emptied_at",
                "attributes",
            ),
            class_field="kind",
            style=LayerStyle(colors=WASTE_BIN_COLORS, radius_px=7, weight_px=2),
            facility=True,
            from_osm=osm_tags.waste_bin_row,
            aliases=("bins",),
        ),
        LayerSpec(
            name="road_segment",
            table="road_segment",
            title_id="Ruas jalan",
            title_en="Road segments",
            geometry_type="LineString",
            columns=(
                _ID,
                FieldSpec(
                    "u",
                    "integer",
                    "Simpul awal (OSM)",
                    "Start node (OSM)",
                    public=False,
                    required=True,
                ),
                FieldSpec(
                    "v",
                    "integer",
                    "Simpul akhir (OSM)",
                    "End node (OSM)",
                    public=False,
                    required=True,
                ),
                FieldSpec("osm_way_id", "integer", "ID way OSM", "OSM way id", public=False),
                FieldSpec("name", "string", "Nama jalan", "Road name"),
                FieldSpec(
                    "highway",
                    "string",
                    "Kelas jalan (OSM)",
                    "Road class (OSM)",
                    required=True,
                    max_length=32,
                ),
                FieldSpec("oneway", "boolean", "Satu arah", "One-way", required=True),
                FieldSpec("maxspeed", "string", "Batas kecepatan", "Speed limit", max_length=32),
                FieldSpec("surface", "string", "Permukaan", "Surface", max_length=32),
                FieldSpec("smoothness", "string", "Kehalusan", "Smoothness", max_length=32),
                FieldSpec("length_m", "number", "Panjang (m)", "Length (m)", required=True),
                FieldSpec(
                    "condition",
                    "string",
                    "Kondisi",
                    "Condition",
                    required=True,
                    vocab=ROAD_CONDITION_LABELS,
                    max_length=24,
                    # A field inspection's condition survives a re-import of OSM data.
                    overwrite_when=("condition_source", "osm"),
                ),
                FieldSpec(
                    "condition_source",
                    "string",
                    "Sumber kondisi",
                    "Condition source",
                    load=False,
                    max_length=24,
                ),
                FieldSpec(
                    "inspected_at", "datetime", "Tanggal inspeksi", "Inspected at", load=False
                ),
                FieldSpec(
                    "cost_walk_s",
                    "number",
                    "Waktu tempuh jalan kaki (detik)",
                    "Walking time (s)",
                    public=False,
                    load=False,
                ),
                FieldSpec(
                    "cost_motorcycle_s",
                    "number",
                    "Waktu tempuh sepeda motor (detik)",
                    "Motorcycle time (s)",
                    public=False,
                    load=False,
                ),
                FieldSpec(
                    "cost_car_s",
                    "number",
                    "Waktu tempuh mobil (detik)",
                    "Car time (s)",
                    public=False,
                    load=False,
                ),
                _ATTRIBUTES,
            ),
            popup_fields=("name", "condition", "surface", "length_m"),
            class_field="condition",
            style=LayerStyle(colors=ROAD_CONDITION_COLORS, color="#9e9e9e"),
            prune_by="osm_way_id",
            aliases=("roads",),
            from_file=file_rows.road_fields,
        ),
        LayerSpec(
            name="admin_area",
            table="admin_area",
            title_id="Wilayah administrasi",
            title_en="Administrative areas",
            geometry_type="MultiPolygon",
            columns=(
                _ID,
                FieldSpec("name", "string", "Nama", "Name"),
                FieldSpec("admin_level", "integer", "Tingkat administrasi", "Admin level"),
                FieldSpec("code", "string", "Kode wilayah", "Area code", max_length=32),
                FieldSpec("population", "integer", "Penduduk", "Population"),
                _ATTRIBUTES,
            ),
            popup_fields=("name", "code", "population", "attributes"),
            style=LayerStyle(color="#6a1b9a", weight_px=2, fill_opacity=0.05),
            aliases=("areas",),
        ),
        LayerSpec(
            name="road_inspection",
            table="road_inspection",
            title_id="Inspeksi kondisi jalan",
            title_en="Road condition inspections",
            geometry_type="Geometry",
            columns=(
                _ID,
                FieldSpec(
                    "condition",
                    "string",
                    "Kondisi",
                    "Condition",
                    required=True,
                    vocab=ROAD_CONDITION_LABELS,
                    max_length=24,
                ),
                FieldSpec(
                    "inspected_at", "datetime", "Tanggal inspeksi", "Inspected at", required=True
                ),
                FieldSpec("osm_way_id", "integer", "ID way OSM", "OSM way id"),
                FieldSpec("matched", "integer", "Ruas cocok", "Segments matched", load=False),
                _ATTRIBUTES,
            ),
            popup_fields=("condition", "inspected_at"),
            class_field="condition",
            style=LayerStyle(colors=ROAD_CONDITION_COLORS, color="#9e9e9e"),
            served=False,
            aliases=("inspections",),
            geometry_required=False,
        ),
        LayerSpec(
            name="complaint",
            table="complaint",
            title_id="Pengaduan",
            title_en="Complaints",
            geometry_type="Point",
            columns=(
                _ID,
                FieldSpec(
                    "public_id",
                    "string",
                    "Nomor pengaduan",
                    "Request id",
                    required=True,
                    max_length=32,
                ),
                FieldSpec(
                    "service_code", "string", "Layanan", "Service", required=True, max_length=64
                ),
                FieldSpec("description", "string", "Uraian", "Description"),
                FieldSpec("address", "string", "Alamat", "Address"),
                FieldSpec(
                    "status",
                    "string",
                    "Status",
                    "Status",
                    required=True,
                    vocab=COMPLAINT_STATUS_LABELS,
                    max_length=24,
                ),
                FieldSpec(
                    "channel",
                    "string",
                    "Saluran",
                    "Channel",
                    required=True,
                    vocab=COMPLAINT_CHANNEL_LABELS,
                    max_length=16,
                ),
                FieldSpec("requested_at", "datetime", "Dilaporkan", "Requested", required=True),
                # an imported file's other columns may hold personal data: staff only
                replace(_ATTRIBUTES, public=False),
            ),
            popup_fields=("service_code", "status", "requested_at"),
            class_field="status",
            style=LayerStyle(
                colors={
                    "open": "#c62828",
                    "acknowledged": "#ef6c00",
                    "in_progress": "#f9a825",
                    "closed": "#2e7d32",
                    "rejected": "#616161",
                }
            ),
            served=False,
            aliases=("complaints",),
            from_file=file_rows.complaint_fields,
        ),
    )
}

#: The layers the API and the map pages serve.
LAYERS: dict[str, LayerSpec] = {n: s for n, s in ALL_LAYERS.items() if s.served}


def get_layer(name: str) -> LayerSpec | None:
    """Return the spec of layer ``name``, or None when there is no such layer."""
    return LAYERS.get(name)


def ingest_layer(name: str) -> LayerSpec | None:
    """Return the layer ingest writes as ``name`` (a registry name or an alias), or None.

    Parameters
    ----------
    name : str
        ``office`` or ``offices``, ``road_inspection`` or ``inspections``, ...

    Returns
    -------
    LayerSpec or None
    """
    for spec in ALL_LAYERS.values():
        if name == spec.name or name in spec.aliases:
            return spec
    return None


def facility_layers() -> tuple[LayerSpec, ...]:
    """Return the layers whose features are routing destinations, in registry order."""
    return tuple(spec for spec in LAYERS.values() if spec.facility)


def facility_layer(category: str) -> LayerSpec | None:
    """Return the facility layer whose class field has value ``category``, or None."""
    for spec in facility_layers():
        if category in spec.classes:
            return spec
    return None


def osm_point_layers() -> tuple[LayerSpec, ...]:
    """Return the layers whose features the OSM reader builds from tags (``from_osm``)."""
    return tuple(spec for spec in LAYERS.values() if spec.from_osm is not None)


def check_registry(layers: Mapping[str, LayerSpec] | None = None) -> None:
    """Raise ``ValueError`` if the registry is inconsistent.

    Checks every layer (:func:`layers.spec.check_layer`), that each is registered under its
    own name, and that facility categories are unique across layers and, for the full
    registry, the same as :data:`layers.vocab.FACILITY_CATEGORIES`.

    Parameters
    ----------
    layers : mapping of str to LayerSpec, optional
        The registry to check; default :data:`LAYERS`. A smaller mapping skips the check of
        facility categories against :data:`layers.vocab.FACILITY_CATEGORIES`.

    Raises
    ------
    ValueError
        Naming the layer and what is wrong.
    """
    full = layers is None
    specs = ALL_LAYERS if layers is None else layers
    for name, spec in specs.items():
        if name != spec.name:
            msg = f"layer {spec.name!r} is registered as {name!r}"
            raise ValueError(msg)
        check_layer(spec)
    categories = [c for s in specs.values() if s.facility for c in s.classes]
    if len(set(categories)) != len(categories):
        msg = f"a facility category belongs to two layers: {sorted(categories)}"
        raise ValueError(msg)
    if full and tuple(categories) != FACILITY_CATEGORIES:
        msg = "layers.vocab.FACILITY_CATEGORIES differs from the facility layers' classes"
        raise ValueError(msg)


check_registry()

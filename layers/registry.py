"""The one registry of map layers: what each layer is, and what of it is public.

The API, the maps and ingest all read this registry. A column that is not listed in a
layer's ``fields`` never leaves the database through the API or a map page. Complaint
reporters' contact details (``complaint_reporter``) are never a layer and never a field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from layers.vocab import (
    OFFICE_CATEGORY_LABELS,
    OFFICE_COLORS,
    ROAD_CONDITION_COLORS,
    ROAD_CONDITION_LABELS,
    WASTE_BIN_COLORS,
    WASTE_BIN_KIND_LABELS,
)

#: Tables that hold personal data. No layer may read them.
PRIVATE_TABLES: frozenset[str] = frozenset({"complaint_reporter"})

#: Field names that must never be public on any layer (reporter contact details).
PRIVATE_FIELD_NAMES: frozenset[str] = frozenset({"email", "reporter", "reporter_name"})


@dataclass(frozen=True)
class FieldSpec:
    """One public attribute of a layer.

    Parameters
    ----------
    name : str
        Column name in the table.
    type : str
        JSON type of the value: ``integer``, ``number``, ``string``, ``boolean``,
        ``datetime`` (ISO 8601 string) or ``array`` (of strings).
    label_id, label_en : str
        Indonesian and English labels for popups, tables and the legend.
    """

    name: str
    type: str
    label_id: str
    label_en: str

    def label(self, lang: str) -> str:
        return self.label_en if lang == "en" else self.label_id


@dataclass(frozen=True)
class LayerSpec:
    """A map layer: its table, public fields, geometry, style and popup fields.

    Parameters
    ----------
    name : str
        URL name of the layer (``/api/layers/<name>/items``).
    table : str
        Table it reads (identifier, never user input).
    geometry_type : str
        ``Point``, ``LineString`` or ``MultiPolygon`` (EPSG:4326, column ``geom``).
    fields : tuple of FieldSpec
        Public attributes, in output order. ``id`` is always first.
    popup_fields : tuple of str
        Fields shown in a map popup, in order; the first is the popup's title.
    class_field : str, optional
        The field that classifies features (category, kind, condition) for styling.
    classes : dict
        Class value -> (Indonesian label, English label).
    colors : dict
        Class value -> CSS colour.
    facility : bool
        Whether its features are routing destinations ("nearest ..."); the routing network
        builds a nearest-facility table per value of ``class_field``.
    """

    name: str
    table: str
    title_id: str
    title_en: str
    geometry_type: str
    fields: tuple[FieldSpec, ...]
    popup_fields: tuple[str, ...] = ()
    class_field: str | None = None
    classes: dict[str, tuple[str, str]] = field(default_factory=dict)
    colors: dict[str, str] = field(default_factory=dict)
    facility: bool = False

    def title(self, lang: str) -> str:
        return self.title_en if lang == "en" else self.title_id

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def class_label(self, value: str, lang: str) -> str:
        labels = self.classes.get(value)
        if labels is None:
            return value
        return labels[1] if lang == "en" else labels[0]


def _f(name: str, type_: str, label_id: str, label_en: str) -> FieldSpec:
    return FieldSpec(name, type_, label_id, label_en)


LAYERS: dict[str, LayerSpec] = {
    spec.name: spec
    for spec in (
        LayerSpec(
            name="office",
            table="office",
            title_id="Kantor layanan publik",
            title_en="Public service offices",
            geometry_type="Point",
            fields=(
                _f("id", "integer", "ID", "ID"),
                _f("name", "string", "Nama", "Name"),
                _f("category", "string", "Kategori", "Category"),
                _f("kind", "string", "Jenis", "Kind"),
                _f("address", "string", "Alamat", "Address"),
                _f("opening_hours", "string", "Jam buka", "Opening hours"),
                _f("phone", "string", "Telepon", "Phone"),
                _f("services", "array", "Layanan", "Services"),
            ),
            popup_fields=("name", "address", "opening_hours", "phone"),
            class_field="category",
            classes=OFFICE_CATEGORY_LABELS,
            colors=OFFICE_COLORS,
            facility=True,
        ),
        LayerSpec(
            name="waste_bin",
            table="waste_bin",
            title_id="Tempat sampah",
            title_en="Waste bins",
            geometry_type="Point",
            fields=(
                _f("id", "integer", "ID", "ID"),
                _f("kind", "string", "Jenis", "Kind"),
                _f("name", "string", "Nama", "Name"),
                _f("capacity_l", "number", "Kapasitas (liter)", "Capacity (litres)"),
                _f("fill_level", "number", "Tingkat isi (0-1)", "Fill level (0-1)"),
                _f("last_emptied_at", "datetime", "Terakhir dikosongkan", "Last emptied"),
            ),
            popup_fields=("name", "kind", "capacity_l", "fill_level", "last_emptied_at"),
            class_field="kind",
            classes=WASTE_BIN_KIND_LABELS,
            colors=WASTE_BIN_COLORS,
            facility=True,
        ),
        LayerSpec(
            name="road_segment",
            table="road_segment",
            title_id="Ruas jalan",
            title_en="Road segments",
            geometry_type="LineString",
            fields=(
                _f("id", "integer", "ID", "ID"),
                _f("name", "string", "Nama jalan", "Road name"),
                _f("highway", "string", "Kelas jalan (OSM)", "Road class (OSM)"),
                _f("oneway", "boolean", "Satu arah", "One-way"),
                _f("maxspeed", "string", "Batas kecepatan", "Speed limit"),
                _f("surface", "string", "Permukaan", "Surface"),
                _f("smoothness", "string", "Kehalusan", "Smoothness"),
                _f("length_m", "number", "Panjang (m)", "Length (m)"),
                _f("condition", "string", "Kondisi", "Condition"),
                _f("condition_source", "string", "Sumber kondisi", "Condition source"),
                _f("inspected_at", "datetime", "Tanggal inspeksi", "Inspected at"),
            ),
            popup_fields=("name", "condition", "surface", "length_m"),
            class_field="condition",
            classes=ROAD_CONDITION_LABELS,
            colors=ROAD_CONDITION_COLORS,
        ),
        LayerSpec(
            name="admin_area",
            table="admin_area",
            title_id="Wilayah administrasi",
            title_en="Administrative areas",
            geometry_type="MultiPolygon",
            fields=(
                _f("id", "integer", "ID", "ID"),
                _f("name", "string", "Nama", "Name"),
                _f("admin_level", "integer", "Tingkat administrasi", "Admin level"),
                _f("code", "string", "Kode wilayah", "Area code"),
                _f("population", "integer", "Penduduk", "Population"),
            ),
            popup_fields=("name", "code", "population"),
        ),
    )
}


def get_layer(name: str) -> LayerSpec | None:
    """The spec of layer ``name``, or None when there is no such layer."""
    return LAYERS.get(name)


def facility_layers() -> tuple[LayerSpec, ...]:
    """The layers whose features are routing destinations, in registry order."""
    return tuple(spec for spec in LAYERS.values() if spec.facility)


def check_registry(layers: dict[str, LayerSpec] | None = None) -> None:
    """Raise ``ValueError`` if a layer reads a private table or exposes a private field."""
    for spec in (layers or LAYERS).values():
        if spec.table in PRIVATE_TABLES:
            msg = f"layer {spec.name!r} reads private table {spec.table!r}"
            raise ValueError(msg)
        bad = set(spec.field_names) & PRIVATE_FIELD_NAMES
        if bad:
            msg = f"layer {spec.name!r} exposes private fields {sorted(bad)}"
            raise ValueError(msg)
        if spec.field_names[:1] != ("id",):
            msg = f"layer {spec.name!r}: the first field must be 'id'"
            raise ValueError(msg)
        missing = set(spec.popup_fields) - set(spec.field_names)
        if missing:
            msg = f"layer {spec.name!r}: popup fields {sorted(missing)} are not public fields"
            raise ValueError(msg)


check_registry()

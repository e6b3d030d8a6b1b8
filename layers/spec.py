"""What a layer spec is: FieldSpec, LayerStyle, LayerSpec and the check of one spec.

The layers themselves are data in :mod:`layers.registry`; this module says what that data may
hold. Nothing here imports the rest of SIGAP.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Tables that hold personal data. No layer may read them.
PRIVATE_TABLES: frozenset[str] = frozenset({"complaint_reporter"})

#: Field names that must never be public on any layer (reporter contact details).
PRIVATE_FIELD_NAMES: frozenset[str] = frozenset({"email", "reporter", "reporter_name"})

#: JSON types a field may have. ``datetime`` is an ISO 8601 string, ``array`` an array of
#: strings (a PostgreSQL ``text[]``), ``object`` a JSON object (``jsonb``).
FIELD_TYPES: frozenset[str] = frozenset(
    {"integer", "number", "string", "boolean", "datetime", "array", "object"}
)

#: Geometry types a layer may have (column ``geom``, EPSG:4326).
#: ``Geometry`` is any of them (a column of mixed types, such as road inspections that are
#: points or lines).
GEOMETRY_TYPES: frozenset[str] = frozenset(
    {"Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "Geometry"}
)

#: How a value may be shown, beyond its type: ``percent`` is a fraction 0-1 shown as 0-100 %.
DISPLAY_HINTS: frozenset[str] = frozenset({"percent"})

#: Columns every layer that ingest loads has, besides those it describes: the upsert key and
#: the time of the last change.
SOURCE_COLUMNS: tuple[str, str] = ("source", "source_id")
BOOKKEEPING_COLUMNS: frozenset[str] = frozenset({*SOURCE_COLUMNS, "updated_at", "geom"})

#: Longest ``source`` and ``source_id`` every layer table holds (``varchar``).
KEY_MAX_LENGTHS: dict[str, int] = {"source": 64, "source_id": 128}


@dataclass(frozen=True)
class FieldSpec:
    """One column of a layer.

    Parameters
    ----------
    name : str
        Column name in the table.
    type : str
        JSON type of the value, one of :data:`FIELD_TYPES`.
    label_id, label_en : str
        Indonesian and English labels for popups, tables and the legend.
    required : bool
        Ingest rejects a row without a value (the column is ``NOT NULL``).
    vocab : mapping of str to (str, str), optional
        The allowed values, each with its Indonesian and English label. Ingest rejects any
        other value.
    public : bool
        Whether the value may leave the database through the API and the map pages.
    load : bool
        Whether ingest writes it. False for columns the database fills in (``id``) or other
        code writes (travel-time costs, inspection results).
    max_length : int, optional
        Longest text the column holds (``varchar(n)``); None for unbounded text and non-text.
    overwrite_when : (str, str), optional
        ``(column, value)``: a re-import overwrites the stored value only where the stored
        row's ``column`` equals ``value``, e.g. ``("condition_source", "osm")`` keeps a road
        condition that a field inspection set. None: a re-import always overwrites it.
    display : str, optional
        How to show the value beyond its type, one of :data:`DISPLAY_HINTS`.
    aliases : tuple of str
        Column names of an input file that mean this field, besides the field's own name and
        the shared names of :mod:`layers.aliases` (lower case, ``_`` for spaces).
    """

    name: str
    type: str
    label_id: str
    label_en: str
    required: bool = False
    vocab: Mapping[str, tuple[str, str]] | None = None
    public: bool = True
    load: bool = True
    max_length: int | None = None
    overwrite_when: tuple[str, str] | None = None
    display: str | None = None
    aliases: tuple[str, ...] = ()

    def label(self, lang: str) -> str:
        """Return the field's label in ``lang`` (``"en"``; anything else is Indonesian)."""
        return self.label_en if lang == "en" else self.label_id

    def vocab_label(self, value: str, lang: str) -> str:
        """Return the label of vocabulary ``value`` in ``lang``; the value itself if unknown."""
        labels = (self.vocab or {}).get(value)
        if labels is None:
            return value
        return labels[1] if lang == "en" else labels[0]


@dataclass(frozen=True)
class LayerStyle:
    """How a layer is drawn on the maps.

    Parameters
    ----------
    colors : mapping of str to str
        CSS colour per value of the layer's class field.
    color : str
        CSS colour of a feature without a class colour (and of unclassified layers).
    radius_px : float, optional
        Marker radius of a point layer.
    weight_px : float, optional
        Width of lines and outlines; None leaves it to the map (roads widen with the zoom).
    fill_opacity : float, optional
        Fill opacity of polygons.
    """

    colors: Mapping[str, str] = field(default_factory=dict)
    color: str = "#333333"
    radius_px: float | None = None
    weight_px: float | None = None
    fill_opacity: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the style as plain JSON-ready data."""
        return {
            "color": self.color,
            "colors": dict(self.colors),
            "radius_px": self.radius_px,
            "weight_px": self.weight_px,
            "fill_opacity": self.fill_opacity,
        }


@dataclass(frozen=True)
class LayerSpec:
    """A map layer: its table, columns, geometry, style, popup and ingest rules.

    Parameters
    ----------
    name : str
        URL name of the layer (``/api/layers/<name>/items``).
    table : str
        Table it reads (an identifier, never user input).
    title_id, title_en : str
        Indonesian and English titles.
    geometry_type : str
        One of :data:`GEOMETRY_TYPES` (EPSG:4326, column ``geom``).
    columns : tuple of FieldSpec
        Every column the registry describes, public or not, in output order; ``id`` first.
        The bookkeeping columns (:data:`BOOKKEEPING_COLUMNS`) are implied.
    popup_fields : tuple of str
        Public fields shown in a map popup, in order; the first is the popup's title.
    class_field : str, optional
        The field that classifies features (category, kind, condition) for styling and for
        the nearest-facility categories. It has a vocabulary.
    style : LayerStyle
        Colours and sizes on the maps.
    facility : bool
        Whether its features are routing destinations ("nearest ..."): the routing network
        builds a nearest-facility table per value of ``class_field``.
    prune_by : str, optional
        A loaded column naming the source object a row was cut from (a road's OSM way). On a
        re-import, rows of an object present in the input but no longer produced by it are
        deleted.
    from_osm : callable, optional
        For point layers read from OpenStreetMap: tags -> the row's loaded fields, or None
        when the object is not a feature of this layer (see :mod:`layers.osm_tags`).
    served : bool
        Whether the layers API and the map pages serve it (:data:`layers.registry.LAYERS`).
        False for tables that only ingest writes through the registry, such as the road
        inspection history and imported complaints (:data:`layers.registry.ALL_LAYERS`).
    aliases : tuple of str
        Other names ``sigap ingest file --layer`` accepts (``offices`` for ``office``).
    geometry_required : bool
        Whether every row needs a geometry (ingest rejects a row without one).
    from_file : callable, optional
        For rows read from a file: fills the fields a file seldom has but the layer needs
        (a road's end nodes and length, a complaint's public id) in a pandas DataFrame of
        the mapped fields and ``geom``, in place (see :mod:`layers.file_rows`).
    """

    name: str
    table: str
    title_id: str
    title_en: str
    geometry_type: str
    columns: tuple[FieldSpec, ...]
    popup_fields: tuple[str, ...] = ()
    class_field: str | None = None
    style: LayerStyle = field(default_factory=LayerStyle)
    facility: bool = False
    prune_by: str | None = None
    from_osm: Callable[[Mapping[str, str]], dict | None] | None = None
    served: bool = True
    aliases: tuple[str, ...] = ()
    geometry_required: bool = True
    from_file: Callable[[Any], None] | None = None

    def title(self, lang: str) -> str:
        """Return the layer's title in ``lang`` (``"en"``; anything else is Indonesian)."""
        return self.title_en if lang == "en" else self.title_id

    @property
    def fields(self) -> tuple[FieldSpec, ...]:
        """The public fields, in output order (``id`` first). Only these leave the database."""
        return tuple(f for f in self.columns if f.public)

    @property
    def field_names(self) -> tuple[str, ...]:
        """Names of the public fields."""
        return tuple(f.name for f in self.fields)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Names of every described column, public or not."""
        return tuple(f.name for f in self.columns)

    def field(self, name: str) -> FieldSpec:
        """Return the column ``name`` (public or not); ``KeyError`` if the layer has none."""
        for f in self.columns:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def load_fields(self) -> tuple[FieldSpec, ...]:
        """The fields ingest writes, in order."""
        return tuple(f for f in self.columns if f.load)

    @property
    def load_columns(self) -> tuple[str, ...]:
        """The columns one ingest row fills: ``source``, ``source_id``, loaded fields, ``geom``."""
        return (*SOURCE_COLUMNS, *(f.name for f in self.load_fields), "geom")

    @property
    def classes(self) -> Mapping[str, tuple[str, str]]:
        """Class value -> (Indonesian label, English label): the class field's vocabulary."""
        if self.class_field is None:
            return {}
        return self.field(self.class_field).vocab or {}

    @property
    def colors(self) -> Mapping[str, str]:
        """Class value -> CSS colour (``style.colors``)."""
        return self.style.colors

    def class_label(self, value: str, lang: str) -> str:
        """Return the label of class ``value`` in ``lang``; the value itself if unknown."""
        if self.class_field is None:
            return value
        return self.field(self.class_field).vocab_label(value, lang)

    def describe(self, lang: str) -> dict[str, Any]:
        """Return what a map page needs to draw the layer, as JSON-ready data.

        Parameters
        ----------
        lang : str
            ``"en"`` or ``"id"``: the language of titles and labels.

        Returns
        -------
        dict
            ``name``, ``title``, ``geometry_type``, ``fields`` (public ones: ``name``,
            ``type``, ``label``), ``class_field``, ``classes`` (value -> label), ``style``
            (:meth:`LayerStyle.as_dict`) and ``popup``: the popup's fields in order (the first
            is its title), each with ``name``, ``label``, ``type``, ``display`` and, for a
            field with a vocabulary, ``labels`` (value -> label).
        """
        popup = []
        for name in self.popup_fields:
            f = self.field(name)
            entry: dict[str, Any] = {
                "name": f.name,
                "label": f.label(lang),
                "type": f.type,
                "display": f.display,
            }
            if f.vocab:
                entry["labels"] = {v: f.vocab_label(v, lang) for v in f.vocab}
            popup.append(entry)
        return {
            "name": self.name,
            "title": self.title(lang),
            "geometry_type": self.geometry_type,
            "fields": [
                {"name": f.name, "type": f.type, "label": f.label(lang)} for f in self.fields
            ],
            "class_field": self.class_field,
            "classes": {k: self.class_label(k, lang) for k in self.classes},
            "style": self.style.as_dict(),
            "popup": popup,
        }


def _check_fields(spec: LayerSpec) -> None:
    names = spec.column_names
    if len(set(names)) != len(names):
        msg = f"layer {spec.name!r}: a column is listed twice"
        raise ValueError(msg)
    if set(names) & BOOKKEEPING_COLUMNS:
        msg = f"layer {spec.name!r}: {sorted(set(names) & BOOKKEEPING_COLUMNS)} are implied"
        raise ValueError(msg)
    for f in spec.columns:
        where = f"layer {spec.name!r}, field {f.name!r}"
        if f.type not in FIELD_TYPES:
            msg = f"{where}: unknown type {f.type!r}"
            raise ValueError(msg)
        if f.display is not None and f.display not in DISPLAY_HINTS:
            msg = f"{where}: unknown display hint {f.display!r}"
            raise ValueError(msg)
        if f.required and not f.load:
            msg = f"{where}: a required field must be loaded"
            raise ValueError(msg)
        if f.overwrite_when is not None and f.overwrite_when[0] not in names:
            msg = f"{where}: overwrite_when names an unknown column {f.overwrite_when[0]!r}"
            raise ValueError(msg)
        if f.public and f.name in PRIVATE_FIELD_NAMES:
            msg = f"layer {spec.name!r} exposes private fields {[f.name]}"
            raise ValueError(msg)


def check_layer(spec: LayerSpec) -> None:
    """Raise ``ValueError`` if one layer spec is inconsistent.

    Checks that it reads no private table and exposes no private field, that ``id`` is its
    first public field, that its types, geometry and display hints are known, that popup
    fields are public, that a class field has a vocabulary and a colour per value, that
    ``prune_by`` and ``overwrite_when`` name its columns, and that a facility layer has points,
    a class field and public ``id``, ``name`` and ``kind``.

    Parameters
    ----------
    spec : LayerSpec
        The layer to check.

    Raises
    ------
    ValueError
        Naming the layer and what is wrong.
    """
    if spec.table in PRIVATE_TABLES:
        msg = f"layer {spec.name!r} reads private table {spec.table!r}"
        raise ValueError(msg)
    _check_fields(spec)
    if spec.field_names[:1] != ("id",):
        msg = f"layer {spec.name!r}: the first field must be 'id'"
        raise ValueError(msg)
    if spec.geometry_type not in GEOMETRY_TYPES:
        msg = f"layer {spec.name!r}: unknown geometry type {spec.geometry_type!r}"
        raise ValueError(msg)
    missing = set(spec.popup_fields) - set(spec.field_names)
    if missing:
        msg = f"layer {spec.name!r}: popup fields {sorted(missing)} are not public fields"
        raise ValueError(msg)
    if spec.class_field is not None:
        if spec.class_field not in spec.field_names or not spec.classes:
            msg = f"layer {spec.name!r}: class field must be a public field with a vocabulary"
            raise ValueError(msg)
        if set(spec.style.colors) != set(spec.classes):
            msg = f"layer {spec.name!r}: style colours and classes differ"
            raise ValueError(msg)
    if spec.prune_by is not None and spec.prune_by not in {f.name for f in spec.load_fields}:
        msg = f"layer {spec.name!r}: prune_by must be a loaded field"
        raise ValueError(msg)
    if spec.facility:
        if spec.geometry_type != "Point" or spec.class_field is None:
            msg = f"layer {spec.name!r}: a facility layer has points and a class field"
            raise ValueError(msg)
        if not {"id", "name", "kind"} <= set(spec.field_names):
            msg = f"layer {spec.name!r}: a facility layer has public id, name and kind"
            raise ValueError(msg)

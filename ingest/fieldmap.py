"""Which column of a file fills which field of a layer: the mapping table, ``--map``, ``--set``.

The automatic mapping reads the tables of :mod:`layers.aliases`; ``--map field=column``
overrides it, ``--set field=value`` gives a field a constant. Columns that fill no field are
kept in ``attributes`` under their original names. The coordinate columns (latitude and
longitude, or WKT) of a table are found the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gis.errors import IngestError
from layers.aliases import (
    CLASS_ALIASES,
    FIELD_ALIASES,
    ID_ALIASES,
    LATITUDE_ALIASES,
    LONGITUDE_ALIASES,
    WKT_ALIASES,
    normalize,
)
from layers.spec import LayerSpec

#: Pseudo-fields ``--map`` also accepts: the row id and the coordinate columns.
EXTRA_TARGETS = ("source_id", "lat", "lon", "wkt")
_ID_PATTERN = re.compile(r"^(id_.+|.+_id)$")


@dataclass
class FieldMap:
    """How one file's columns fill one layer's fields.

    Attributes
    ----------
    fields : dict of str to str
        Field name -> the column that fills it.
    constants : dict of str to str
        Field name -> a constant for every row (``--set``).
    id_column : str or None
        The column whose value is ``source_id``; None: a hash of the row.
    lat, lon, wkt : str or None
        Coordinate columns of a table.
    attributes : list of str
        The columns kept in ``attributes``.
    """

    fields: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    id_column: str | None = None
    lat: str | None = None
    lon: str | None = None
    wkt: str | None = None
    attributes: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """Return one line per mapped field, ``field <- column``, for the summary."""
        lines = [f"{f} <- {c!r}" for f, c in self.fields.items()]
        lines += [f"{f} = {v!r} (--set)" for f, v in self.constants.items()]
        if self.id_column:
            lines.append(f"source_id <- {self.id_column!r}")
        if self.lat and self.lon:
            lines.append(f"geometry <- {self.lat!r}, {self.lon!r}")
        elif self.wkt:
            lines.append(f"geometry <- {self.wkt!r} (WKT)")
        return lines


def parse_pairs(pairs: Sequence[str], option: str) -> dict[str, str]:
    """Parse ``["a=b", ...]`` of a command-line option into a dict; raise on a bad pair.

    Parameters
    ----------
    pairs : sequence of str
        ``target=value`` texts.
    option : str
        The option's name, for the error message (``--map``).

    Returns
    -------
    dict of str to str
    """
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            msg = f"{option} {pair!r}: expected FIELD=VALUE."
            raise IngestError(msg, param=option)
        out[key.strip()] = value.strip()
    return out


def _candidates(spec: LayerSpec, name: str) -> tuple[str, ...]:
    f = spec.field(name)
    names = (name, *f.aliases, *FIELD_ALIASES.get(name, ()))
    if name == spec.class_field:
        names += CLASS_ALIASES
    return tuple(normalize(n) for n in names)


def map_columns(
    spec: LayerSpec,
    columns: Sequence[str],
    *,
    path: Path,
    mapping: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    tabular: bool = True,
    id_column: bool = True,
) -> FieldMap:
    """Map a file's ``columns`` to ``spec``'s loaded fields.

    Parameters
    ----------
    spec : LayerSpec
        The layer to load.
    columns : sequence of str
        The file's column names, original spelling.
    path : Path
        The file, for error messages.
    mapping : mapping of str to str, optional
        ``--map``: field (or ``source_id``, ``lat``, ``lon``, ``wkt``) -> column.
    constants : mapping of str to str, optional
        ``--set``: field -> constant.
    tabular : bool
        Whether to look for coordinate columns (CSV, Excel).
    id_column : bool
        Whether to look for an id column.

    Returns
    -------
    FieldMap

    Raises
    ------
    IngestError
        ``--map`` or ``--set`` names an unknown field or a column the file lacks.
    """
    mapping = dict(mapping or {})
    constants = dict(constants or {})
    loadable = [f.name for f in spec.load_fields]
    by_norm: dict[str, str] = {}
    for c in columns:
        by_norm.setdefault(normalize(c), c)
    for target, column in mapping.items():
        if target not in loadable and target not in EXTRA_TARGETS:
            valid = ", ".join([*loadable, *EXTRA_TARGETS])
            msg = f"--map {target}={column}: layer {spec.name} has no field {target!r}; "
            msg += f"the fields are {valid}."
            raise IngestError(msg, param="--map")
        if column not in columns:
            msg = f"--map {target}={column}: {path} has no column {column!r}; "
            msg += f"its columns are {', '.join(columns)}."
            raise IngestError(msg, param="--map")
    for target in constants:
        if target not in loadable:
            msg = f"--set {target}: layer {spec.name} has no field {target!r}; "
            msg += f"the fields are {', '.join(loadable)}."
            raise IngestError(msg, param="--set")
    fm = FieldMap(constants=constants)
    taken = set(mapping.values())
    for name in loadable:
        if name in constants or name == "attributes":
            continue
        if name in mapping:
            fm.fields[name] = mapping[name]
            continue
        for candidate in _candidates(spec, name):
            found = by_norm.get(candidate)
            if found is not None and found not in taken:
                fm.fields[name] = found
                taken.add(found)
                break
    if tabular:
        fm.lat = mapping.get("lat") or _first(by_norm, LATITUDE_ALIASES, taken)
        fm.lon = mapping.get("lon") or _first(by_norm, LONGITUDE_ALIASES, taken)
        if not (fm.lat and fm.lon):
            fm.lat = fm.lon = None
            fm.wkt = mapping.get("wkt") or _first(by_norm, WKT_ALIASES, taken)
        taken |= {c for c in (fm.lat, fm.lon, fm.wkt) if c}
    if id_column:
        fm.id_column = mapping.get("source_id") or _first(by_norm, ID_ALIASES, taken)
        if fm.id_column is None:
            fm.id_column = next(
                (c for c in columns if c not in taken and _ID_PATTERN.match(normalize(c))), None
            )
        if fm.id_column:
            taken.add(fm.id_column)
    fm.attributes = [c for c in columns if c not in taken]
    return fm


def _first(by_norm: Mapping[str, str], names: Sequence[str], taken: set[str]) -> str | None:
    for name in names:
        column = by_norm.get(normalize(name))
        if column is not None and column not in taken:
            return column
    return None

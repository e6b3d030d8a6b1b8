"""Check a chunk of a file's rows against a layer and turn the good ones into load-ready rows.

Every step works on whole columns (numpy, pandas, shapely, Arrow), so a million rows need no
Python step per row. A row that fails a check is not loaded: it goes to the reject report
with its row number, its original values and the first reason found:

- coordinates: not numbers, missing, latitude and longitude swapped, projected metres in
  degree columns, off the earth, outside the declared extent (``--bbox``);
- geometry: missing, of another type than the layer's (a single-part multi-geometry is taken
  as its part, a polygon as a multipolygon), invalid (a polygon is repaired with
  ``make_valid`` when that keeps its area within 1 %, and the repair is reported);
- fields: required but empty, not a number, a date or a yes/no, not in the vocabulary (the
  message lists the valid values), too long, a NUL character;
- id: empty, or the same as an earlier row's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.errors import IngestError
from ingest.encode import geometry_hex, points_hex
from ingest.fieldmap import FieldMap
from ingest.readers import Chunk
from ingest.values import as_datetimes, as_numbers, as_texts, attributes_json, text_lengths
from layers.aliases import VALUE_ALIASES, normalize
from layers.spec import KEY_MAX_LENGTHS, FieldSpec, LayerSpec

logger = logging.getLogger(__name__)

#: Columns of the reject report before the row's original values.
REJECT_ROW, REJECT_REASON = "reject_row", "reject_reason"

#: A repaired polygon may differ from the original by this fraction of its area.
MAX_REPAIR_AREA_CHANGE = 0.01

_TRUE = frozenset({"true", "yes", "ya", "y", "t", "1", "benar"})
_FALSE = frozenset({"false", "no", "tidak", "n", "f", "0", "salah"})

_TYPE_NAMES = {0: "Point", 1: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString"}


@dataclass
class KeySet:
    """The keys seen so far in a file (64-bit hashes), with the row that had each first."""

    keys: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def first_rows(self, hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Row of an earlier row with the same key, per hash (0: none); then remember them."""
        out = np.zeros(len(hashes), dtype=np.int64)
        if len(self.keys):
            at = np.searchsorted(self.keys, hashes).clip(0, len(self.keys) - 1)
            hit = self.keys[at] == hashes
            out[hit] = self.rows[at[hit]]
        if pd.Series(hashes).duplicated().any():  # rare: work out each repeat's first row
            series = pd.Series(rows)
            first_in_chunk = series.groupby(hashes).transform("first").to_numpy()
            inner = (first_in_chunk != rows) & (out == 0)
            out[inner] = first_in_chunk[inner]
        new = out == 0
        keys = np.concatenate([self.keys, hashes[new]])
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        self.rows = np.concatenate([self.rows, rows[new]])[order]
        return out


@dataclass
class Checked:
    """A checked chunk: rows to load, rows rejected, rows repaired."""

    rows: pd.DataFrame
    rejects: pd.DataFrame
    repaired: list[int]


@dataclass
class RowChecker:
    """Checks chunks of one file against one layer (see the module docstring).

    Parameters
    ----------
    spec : LayerSpec
        The layer.
    fmap : FieldMap
        The file's column mapping.
    path : Path
        The file (for messages).
    source : str
        ``source`` of every row.
    crs : str or None
        The CRS of the file's coordinates (``--crs`` or the file's own); None: EPSG:4326.
    bbox : tuple of float, optional
        The declared extent ``(west, south, east, north)`` in degrees.
    join : str, optional
        The key field of a join (``--join code``): rows update existing ones, no geometry.
    """

    spec: LayerSpec
    fmap: FieldMap
    path: Path
    source: str
    crs: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    join: str | None = None
    seen: KeySet = field(default_factory=KeySet)

    def __post_init__(self) -> None:
        """Read the CRS and check the ``--set`` constants once."""
        import pyproj

        self._transformer = None
        self._geographic = True
        if self.crs is not None:
            try:
                crs = pyproj.CRS.from_user_input(self.crs)
            except pyproj.exceptions.CRSError as exc:
                msg = f"--crs {self.crs}: not a coordinate reference system ({exc})."
                raise IngestError(msg, param="--crs") from exc
            self._geographic = crs.is_geographic
            if crs != pyproj.CRS.from_epsg(4326):
                self._transformer = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
        self._constants = self._check_constants()

    # --- the whole chunk ---------------------------------------------------------------------

    def check(self, chunk: Chunk) -> Checked:
        """Check one chunk; return the rows to load and the rejects."""
        frame = chunk.frame
        n = len(frame)
        rows = np.arange(chunk.first_row, chunk.first_row + n, dtype=np.int64)
        reasons = np.full(n, None, dtype=object)
        repaired: list[int] = []
        out = pd.DataFrame(index=pd.RangeIndex(n))
        geoms = None
        xy = None  # a table's points as coordinates (x, y, present), no shapely objects
        if self.join is None and self._plain_points(chunk):
            xy = self._point_coords(frame[self.fmap.lat], frame[self.fmap.lon], reasons)
            self._check_points(*xy, reasons)
        elif self.join is None:
            geoms = self._geometries(chunk, reasons)
            geoms = self._coerce(geoms, reasons, rows, repaired)
        for f in self.spec.load_fields:
            if f.name == "attributes":
                continue
            if f.name in self._constants:
                out[f.name] = pd.Series([self._constants[f.name]] * n, dtype=object)
            elif f.name in self.fmap.fields:
                column = self.fmap.fields[f.name]
                out[f.name] = self._convert(f, frame[column], column, reasons)
        if self.join is None:
            out.insert(0, "source", self.source)
            out.insert(1, "source_id", self._source_ids(frame, geoms, reasons))
            out["geom"] = geoms if xy is None else None
            ok = _ok(reasons)
            if ok.all() and self.spec.from_file is not None:
                self.spec.from_file(out)
            elif ok.any() and self.spec.from_file is not None:
                part = out.loc[ok].copy()
                self.spec.from_file(part)
                for name in part.columns:
                    if name not in out:
                        out[name] = pd.Series(None, index=out.index, dtype=part[name].dtype)
                    out[name] = out[name].astype(object)
                    out.loc[ok, name] = part[name].astype(object)
            self._duplicates(out["source_id"], rows, reasons)
        else:
            self._duplicates(out[self.join], rows, reasons, what=self.join)
        self._required_and_lengths(out, reasons)
        out["attributes"] = attributes_json(frame[self.fmap.attributes])
        ok = _ok(reasons)
        rejects = frame.loc[~ok].copy()
        rejects.insert(0, REJECT_ROW, rows[~ok])
        rejects.insert(1, REJECT_REASON, reasons[~ok])
        if geoms is not None and not isinstance(chunk.geoms, type(None)):
            rejects["geometry"] = geoms[~ok]
        good = out.loc[ok].reset_index(drop=True)
        if xy is not None:
            x, y, present = xy
            good["geom"] = points_hex(x[ok], y[ok], present[ok])
        elif "geom" in good:
            good["geom"] = geometry_hex(good["geom"].to_numpy())
        return Checked(good, rejects, [r for r in repaired if ok[r - chunk.first_row]])

    # --- geometry ----------------------------------------------------------------------------

    def _geometries(self, chunk: Chunk, reasons: np.ndarray) -> np.ndarray:
        frame, n = chunk.frame, len(chunk.frame)
        fm = self.fmap
        if chunk.geoms is not None:
            geoms = np.asarray(chunk.geoms, dtype=object)
        elif fm.lat and fm.lon:
            return self._points(frame[fm.lat], frame[fm.lon], reasons)
        elif fm.wkt:
            text = frame[fm.wkt].to_numpy(dtype=object, na_value=None)
            geoms = shapely.from_wkt(text, on_invalid="ignore")
            bad = pd.notna(text) & shapely.is_missing(geoms)
            _reject(reasons, bad, [f"WKT in column {fm.wkt!r} is not a geometry" for _ in bad])
        else:
            return np.full(n, None, dtype=object)
        if self._geographic:
            bounds = shapely.bounds(geoms)
            with np.errstate(invalid="ignore"):
                wild = (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1) | (
                    np.abs(bounds[:, [1, 3]]) > 90
                ).any(axis=1)
            _reject(reasons, wild, [self._metres_reason(b[0], b[1]) for b in bounds[wild]])
            geoms = geoms.copy()
            geoms[wild] = None
        return self._to_wgs84(geoms, reasons)

    def _metres_reason(self, x: float, y: float) -> str:
        declared = f"the file says {self.crs}" if self.crs else "the file declares no CRS"
        return (
            f"coordinates ({x:.0f}, {y:.0f}) look like projected metres, not degrees "
            f"({declared}); give the file's CRS with --crs, e.g. EPSG:32749 (UTM 49S) or "
            "EPSG:23879 (DGN95 / UTM 49S)"
        )

    def _points(self, lat_raw: pd.Series, lon_raw: pd.Series, reasons: np.ndarray) -> np.ndarray:
        lon, lat, valid = self._point_coords(lat_raw, lon_raw, reasons)
        geoms = np.full(len(lat), None, dtype=object)
        geoms[valid] = shapely.points(lon[valid], lat[valid])
        return self._to_wgs84(geoms, reasons)

    def _plain_points(self, chunk: Chunk) -> bool:
        """Whether a chunk's geometries are points from coordinate columns, used as they are.

        Then :meth:`check` works on the coordinates alone: the points of finite numbers in
        EPSG:4326 are always valid, of the layer's type and on the earth, and no shapely
        object is needed (a million of them cost a second). The rows, rejects and messages
        are those of the general path (:meth:`_geometries`, :meth:`_coerce`).
        """
        fm = self.fmap
        return (
            chunk.geoms is None
            and bool(fm.lat and fm.lon)
            and self._transformer is None
            and self._geographic
            and self.spec.geometry_type in ("Point", "Geometry")
            and self.spec.from_file is None
            and fm.id_column is not None
        )

    def _check_points(
        self, x: np.ndarray, y: np.ndarray, present: np.ndarray, reasons: np.ndarray
    ) -> None:
        """:meth:`_to_wgs84` and :meth:`_coerce` for points of checked coordinates."""
        if self.bbox is not None:
            w, s, e, nn = self.bbox
            outside = present & ~((x >= w) & (x <= e) & (y >= s) & (y <= nn))
            _reject(reasons, outside, f"lies outside the declared extent {w},{s},{e},{nn}")
        if self.spec.geometry_required:
            _reject(reasons, ~present, "has no geometry")

    def _point_coords(
        self, lat_raw: pd.Series, lon_raw: pd.Series, reasons: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lon, lat, valid)`` of coordinate columns; bad coordinates rejected."""
        fm = self.fmap
        lat, lat_bad = as_numbers(lat_raw)
        lon, lon_bad = as_numbers(lon_raw)
        empty = np.isnan(lat) & np.isnan(lon) & ~lat_bad & ~lon_bad
        if self.spec.geometry_required:
            _reject(reasons, empty, "has no coordinates (latitude and longitude are empty)")
        for bad, name, raw in ((lat_bad, fm.lat, lat_raw), (lon_bad, fm.lon, lon_raw)):
            _reject(reasons, bad, [f"{name} {v!r} is not a number" for v in raw[bad]])
        half = (np.isnan(lat) ^ np.isnan(lon)) & ~lat_bad & ~lon_bad
        _reject(reasons, half, "has only one of latitude and longitude")
        valid = ~np.isnan(lat) & ~np.isnan(lon)
        if self._geographic:
            with np.errstate(invalid="ignore"):
                off = valid & ((np.abs(lat) > 90) | (np.abs(lon) > 180))
                swapped = off & (np.abs(lat) <= 180) & (np.abs(lon) <= 90)
                if self.bbox is not None:
                    inside = _in_box(lon, lat, self.bbox)
                    swapped |= valid & ~inside & _in_box(lat, lon, self.bbox)
            _reject(
                reasons,
                swapped,
                [
                    f"latitude and longitude look swapped ({fm.lat} {a}, {fm.lon} {o}); "
                    f"put the latitude in {fm.lat!r} or use --map lat={fm.lon} lon={fm.lat}"
                    for a, o in zip(lat[swapped], lon[swapped], strict=True)
                ],
            )
            metres = off & ~swapped
            _reject(
                reasons,
                metres,
                [self._metres_reason(x, y) for x, y in zip(lon[metres], lat[metres], strict=True)],
            )
            valid &= ~off & ~swapped
        return lon, lat, valid

    def _to_wgs84(self, geoms: np.ndarray, reasons: np.ndarray) -> np.ndarray:
        if self._transformer is not None:
            present = ~shapely.is_missing(geoms)
            geoms = geoms.copy()
            geoms[present] = shapely.transform(
                geoms[present], self._transformer.transform, interleaved=False
            )
        present = ~shapely.is_missing(geoms)
        bounds = shapely.bounds(geoms)
        with np.errstate(invalid="ignore"):
            off = present & (
                ~np.isfinite(bounds).all(axis=1)
                | (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1)
                | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1)
            )
        _reject(
            reasons, off, "its coordinates are not on the earth after reprojection to EPSG:4326"
        )
        if self.bbox is not None:
            w, s, e, nn = self.bbox
            outside = (
                present
                & ~off
                & ~(
                    (bounds[:, 0] >= w)
                    & (bounds[:, 2] <= e)
                    & (bounds[:, 1] >= s)
                    & (bounds[:, 3] <= nn)
                )
            )
            _reject(reasons, outside, f"lies outside the declared extent {w},{s},{e},{nn}")
        geoms = geoms.copy()
        geoms[off] = None
        return geoms

    def _coerce(
        self, geoms: np.ndarray, reasons: np.ndarray, rows: np.ndarray, repaired: list[int]
    ) -> np.ndarray:
        """Geometries of the layer's type, valid; rejects and repairs recorded."""
        want = self.spec.geometry_type
        geoms = geoms.copy()
        missing = shapely.is_missing(geoms)
        if self.spec.geometry_required:
            _reject(reasons, missing, "has no geometry")
        present = ~missing
        empty = present & shapely.is_empty(np.where(present, geoms, shapely.Point()))
        _reject(reasons, empty, "has an empty geometry")
        present &= ~empty
        types = np.full(len(geoms), -1)
        types[present] = shapely.get_type_id(geoms[present])
        nparts = np.zeros(len(geoms), dtype=int)
        nparts[present] = shapely.get_num_geometries(geoms[present])
        single = present & np.isin(types, (4, 5, 6)) & (nparts == 1)
        if want in ("Point", "LineString", "Polygon") and single.any():
            geoms[single] = shapely.get_geometry(geoms[single], 0)
            types[single] -= 3
        if want == "LineString":
            multi = present & (types == 5)
            if multi.any():
                merged = shapely.line_merge(geoms[multi])
                geoms[multi] = merged
                types[multi] = shapely.get_type_id(merged)
        if want == "MultiPolygon":
            poly = present & (types == 3)
            geoms[poly] = shapely.multipolygons(geoms[poly][:, None].tolist()) if poly.any() else []
            types[poly] = 6
        allowed = {
            "Point": {0},
            "LineString": {1},
            "Polygon": {3},
            "MultiPoint": {4},
            "MultiLineString": {5},
            "MultiPolygon": {6},
            "Geometry": {0, 1, 5},
        }[want]
        wrong = present & ~np.isin(types, list(allowed))
        _reject(
            reasons,
            wrong,
            [
                f"is a {_TYPE_NAMES.get(t, 'GeometryCollection' if t == 7 else 'MultiPolygon')}"
                f", not a {want if want != 'Geometry' else 'point or line'}"
                for t in types[wrong]
            ],
        )
        check = present & ~wrong & _ok(reasons)
        if check.any():
            invalid = np.zeros(len(geoms), dtype=bool)
            invalid[check] = ~shapely.is_valid(geoms[check])
            for i in np.flatnonzero(invalid):
                fixed, note = _repair(geoms[i], want)
                if fixed is None:
                    _reject(reasons, np.arange(len(geoms)) == i, note)
                else:
                    geoms[i] = fixed
                    repaired.append(int(rows[i]))
                    logger.info("%s row %d: %s", self.path, rows[i], note)
        return geoms

    # --- fields ------------------------------------------------------------------------------

    def _check_constants(self) -> dict:
        out = {}
        for name, value in self.fmap.constants.items():
            f = self.spec.field(name)
            reasons = np.full(1, None, dtype=object)
            converted = self._convert(f, pd.Series([value], dtype=object), None, reasons)
            if reasons[0] is not None:
                msg = f"--set {name}={value}: {reasons[0]}."
                raise IngestError(msg, param="--set")
            out[name] = converted.iloc[0]
        return out

    def _convert(
        self, f: FieldSpec, raw: pd.Series, column: str | None, reasons: np.ndarray
    ) -> pd.Series:
        """Return the values of ``column`` as field ``f``'s type; bad ones rejected."""
        where = f"{f.name!r}" + (f" (column {column!r})" if column and column != f.name else "")
        raw = raw.reset_index(drop=True)
        present = raw.notna().to_numpy()
        if f.type in ("number", "integer"):
            numbers, bad = as_numbers(raw)
            if f.type == "integer":
                with np.errstate(invalid="ignore"):
                    bad |= ~np.isnan(numbers) & (numbers != np.round(numbers))
            _reject(
                reasons,
                bad,
                [
                    f"{where} {v!r} is not a {'whole ' if f.type == 'integer' else ''}number"
                    for v in raw[bad]
                ],
            )
            series = pd.Series(numbers)
            return series.round().astype("Int64") if f.type == "integer" else series
        if f.type == "boolean":
            text = raw.astype(object).map(
                lambda v: normalize(v) if v is not None and v == v else None
            )
            values = text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
            bad = present & values.isna().to_numpy()
            _reject(reasons, bad, [f"{where} {v!r} is not yes or no" for v in raw[bad]])
            return values.astype(object)
        if f.type == "datetime":
            stamps = as_datetimes(raw)
            bad = present & stamps.isna().to_numpy()
            _reject(reasons, bad, [f"{where} {v!r} is not a date" for v in raw[bad]])
            return stamps
        text = as_texts(raw)
        if f.type == "array":
            return text.map(lambda v: [p.strip() for p in v.split(";") if p.strip()] if v else None)
        if f.vocab:
            aliases = VALUE_ALIASES.get(f.name, {})
            codes, uniques = pd.factorize(text, use_na_sentinel=True)
            norm = [normalize(v) for v in uniques]
            targets = np.array([k if k in f.vocab else aliases.get(k, k) for k in norm] + [None])
            mapped = pd.Series(targets[codes], dtype=object)  # code -1 (empty): the None
            known = np.array([t in f.vocab for t in targets[:-1]] + [True])
            bad = ~known[codes]
            if bad.any():
                valid = ", ".join(f"{k} ({lab[0]})" for k, lab in f.vocab.items())
                _reject(reasons, bad, [f"{where} {v!r} is not one of: {valid}" for v in raw[bad]])
            return mapped.where(~bad, None)
        return text

    def _source_ids(self, frame: pd.DataFrame, geoms, reasons: np.ndarray) -> pd.Series:
        if self.fmap.id_column is not None:
            ids = as_texts(frame[self.fmap.id_column])
            empty = ids.isna().to_numpy()
            _reject(reasons, empty, f"its id (column {self.fmap.id_column!r}) is empty")
            return ids
        parts = frame.astype(object).where(frame.notna(), None).astype(str)
        if geoms is not None:
            parts["\x00geom"] = pd.Series(shapely.to_wkb(geoms, hex=True), dtype=object).astype(str)
        hashes = pd.util.hash_pandas_object(parts[sorted(parts.columns)], index=False)
        return pd.Series(np.char.mod("%016x", hashes.to_numpy()), dtype=object)

    def _duplicates(
        self, keys: pd.Series, rows: np.ndarray, reasons: np.ndarray, what: str = "id"
    ) -> None:
        ok = _ok(reasons) & keys.notna().to_numpy()
        if not ok.any():
            return
        hashes = _text_hashes(keys[ok])
        first = self.seen.first_rows(hashes, rows[ok])
        dup = np.zeros(len(rows), dtype=bool)
        dup[ok] = first > 0
        firsts = first[first > 0]
        _reject(
            reasons,
            dup,
            [
                f"has the same {what} ({k!r}) as row {r}"
                for k, r in zip(keys[dup], firsts, strict=True)
            ],
        )

    def _required_and_lengths(self, out: pd.DataFrame, reasons: np.ndarray) -> None:
        for f in self.spec.load_fields:
            if f.name not in out:
                if f.required and self.join is None:
                    _reject(
                        reasons,
                        np.ones(len(out), dtype=bool),
                        f"{f.name!r} is missing: no column maps to it (give one with "
                        f"--map {f.name}=COLUMN or a value with --set {f.name}=VALUE)",
                    )
                continue
            column = out[f.name]
            if f.required:
                empty = column.isna().to_numpy()
                where = self.fmap.fields.get(f.name)
                what = f" (column {where!r} is empty)" if where else ""
                _reject(reasons, empty, f"{f.name!r} is missing{what}")
            if f.type == "string":
                lengths, nul = text_lengths(column)
                if f.max_length is not None:
                    long = lengths > f.max_length
                    _reject(reasons, long, f"{f.name!r} is longer than {f.max_length} characters")
                _reject(reasons, nul, f"{f.name!r} contains a NUL character")
        if "source_id" in out:
            lengths, nul = text_lengths(out["source_id"])
            too_long = lengths > KEY_MAX_LENGTHS["source_id"]
            _reject(reasons, too_long, "its id is longer than 128 characters")
            _reject(reasons, nul, "its id contains a NUL character")


# --- helpers ---------------------------------------------------------------------------------


def _ok(reasons: np.ndarray) -> np.ndarray:
    """Return True where no reason is set (a reason is None or a text: ``isna`` is ``is None``)."""
    return np.asarray(pd.isna(reasons), dtype=bool) if len(reasons) else np.zeros(0, bool)


def _reject(reasons: np.ndarray, mask: np.ndarray, reason) -> None:
    """Set ``reason`` (one text, or one per True of ``mask``) where no reason is set yet."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return
    idx = np.flatnonzero(mask)
    texts = [reason] * len(idx) if isinstance(reason, str) else list(reason)
    for i, text in zip(idx, texts, strict=True):
        if reasons[i] is None:
            reasons[i] = text


def _text_hashes(keys: pd.Series) -> np.ndarray:
    """64-bit hashes of the keys' texts (``str(key)``), equal for equal texts in a process.

    Python's own string hash (SipHash, cached on each string) over the texts the checks
    already hold, in one C loop: several times cheaper than ``pandas.util.hash_array``.
    """
    values = keys.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":
        values = keys.astype(str).to_numpy(dtype=object)
    return np.fromiter(map(hash, values), dtype=np.int64, count=len(values)).view(np.uint64)


def _in_box(x: np.ndarray, y: np.ndarray, bbox) -> np.ndarray:
    w, s, e, n = bbox
    with np.errstate(invalid="ignore"):
        return (x >= w) & (x <= e) & (y >= s) & (y <= n)


def _repair(geom, want: str) -> tuple[object | None, str]:
    """``(repaired geometry, note)``, or ``(None, reason)`` when a repair is not safe."""
    why = shapely.is_valid_reason(geom)
    if want not in ("Polygon", "MultiPolygon"):
        return None, f"invalid geometry ({why})"
    fixed = shapely.make_valid(geom)
    polys = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return None, f"invalid geometry ({why}) and make_valid leaves no area"
    fixed = shapely.union_all(polys)
    if fixed.geom_type == "Polygon":
        fixed = shapely.MultiPolygon([fixed])
    before, after = abs(shapely.area(shapely.buffer(geom, 0))), shapely.area(fixed)
    change = abs(after - before) / before if before else 1.0
    if change > MAX_REPAIR_AREA_CHANGE:
        return None, f"invalid geometry ({why}); make_valid would change its area by {change:.0%}"
    return fixed, f"repaired with make_valid ({why})"

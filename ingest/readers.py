"""Open the files governments have and read them in chunks of rows.

Formats, chosen by extension:

- GeoJSON (``.geojson``, ``.json``), GeoPackage (``.gpkg``, pick a layer with ``sublayer``),
  Shapefile (``.shp`` with its ``.shx`` and ``.dbf``, or a ``.zip`` holding one): read with
  pyogrio as Arrow batches, geometry and CRS from the file;
- CSV (``.csv``, ``.tsv``, ``.txt``): delimiter (``,`` ``;`` tab ``|``) and encoding (UTF-8,
  else Windows-1252) sniffed, every cell read as text by pyarrow's streaming reader;
- Excel (``.xlsx``, ``.xlsm``): the first sheet with data, or ``sublayer``, through pandas and
  openpyxl; every cell as text;
- OSM XML (``.osm``, ``.osm.bz2``, ``.osm.gz``, ``.osm.pbf``): through :mod:`ingest.osm`, one
  layer's rows.

A file that cannot be read is an :class:`~gis.errors.IngestError` naming the file and the
reason: a wrong extension, a corrupt zip, a missing ``.shp`` sidecar, an empty file, a header
without rows, an Excel file with no sheet of data.
"""

from __future__ import annotations

import csv
import logging
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from gis.errors import IngestError

logger = logging.getLogger(__name__)

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip")
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
OSM_SUFFIXES = (".osm", ".osm.bz2", ".osm.gz", ".osm.pbf")
SUFFIXES = (*VECTOR_SUFFIXES, *CSV_SUFFIXES, *EXCEL_SUFFIXES, *OSM_SUFFIXES)

#: Shapefile sidecars that must sit next to the ``.shp``.
SHAPEFILE_SIDECARS = (".shx", ".dbf")

#: Bytes read to sniff a CSV file's encoding and delimiter.
SNIFF_BYTES = 1 << 20


@dataclass
class Chunk:
    """Rows of a file as read: original columns, geometries in the file's CRS, row numbers.

    Attributes
    ----------
    frame : pandas.DataFrame
        One column per column of the file, original names, index 0..n-1.
    geoms : numpy.ndarray or None
        Shapely geometries (None where a row has none), or None for a table without a
        geometry column (CSV, Excel): the loader builds them from coordinate columns.
    first_row : int
        Number of the chunk's first row in the file (1 is the first row of data).
    """

    frame: pd.DataFrame
    geoms: np.ndarray | None
    first_row: int


@dataclass
class OpenedFile:
    """A readable input file: what it holds and how to read it in chunks.

    Attributes
    ----------
    path : Path
        The file.
    kind : str
        ``vector`` (geometries and CRS from the file), ``table`` (CSV, Excel) or ``osm``
        (rows of a layer already in its fields, EPSG:4326).
    columns : list of str
        Column names, original spelling.
    crs : str or None
        The CRS the file declares (``EPSG:32749``, WKT, ...); None when it declares none.
    sublayer : str or None
        The GeoPackage layer or Excel sheet read.
    rejects : list of (str, str)
        Objects the reader itself could not turn into rows (an OSM boundary whose ways do
        not close, say), as ``(id, reason)``.
    """

    path: Path
    kind: str
    columns: list[str]
    crs: str | None = None
    sublayer: str | None = None
    rejects: list[tuple[str, str]] = field(default_factory=list)
    _chunks: Iterator[Chunk] | None = field(default=None, repr=False)

    def chunks(self) -> Iterator[Chunk]:
        """Yield the file's rows in chunks, once."""
        if self._chunks is None:
            msg = f"{self.path}: already read."
            raise IngestError(msg, param="path")
        chunks, self._chunks = self._chunks, None
        return chunks


def fail(path: Path, reason: str) -> IngestError:
    """Return the error for an unreadable file: ``<path>: <reason>``."""
    return IngestError(f"{path}: {reason}", param="path")


def suffix_of(path: Path) -> str:
    """Return the file's format suffix, ``.osm.bz2`` style double suffixes included."""
    name = path.name.lower()
    for suffix in sorted(SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    return path.suffix.lower()


def check_path(path: str | Path) -> Path:
    """Return ``path`` if it is a non-empty file of a supported format; else raise.

    Parameters
    ----------
    path : str or Path
        The input file.

    Returns
    -------
    Path

    Raises
    ------
    IngestError
        Missing, a directory, empty, or an unsupported extension.
    """
    p = Path(path)
    if not p.exists():
        raise fail(p, "file not found.")
    if p.is_dir():
        raise fail(p, "is a directory; expected a file.")
    if suffix_of(p) not in SUFFIXES:
        kind = p.suffix or "(no extension)"
        msg = f"unsupported file type {kind!r}; expected one of {', '.join(SUFFIXES)}."
        raise fail(p, msg)
    if p.stat().st_size == 0:
        raise fail(p, "file is empty (0 bytes).")
    return p


def open_file(
    path: str | Path, *, sublayer: str | None = None, chunk_rows: int = 100_000, layer=None
) -> OpenedFile:
    """Open an input file for reading in chunks.

    Parameters
    ----------
    path : str or Path
        The file (see the module docstring for the formats).
    sublayer : str, optional
        The GeoPackage layer, zip member or Excel sheet to read.
    chunk_rows : int
        Rows per chunk.
    layer : LayerSpec, optional
        For OSM files: the layer whose rows to read.

    Returns
    -------
    OpenedFile

    Raises
    ------
    IngestError
        The file cannot be read; the message names it and the reason.
    """
    p = check_path(path)
    suffix = suffix_of(p)
    if suffix in CSV_SUFFIXES:
        return _open_csv(p, chunk_rows)
    if suffix in EXCEL_SUFFIXES:
        return _open_excel(p, sublayer)
    if suffix in OSM_SUFFIXES:
        return _open_osm(p, layer)
    if suffix == ".zip":
        return _open_vector(p, _zip_member(p, sublayer), None, chunk_rows)
    if suffix == ".shp":
        for sidecar in SHAPEFILE_SIDECARS:
            if not _sibling(p, sidecar):
                raise fail(p, f"the Shapefile's {sidecar} file is missing next to it.")
    return _open_vector(p, str(p), sublayer, chunk_rows)


def _sibling(p: Path, suffix: str) -> Path | None:
    for candidate in p.parent.glob(p.stem + ".*"):
        if candidate.suffix.lower() == suffix and candidate.stem == p.stem:
            return candidate
    return None


# --- vector files ----------------------------------------------------------------------------


def _zip_member(p: Path, sublayer: str | None) -> str:
    """Return the ``/vsizip/`` path of the one Shapefile (or GeoPackage, GeoJSON) inside a zip."""
    if not zipfile.is_zipfile(p):
        raise fail(p, "is not a valid zip file (corrupt or truncated).")
    try:
        with zipfile.ZipFile(p) as zf:
            names = zf.namelist()
            bad = zf.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise fail(p, f"is a corrupt zip file ({exc}).") from exc
    if bad is not None:
        raise fail(p, f"is a corrupt zip file (member {bad} fails its checksum).")
    readable = [n for n in names if n.lower().endswith((".shp", ".gpkg", ".geojson", ".json"))]
    if sublayer is not None:
        readable = [n for n in readable if Path(n).stem == sublayer or n == sublayer]
    if not readable:
        raise fail(p, "holds no Shapefile, GeoPackage or GeoJSON file.")
    if len(readable) > 1:
        listed = ", ".join(readable)
        raise fail(p, f"holds several files ({listed}); choose one with --sublayer.")
    member = readable[0]
    if member.lower().endswith(".shp"):
        base = member[:-4]
        for sidecar in SHAPEFILE_SIDECARS:
            if not any(n.lower() == (base + sidecar).lower() for n in names):
                raise fail(p, f"{member}: the Shapefile's {sidecar} file is missing in the zip.")
    return f"/vsizip/{p}/{member}"


def _open_vector(p: Path, source: str, sublayer: str | None, chunk_rows: int) -> OpenedFile:
    import pyogrio

    try:
        layers = pyogrio.list_layers(source)
    except Exception as exc:  # noqa: BLE001 - GDAL says why in its message
        raise fail(p, f"cannot be read ({_first_line(exc)}).") from exc
    names = [str(row[0]) for row in layers]
    if not names:
        raise fail(p, "holds no layer of data.")
    if sublayer is None and len(names) > 1:
        raise fail(p, f"holds several layers ({', '.join(names)}); choose one with --sublayer.")
    name = names[0] if sublayer is None or p.suffix.lower() == ".zip" else sublayer
    if name not in names:
        raise fail(p, f"has no layer {sublayer!r}; its layers are {', '.join(names)}.")
    try:
        info = pyogrio.read_info(source, layer=name)
    except Exception as exc:  # noqa: BLE001
        raise fail(p, f"cannot be read ({_first_line(exc)}).") from exc
    if not info.get("features"):
        raise fail(p, f"layer {name!r} has no features." if len(names) > 1 else "has no features.")
    columns = [str(c) for c in info["fields"]]
    has_geometry = info.get("geometry_type") is not None
    return OpenedFile(
        path=p,
        kind="vector" if has_geometry else "table",
        columns=columns,
        crs=info.get("crs"),
        sublayer=name,
        _chunks=_vector_chunks(p, source, name, chunk_rows, has_geometry),
    )


def _vector_chunks(
    p: Path, source: str, layer: str, chunk_rows: int, has_geometry: bool
) -> Iterator[Chunk]:
    import pyogrio

    first = 1
    try:
        with pyogrio.open_arrow(
            source, layer=layer, batch_size=chunk_rows, use_pyarrow=True, datetime_as_string=True
        ) as (_meta, reader):
            for batch in reader:
                names = batch.schema.names
                geom_name = names[-1] if has_geometry else None
                attrs = batch.drop_columns([geom_name]) if geom_name else batch
                frame = attrs.to_pandas(types_mapper=None)
                frame.index = pd.RangeIndex(len(frame))
                geoms = None
                if geom_name:
                    wkb = batch.column(geom_name).to_numpy(zero_copy_only=False)
                    geoms = shapely.from_wkb(wkb, on_invalid="ignore")
                yield Chunk(frame, geoms, first)
                first += len(frame)
    except Exception as exc:
        if isinstance(exc, IngestError):
            raise
        raise fail(p, f"cannot be read ({_first_line(exc)}).") from exc


# --- CSV -------------------------------------------------------------------------------------


def sniff_csv(p: Path) -> tuple[str, str]:
    """Return ``(encoding, delimiter)`` of a CSV file from its first megabyte.

    The encoding is UTF-8 (a byte-order mark allowed) when the sample decodes as such, else
    Windows-1252 (what Excel writes on Indonesian Windows). The delimiter is the one of
    ``,`` ``;`` tab ``|`` that splits the header and the first rows into equal numbers of
    fields (:class:`csv.Sniffer`), else ``,``.
    """
    with p.open("rb") as fh:
        raw = fh.read(SNIFF_BYTES)
    encoding = "utf-8"
    try:
        sample = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.start < len(raw) - 4:  # not just a character cut by the sample's end
            encoding = "cp1252"
        sample = raw.decode("cp1252", errors="replace")
    if raw.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    lines = sample.splitlines()[:50]
    text = "\n".join(lines)
    try:
        delimiter = csv.Sniffer().sniff(text, delimiters=",;\t|").delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        delimiter = max(",;\t|", key=header.count) if header else ","
    return encoding, delimiter


def _open_csv(p: Path, chunk_rows: int) -> OpenedFile:
    encoding, delimiter = sniff_csv(p)
    with p.open(encoding=encoding, errors="replace", newline="") as fh:
        rows = csv.reader(fh, delimiter=delimiter)
        header = next(rows, None)
        first = next(rows, None)
    if not header or not any(h.strip() for h in header):
        raise fail(p, "has no header row.")
    if first is None or not any(c.strip() for c in first):
        raise fail(p, "has a header but no rows of data.")
    names = [h.strip() for h in header]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise fail(p, f"has the column {dupes[0]!r} twice in its header.")
    logger.info("%s: encoding %s, delimiter %r", p, encoding, delimiter)
    return OpenedFile(
        path=p,
        kind="table",
        columns=names,
        _chunks=_csv_chunks(p, names, encoding, delimiter, chunk_rows),
    )


def _csv_chunks(
    p: Path, names: list[str], encoding: str, delimiter: str, chunk_rows: int
) -> Iterator[Chunk]:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    read = pa_csv.ReadOptions(
        encoding="utf8" if encoding == "utf-8" else encoding,
        column_names=names,
        skip_rows=1,
        block_size=4 << 20,
    )
    parse = pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True)
    convert = pa_csv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        null_values=[""],
    )
    first = 1
    pending: list = []
    held = 0
    try:
        reader = pa_csv.open_csv(p, read_options=read, parse_options=parse, convert_options=convert)
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= chunk_rows:
                table = pa.Table.from_batches(pending)
                head, rest = table.slice(0, chunk_rows), table.slice(chunk_rows)
                yield Chunk(_text_frame(head), None, first)
                first += chunk_rows
                pending, held = rest.to_batches(), rest.num_rows
        if held:
            yield Chunk(_text_frame(pa.Table.from_batches(pending)), None, first)
    except pa.ArrowInvalid as exc:
        raise fail(p, f"cannot be read as CSV near row {first} ({_first_line(exc)}).") from exc


def _text_frame(table) -> pd.DataFrame:
    frame = table.to_pandas()
    frame.index = pd.RangeIndex(len(frame))
    return frame


# --- Excel -----------------------------------------------------------------------------------


def _open_excel(p: Path, sublayer: str | None) -> OpenedFile:
    try:
        sheets = pd.read_excel(p, sheet_name=None, dtype=str, engine="openpyxl")
    except Exception as exc:  # noqa: BLE001 - zip, XML or openpyxl errors
        raise fail(p, f"cannot be read as an Excel workbook ({_first_line(exc)}).") from exc
    if sublayer is not None and sublayer not in sheets:
        raise fail(p, f"has no sheet {sublayer!r}; its sheets are {', '.join(sheets)}.")
    candidates = [sublayer] if sublayer is not None else list(sheets)
    for name in candidates:
        frame = sheets[str(name)].dropna(how="all").dropna(axis=1, how="all")
        frame = frame.loc[:, [not str(c).startswith("Unnamed:") for c in frame.columns]]
        if len(frame) and len(frame.columns):
            frame = frame.reset_index(drop=True)
            frame.columns = [str(c).strip() for c in frame.columns]
            return OpenedFile(
                path=p,
                kind="table",
                columns=list(frame.columns),
                sublayer=str(name),
                _chunks=iter([Chunk(frame, None, 1)]),
            )
    where = f"sheet {sublayer!r} has" if sublayer is not None else "no sheet has"
    raise fail(p, f"{where} a header and rows of data.")


# --- OSM -------------------------------------------------------------------------------------


def _open_osm(p: Path, layer) -> OpenedFile:
    """One layer's rows of an OSM file, as a frame of its fields plus ``id`` (``way/12``)."""
    from ingest.osm import read_osm

    extract = read_osm(p, progress=False)
    rows = extract.rows.get(layer.name) if layer is not None else None
    if not rows:
        what = layer.name if layer is not None else "any layer"
        raise fail(p, f"holds no features of {what} (OpenStreetMap file).")
    frame = pd.DataFrame(
        [{k: v for k, v in r.items() if k not in ("source", "geom")} for r in rows]
    )
    frame = frame.rename(columns={"source_id": "id"})
    geoms = np.array([r["geom"] for r in rows], dtype=object)
    return OpenedFile(
        path=p,
        kind="osm",
        columns=list(frame.columns),
        crs="EPSG:4326",
        rejects=[(r.source_id, r.reason) for r in extract.rejects if r.layer == layer.name],
        _chunks=iter([Chunk(frame, geoms, 1)]),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""Load a city's own file (GeoJSON, GeoPackage, Shapefile, CSV, Excel, OSM XML) into a layer.

:func:`ingest_file` is the one entry point, for ``sigap ingest file`` and, later, a staff page:

1. open the file (:mod:`ingest.readers`) and map its columns to the layer's fields
   (:mod:`ingest.fieldmap`);
2. read it in chunks inside the load's transaction, check every row (:mod:`ingest.rowcheck`)
   and stream the good ones into PostGIS through the ingest service (:mod:`ingest.service`),
   which refreshes a built routing network afterwards;
3. write the rejected rows to a report next to the input (CSV, or GeoJSON for files with
   geometries) and return the counts.

A road inspection file (``--layer inspections``) also updates the road segments it matches
(:mod:`ingest.inspections`); ``join="code"`` updates existing rows by a key field instead of
adding rows (a population table joined to the administrative areas). Every run, failed or
not, gets an ``ingest_run`` row; a dry run writes nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from psycopg2 import sql
from tqdm import tqdm

from gis.errors import IngestError
from ingest.encode import copy_frame
from ingest.fieldmap import map_columns
from ingest.load import Chunks, LoadResult, layer_spec, record_failed_run
from ingest.osm import file_sha256
from ingest.readers import OpenedFile, check_path, open_file
from ingest.rowcheck import REJECT_REASON, REJECT_ROW, RowChecker
from layers.spec import LayerSpec

logger = logging.getLogger(__name__)

#: Rows read, checked and copied at a time: bounds the memory of a load.
CHUNK_ROWS = 100_000


class RejectLog(Sequence):
    """The rejects of a run as ``ingest_run`` records them: every count, the first 1000 rows."""

    KEEP = 1000

    def __init__(self) -> None:
        self.items: list[dict] = []
        self.total = 0

    def add(self, rows: Sequence[int], reasons: Sequence[str]) -> None:
        """Count rejects; keep the first :attr:`KEEP` of them."""
        self.total += len(rows)
        room = self.KEEP - len(self.items)
        for row, reason in list(zip(rows, reasons, strict=True))[: max(room, 0)]:
            self.items.append({"row": int(row), "reason": str(reason)})

    def __len__(self) -> int:
        """Return the number of rejects counted."""
        return self.total

    def __getitem__(self, index):  # type: ignore[override]
        """Return a kept reject."""
        return self.items[index]


@dataclass
class FileResult:
    """What one file load did.

    Attributes
    ----------
    load : LoadResult
        Per-layer counts, the ``ingest_run`` id, the network refresh.
    layer : str
        The layer loaded (registry name).
    mapping : list of str
        ``field <- column`` lines: how the columns were used.
    rows : int
        Rows read from the file.
    rejected : int
        Rows not loaded (see the report).
    rejects_path : Path or None
        The reject report, when rows were rejected.
    repaired : list of int
        Rows whose geometry was repaired with ``make_valid``.
    unmatched : list of str
        Records that matched nothing (inspections without a road, codes without an area).
    dry_run : bool
        Nothing was written.
    """

    load: LoadResult
    layer: str
    mapping: list[str] = field(default_factory=list)
    rows: int = 0
    rejected: int = 0
    rejects_path: Path | None = None
    repaired: list[int] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def new(self) -> int:
        """Rows added to the layer."""
        return self.load.new.get(self.layer, 0)

    @property
    def updated(self) -> int:
        """Rows of the layer changed."""
        return self.load.updated.get(self.layer, 0)

    @property
    def unchanged(self) -> int:
        """Rows of the file already stored as they are."""
        return max(self.rows - self.rejected - self.new - self.updated, 0)


#: Steps run inside the transaction after a layer is written, by layer name
#: (:mod:`ingest.inspections` registers the road inspections' step).
AFTER_LOAD: dict[str, object] = {}


def default_rejects_path(path: Path, kind: str) -> Path:
    """Return where the reject report goes: ``<name>.rejects.csv`` or ``.geojson`` by it."""
    suffix = ".rejects.geojson" if kind in ("vector", "osm") else ".rejects.csv"
    return path.with_name(path.name + suffix)


def ingest_file(
    path: str | Path,
    url: str,
    *,
    layer: str,
    sublayer: str | None = None,
    crs: str | None = None,
    mapping: Mapping[str, str] | None = None,
    constants: Mapping[str, str] | None = None,
    source: str | None = None,
    join: str | None = None,
    rejects: str | Path | None = None,
    dry_run: bool = False,
    bbox: tuple[float, float, float, float] | None = None,
    tolerance_m: float = 15.0,
    progress: bool | None = None,
    chunk_rows: int = CHUNK_ROWS,
    refresh_network: bool = True,
) -> FileResult:
    """Load one file into one layer of the database at ``url``, all or nothing.

    Parameters
    ----------
    path : str or Path
        GeoJSON, GeoPackage, Shapefile (or a zip of one), CSV, Excel or OSM XML.
    url : str
        The database.
    layer : str
        A layer name or alias: ``offices``, ``bins``, ``roads``, ``inspections``, ``areas``,
        ``complaints``.
    sublayer : str, optional
        The GeoPackage layer, zip member or Excel sheet.
    crs : str, optional
        The CRS of the file's coordinates, overriding the file's own (``EPSG:23879``). A
        table without one is EPSG:4326.
    mapping : mapping of str to str, optional
        ``field -> column`` overrides of the automatic mapping (``--map``).
    constants : mapping of str to str, optional
        ``field -> value`` for every row (``--set``).
    source : str, optional
        The rows' ``source``; default the file's name without extension.
    join : str, optional
        Update existing rows matched on this field instead of adding rows (``code``).
    rejects : str or Path, optional
        Where to write the reject report; default next to the input.
    dry_run : bool
        Check and count, write nothing.
    bbox : tuple of float, optional
        The declared extent ``(west, south, east, north)``; rows outside are rejected.
    tolerance_m : float
        Road inspections: how far (m) a point or line may be from the segment it names.
    progress : bool, optional
        Show a progress bar; default only on a terminal.
    chunk_rows : int
        Rows per chunk.
    refresh_network : bool
        Refresh a built routing network afterwards.

    Returns
    -------
    FileResult

    Raises
    ------
    IngestError
        The file cannot be read, an option is wrong, or the load failed; nothing was
        written (the failure is recorded in ``ingest_run``).
    InterruptedAfterCommit
        A Ctrl-C arrived after the commit; the data is loaded.
    KeyboardInterrupt
        A Ctrl-C arrived before the commit; nothing was written.
    """
    from ingest import inspections, service  # noqa: F401 - registers the inspections step

    started_at = datetime.now(UTC)
    spec = layer_spec(layer)
    p = Path(path)
    try:
        p = check_path(path)
        opened = open_file(p, sublayer=sublayer, chunk_rows=chunk_rows, layer=spec)
        fmap = map_columns(
            spec,
            opened.columns,
            path=p,
            mapping=mapping,
            constants=constants,
            tabular=opened.kind == "table" and join is None,
            id_column=join is None,
        )
        _check_plan(spec, opened, fmap, join)
        checker = RowChecker(
            spec,
            fmap,
            p,
            source or _source_name(p),
            crs=crs or opened.crs,
            bbox=bbox,
            join=join,
        )
        sha = file_sha256(p)
    except IngestError as exc:
        if not dry_run and p.exists():  # a run on a file; a mistyped name is no run
            record_failed_run(
                url,
                source=str(p.resolve()),
                sha256=None,
                started_at=started_at,
                status="failed",
                error=exc.message,
            )
        raise
    out = FileResult(load=LoadResult(), layer=spec.name, mapping=fmap.describe(), dry_run=dry_run)
    out.rows = len(opened.rejects)
    log = RejectLog()
    reject_frames: list[pd.DataFrame] = []
    if opened.rejects:  # objects the reader could not use (row 0: not a row of a table)
        ids, reasons = zip(*opened.rejects, strict=True)
        log.add([0] * len(ids), list(reasons))
        reject_frames.append(
            pd.DataFrame({REJECT_ROW: 0, REJECT_REASON: list(reasons), "id": list(ids)})
        )

    def frames() -> Iterator[pd.DataFrame]:
        bar = tqdm(
            desc=f"Reading {p.name}",
            unit=" rows",
            disable=None if progress is None else not progress,
            leave=False,
        )
        with bar:
            for chunk in opened.chunks():
                checked = checker.check(chunk)
                out.rows += len(chunk.frame)
                if len(checked.rejects):
                    reject_frames.append(checked.rejects)
                    log.add(
                        checked.rejects[REJECT_ROW].tolist(),
                        checked.rejects[REJECT_REASON].tolist(),
                    )
                out.repaired.extend(checked.repaired)
                bar.update(len(chunk.frame))
                yield checked.rows

    layers: dict[str, Chunks] = {}
    after = []
    if join is not None:
        after.append(_join_step(spec, join, frames(), out))
    else:
        layers[spec.name] = Chunks(frames(), source=checker.source)
        step = AFTER_LOAD.get(spec.name)
        if step is not None:
            after.append(lambda cur, result: step(cur, result, out, checker.source, tolerance_m))  # type: ignore[operator]
    try:
        service.load(
            url,
            layers,
            source=str(p.resolve()),
            sha256=sha,
            rejects=log,
            started_at=started_at,
            progress=progress,
            refresh=refresh_network,
            after=after,
            dry_run=dry_run,
            result=out.load,
        )
    finally:
        out.rejected = log.total
        if reject_frames:
            out.rejects_path = write_rejects(
                reject_frames, Path(rejects) if rejects else default_rejects_path(p, opened.kind)
            )
    if out.repaired:
        out.load.notes.append(
            f"{len(out.repaired)} geometries repaired with make_valid (rows "
            + ", ".join(map(str, out.repaired[:20]))
            + (" ...)" if len(out.repaired) > 20 else ")")
        )
    return out


def _source_name(p: Path) -> str:
    name = p.name
    for suffix in (".osm.bz2", ".osm.gz", ".osm.pbf"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)][:64]
    return p.stem[:64]


def _check_plan(spec: LayerSpec, opened: OpenedFile, fmap, join: str | None) -> None:
    """File-level problems: no geometry columns, a join field the file lacks."""
    if join is not None:
        names = [f.name for f in spec.load_fields]
        if join not in names:
            msg = f"--join {join}: layer {spec.name} has no field {join!r}; the fields are "
            msg += ", ".join(names) + "."
            raise IngestError(msg, param="--join")
        if join not in fmap.fields:
            msg = f"--join {join}: {opened.path} has no column for {join!r} (columns: "
            msg += f"{', '.join(opened.columns)}); name it with --map {join}=COLUMN."
            raise IngestError(msg, param="--join")
        if len(fmap.fields) + len(fmap.constants) < 2:
            msg = f"{opened.path}: no column besides {join!r} maps to a field of {spec.name}."
            raise IngestError(msg, param="path")
        return
    if opened.kind == "table" and not (fmap.lat or fmap.wkt) and spec.geometry_required:
        msg = (
            f"{opened.path}: no coordinate columns found (looked for lat/latitude/lintang/y "
            "with lon/lng/longitude/bujur/x, or a WKT column); its columns are "
            f"{', '.join(opened.columns)}. Name them with --map lat=COLUMN lon=COLUMN."
        )
        raise IngestError(msg, param="path")


def _join_step(spec: LayerSpec, key: str, frames: Iterator[pd.DataFrame], out: FileResult):
    """Return the step that updates ``spec``'s rows matched on ``key`` from the file's rows."""

    def step(cur, result: LoadResult) -> None:
        first = next(frames, None)
        if first is None:
            return
        columns = [c for c in first.columns if c in {f.name for f in spec.load_fields}]
        stage = f"join_{spec.table}"
        cur.execute(
            sql.SQL("CREATE TEMP TABLE {} ON COMMIT DROP AS SELECT {} FROM {} WITH NO DATA").format(
                sql.Identifier(stage),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.Identifier(spec.table),
            )
        )
        copy_frame(cur, spec, stage, first, columns)
        for frame in frames:
            copy_frame(cur, spec, stage, frame, columns)
        fields = [c for c in columns if c not in (key, "attributes")]

        def incoming(c: str) -> sql.Composable:
            if c == "attributes":
                return sql.SQL(
                    "CASE WHEN s.attributes IS NULL THEN t.attributes "
                    "ELSE coalesce(t.attributes, '{}'::jsonb) || s.attributes END"
                )
            return sql.SQL("coalesce(s.{c}, t.{c})").format(c=sql.Identifier(c))

        changed = [*fields, *(["attributes"] if "attributes" in columns else [])]
        current = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in changed)
        wanted = sql.SQL(", ").join(incoming(c) for c in changed)
        cur.execute(
            sql.SQL(
                "UPDATE {table} t SET {sets}, updated_at = now() FROM {stage} s "
                "WHERE t.{key} = s.{key} AND ({current}) IS DISTINCT FROM ({wanted})"
            ).format(
                table=sql.Identifier(spec.table),
                sets=sql.SQL(", ").join(
                    sql.SQL("{} = {}").format(sql.Identifier(c), incoming(c)) for c in changed
                ),
                stage=sql.Identifier(stage),
                key=sql.Identifier(key),
                current=current,
                wanted=wanted,
            )
        )
        updated = cur.rowcount
        cur.execute(
            sql.SQL(
                "SELECT s.{key} FROM {stage} s WHERE NOT EXISTS "
                "(SELECT 1 FROM {table} t WHERE t.{key} = s.{key}) ORDER BY 1"
            ).format(
                key=sql.Identifier(key),
                stage=sql.Identifier(stage),
                table=sql.Identifier(spec.table),
            )
        )
        unmatched = [str(r[0]) for r in cur.fetchall()]
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(stage)))
        total = int(cur.fetchone()[0])
        result.total[spec.name] = total
        result.new[spec.name] = 0
        result.updated[spec.name] = updated
        result.deleted[spec.name] = 0
        out.unmatched.extend(f"{key} {k!r} matches no row of {spec.name}" for k in unmatched)

    return step


def write_rejects(frames: list[pd.DataFrame], path: Path) -> Path:
    """Write the rejected rows (``row``, ``reason``, original values) to ``path``.

    A ``.geojson`` path gets features with the rows' geometries (EPSG:4326, null where there
    was none); anything else a UTF-8 CSV. When ``path``'s folder cannot be written to (a
    read-only data folder), the report goes to the current directory instead.

    Parameters
    ----------
    frames : list of pandas.DataFrame
        The rejects of each chunk.
    path : Path
        Where to write.

    Returns
    -------
    Path
        Where the report was written.
    """
    rejects = pd.concat(frames, ignore_index=True)
    if not os.access(path.parent, os.W_OK):
        fallback = Path.cwd() / path.name
        logger.warning("%s is not writable; the reject report goes to %s", path.parent, fallback)
        path = fallback
    if path.suffix.lower() == ".geojson":
        import geopandas as gpd

        geoms = rejects.pop("geometry") if "geometry" in rejects else None
        props = rejects.astype(object).where(rejects.notna(), None)
        for column in props.columns:
            if column != REJECT_ROW:
                props[column] = props[column].map(lambda v: None if v is None else str(v))
        props[REJECT_ROW] = props[REJECT_ROW].astype("int64")
        gdf = gpd.GeoDataFrame(props, geometry=gpd.GeoSeries(geoms, crs="EPSG:4326"))
        if path.exists():
            path.unlink()
        gdf.to_file(path, driver="GeoJSON")
    else:
        rejects.drop(columns=["geometry"], errors="ignore").to_csv(path, index=False)
    return path

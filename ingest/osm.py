"""Read an OpenStreetMap extract into SIGAP's layers.

Reads ``.osm.pbf``, ``.osm``, ``.osm.bz2`` and ``.osm.gz`` with pyosmium, in two passes:

1. relations only, to learn which ways make up administrative boundaries;
2. everything, with node locations, to build offices, waste bins, road segments and areas.

Real extracts are clipped at their edge:

- a highway way that references nodes missing from the file keeps the runs of consecutive
  nodes that have coordinates (each run of two or more nodes becomes part of the network);
- a boundary relation with member ways missing from the file, or whose rings do not close,
  is skipped with a logged reason and counted as rejected.

Point layers (offices, waste bins, ...) come from the registry: every layer with a
``from_osm`` turns an object's tags into a row (:mod:`layers.osm_tags`). Road ways become
routing-graph edges in :mod:`ingest.osm_roads`. The load goes through :mod:`ingest.service`.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import osmium
import shapely
from shapely.geometry import LineString, MultiPolygon, Point, Polygon
from shapely.ops import linemerge, unary_union
from tqdm import tqdm

from gis.errors import IngestError
from ingest.load import LoadResult
from ingest.osm_roads import is_routable, split_road_ways
from layers.registry import LAYERS, LayerSpec, osm_point_layers

logger = logging.getLogger(__name__)

SOURCE = "osm"
SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2", ".osm.gz")


@dataclass
class Reject:
    """One object that could not be loaded, and why."""

    layer: str
    source_id: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """Return the reject as it is recorded in ``ingest_run.rejects``."""
        return {"layer": self.layer, "source_id": self.source_id, "reason": self.reason}


#: The layers the reader builds from geometry of its own (not from a point's tags).
ROAD_LAYER = "road_segment"
AREA_LAYER = "admin_area"


@dataclass
class OsmExtract:
    """Everything read from one OSM file, ready to load.

    Attributes
    ----------
    path : Path
        The file that was read.
    sha256 : str
        Its checksum.
    rows : dict of str to list of dict
        Layer name (a key of :data:`layers.registry.LAYERS`) -> rows, each a plain dict of
        ``source``, ``source_id``, ``geom`` and the layer's loaded fields. Every layer the
        reader knows has an entry, empty or not.
    rejects : list of Reject
        Objects that could not be loaded, with reasons.
    object_count : int
        OSM objects in the file.
    """

    path: Path
    sha256: str
    rows: dict[str, list[dict]] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    object_count: int = 0


# --- input checks ---------------------------------------------------------------------------


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of the file at ``path``, as hex."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _looks_like_osm(path: Path) -> bool:
    """Cheap content sniff, so a CSV renamed ``.osm`` gets a clear message."""
    name = path.name.lower()
    with path.open("rb") as fh:
        head = fh.read(64)
    if name.endswith(".bz2"):
        return head.startswith(b"BZh")
    if name.endswith(".gz"):
        if not head.startswith(b"\x1f\x8b"):
            return False
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(64)
        except (OSError, EOFError):
            return False
        return b"<" in head
    if name.endswith(".pbf"):
        return b"OSMHeader" in head
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return text.startswith(b"<?xml") or text.startswith(b"<osm")


def check_osm_file(path: str | Path) -> Path:
    """Validate that ``path`` is an existing, non-empty OSM file of a supported format."""
    p = Path(path)
    if not p.exists():
        msg = f"{p}: file not found."
        raise IngestError(msg, param="path")
    if p.is_dir():
        msg = f"{p}: is a directory; expected an OSM file ({', '.join(SUFFIXES)})."
        raise IngestError(msg, param="path")
    if not p.is_file():
        msg = f"{p}: is not a file."
        raise IngestError(msg, param="path")
    if not p.name.lower().endswith(SUFFIXES):
        msg = f"{p}: unsupported file type; expected one of {', '.join(SUFFIXES)}."
        raise IngestError(msg, param="path")
    if p.stat().st_size == 0:
        msg = f"{p}: file is empty (0 bytes)."
        raise IngestError(msg, param="path")
    if not _looks_like_osm(p):
        msg = f"{p}: is not an OpenStreetMap file (its content does not match its extension)."
        raise IngestError(msg, param="path")
    return p


# --- tag helpers ----------------------------------------------------------------------------


def _admin_name(tags: dict[str, str]) -> str | None:
    for key in ("name", "name:id", "KEL_name", "KEC_name", "DESA", "KECAMATAN"):
        if tags.get(key):
            return tags[key]
    return None


def _admin_code(tags: dict[str, str]) -> str | None:
    for key in ("ref:bps", "ref:kemendagri", "identif", "ref"):
        raw = tags.get(key)
        if raw:
            return raw[:-2] if raw.endswith(".0") else raw
    return None


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


# --- reading --------------------------------------------------------------------------------


def _relations(
    path: Path, makers: PointMakers
) -> dict[int, tuple[dict[str, str], list[tuple[int, str]]]]:
    """First pass: relations we need and their member ways, ``{id: (tags, [(way, role)])}``.

    These are administrative boundaries and points of interest mapped as multipolygons
    (a fire station drawn as a relation, say).
    """
    out: dict[int, tuple[dict[str, str], list[tuple[int, str]]]] = {}
    for rel in osmium.FileProcessor(str(path), osmium.osm.RELATION):
        if not isinstance(rel, osmium.osm.Relation):
            continue
        tags = dict(rel.tags)
        if tags.get("boundary") == "administrative" or _poi_rows(tags, makers):
            out[rel.id] = (tags, [(m.ref, m.role) for m in rel.members if m.type == "w"])
    return out


#: Each point layer read from tags, with its row maker.
PointMakers = tuple[tuple[LayerSpec, Callable[[Mapping[str, str]], dict | None]], ...]


def point_makers() -> PointMakers:
    """Return ``(layer, from_osm)`` of every registry layer read from an object's tags."""
    return tuple((spec, spec.from_osm) for spec in osm_point_layers() if spec.from_osm)


def _poi_rows(tags: dict[str, str], makers: PointMakers) -> list[tuple[LayerSpec, dict]]:
    """``(layer, row fields)`` of every point layer this object is a feature of."""
    out = []
    for spec, make in makers:
        row = make(tags)
        if row is not None:
            out.append((spec, row))
    return out


def _way_coords(way, negative: dict[int, tuple[float, float]]) -> list:
    """``(node id, lon, lat)`` per node of ``way``, None where the node is not in the file.

    libosmium's location index holds only positive ids; the negative ids of unsaved JOSM
    edits are looked up in ``negative``.
    """
    out: list[tuple[int, float, float] | None] = []
    for n in way.nodes:
        loc = n.location
        if loc.valid():
            out.append((n.ref, loc.lon, loc.lat))
        elif n.ref < 0 and n.ref in negative:
            out.append((n.ref, *negative[n.ref]))
        else:
            out.append(None)
    return out


def _runs(coords: list[tuple[int, float, float] | None]) -> list[list[tuple[int, float, float]]]:
    """Split a way's nodes into runs of consecutive nodes that have coordinates."""
    runs: list[list[tuple[int, float, float]]] = [[]]
    for c in coords:
        if c is None:
            if runs[-1]:
                runs.append([])
            continue
        if runs[-1] and runs[-1][-1][0] == c[0]:
            continue  # a node repeated back to back adds nothing
        runs[-1].append(c)
    return [r for r in runs if len(r) >= 2]


def _feature_point(coords: list[tuple[int, float, float] | None]) -> Point | None:
    pts = [(c[1], c[2]) for c in coords if c is not None]
    if not pts:
        return None
    closed = coords[0] is not None and coords[-1] is not None and coords[0][0] == coords[-1][0]
    if closed and len(pts) >= 4:
        poly = Polygon(pts)
        if poly.is_valid and poly.area > 0:
            return poly.centroid
    return LineString(pts).centroid if len(pts) > 1 else Point(pts[0])


#: Ends of boundary ways closer than this (degrees, about 1 m) are joined when the ways would
#: not close a ring otherwise: boundaries converted from a shapefile often have two nodes a
#: few decimetres apart where one was meant (Surabaya's Genteng and Bubutan, say).
RING_SNAP_DEG = 1e-5


def _ring_polygons(lines: list[LineString]) -> tuple[list[Polygon], bool]:
    """Merge way lines into closed rings; return polygons and whether every ring closed."""
    if not lines:
        return [], True
    polys, all_closed = _merge_rings(lines)
    if not all_closed:
        snapped, snapped_closed = _merge_rings(_snap_ends(lines, RING_SNAP_DEG))
        if snapped_closed:
            return snapped, True
    return polys, all_closed


def _merge_rings(lines: list[LineString]) -> tuple[list[Polygon], bool]:
    merged = linemerge(lines)
    parts = list(getattr(merged, "geoms", [merged]))
    polys = []
    all_closed = True
    for part in parts:
        if not part.is_closed or len(part.coords) < 4:
            all_closed = False
            continue
        polys.append(shapely.make_valid(Polygon(part.coords)))
    return polys, all_closed


def _snap_ends(lines: list[LineString], tolerance: float) -> list[LineString]:
    """``lines`` with every end moved onto an earlier end within ``tolerance``."""
    anchors: list[tuple[float, float]] = []

    def anchor(point: tuple[float, float]) -> tuple[float, float]:
        for a in anchors:
            if abs(a[0] - point[0]) <= tolerance and abs(a[1] - point[1]) <= tolerance:
                return a
        anchors.append(point)
        return point

    out = []
    for line in lines:
        coords = list(line.coords)
        coords[0] = anchor(coords[0])
        coords[-1] = anchor(coords[-1])
        out.append(LineString(coords))
    return out


def _to_multipolygon(geom) -> MultiPolygon | None:
    if geom is None or geom.is_empty:
        return None
    if geom.geom_type == "Polygon":
        return MultiPolygon([geom])
    if geom.geom_type == "MultiPolygon":
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return _to_multipolygon(unary_union(polys)) if polys else None


class _Reader:
    """Second pass: collects rows while pyosmium streams the file."""

    def __init__(self, extract: OsmExtract, relations: dict, makers: PointMakers) -> None:
        self.x = extract
        self.relations = relations
        self.member_way_ids = {w for _, members in relations.values() for w, _ in members}
        self.member_ways: dict[int, list[tuple[int, float, float] | None]] = {}
        self.road_ways: list[tuple[int, dict[str, str], list[list[tuple[int, float, float]]]]] = []
        #: Point layer -> source_id -> row (a later object of one id replaces an earlier one).
        self.makers = makers
        self.points: dict[str, dict[str, dict]] = {s.name: {} for s, _ in makers}
        self.negative_nodes: dict[int, tuple[float, float]] = {}

    # points of interest: nodes and ways (centroid)
    def poi(self, source_id: str, matches: list[tuple[LayerSpec, dict]], point: Point | None):
        """Add the rows ``matches`` (from :func:`_poi_rows`) of one object at ``point``."""
        for spec, fields in matches:
            if point is None:
                reason = "none of its nodes are in the file"
                self.x.rejects.append(Reject(spec.name, source_id, reason))
                continue
            row = {"source": SOURCE, "source_id": source_id, **fields, "geom": point}
            self.points[spec.name][source_id] = row

    def node(self, n) -> None:
        if n.id < 0:
            self.negative_nodes[n.id] = (n.location.lon, n.location.lat)
        if not n.tags:
            return
        matches = _poi_rows(dict(n.tags), self.makers)
        if matches:
            self.poi(f"node/{n.id}", matches, Point(n.location.lon, n.location.lat))

    def way(self, w) -> None:
        tags = dict(w.tags)
        matches = _poi_rows(tags, self.makers)
        routable = is_routable(tags)
        in_relation = w.id in self.member_way_ids
        closed_boundary = tags.get("boundary") == "administrative" and w.is_closed()
        if not (matches or routable or in_relation or closed_boundary):
            return
        coords = _way_coords(w, self.negative_nodes)
        if matches:
            self.poi(f"way/{w.id}", matches, _feature_point(coords))
        if routable:
            runs = _runs(coords)
            if runs:
                self.road_ways.append((w.id, tags, runs))
            else:
                reason = "fewer than two of its nodes are in the file (clipped extract)"
                self.x.rejects.append(Reject(ROAD_LAYER, f"way/{w.id}", reason))
        if in_relation:
            self.member_ways[w.id] = coords
        if closed_boundary and w.id not in self.member_way_ids:
            self.closed_boundary_way(w.id, tags, coords)

    def closed_boundary_way(self, way_id: int, tags: dict[str, str], coords: list) -> None:
        if any(c is None for c in coords) or len(coords) < 4:
            reason = "boundary way has nodes missing from the file (clipped extract)"
            self.x.rejects.append(Reject(AREA_LAYER, f"way/{way_id}", reason))
            logger.info("skipping boundary way/%s: %s", way_id, reason)
            return
        geom = _to_multipolygon(shapely.make_valid(Polygon([(c[1], c[2]) for c in coords])))
        self.admin_area(f"way/{way_id}", tags, geom)

    def admin_area(self, source_id: str, tags: dict[str, str], geom: MultiPolygon | None) -> None:
        if geom is None:
            reason = "boundary has no area"
            self.x.rejects.append(Reject(AREA_LAYER, source_id, reason))
            logger.info("skipping boundary %s: %s", source_id, reason)
            return
        self.x.rows[AREA_LAYER].append(
            {
                "source": SOURCE,
                "source_id": source_id,
                "name": _admin_name(tags),
                "admin_level": _int(tags.get("admin_level")),
                "code": _admin_code(tags),
                "population": _int(tags.get("population")),
                "geom": geom,
            }
        )

    # after the pass -----------------------------------------------------------------------

    def finish(self) -> None:
        for rel_id, (tags, members) in self.relations.items():
            if tags.get("boundary") == "administrative":
                self.assemble_boundary(rel_id, tags, members)
            else:
                point = self.relation_point(members)
                self.poi(f"relation/{rel_id}", _poi_rows(tags, self.makers), point)
        for layer, by_id in self.points.items():
            self.x.rows[layer] = list(by_id.values())
        self.x.rows[ROAD_LAYER] = split_road_ways(self.road_ways, source=SOURCE)
        for layer, rows in self.x.rows.items():
            clip_texts(LAYERS[layer], rows)

    def relation_point(self, members: list[tuple[int, str]]) -> Point | None:
        """Centroid of a multipolygon relation, or of whatever of its ways the file holds."""
        lines = [
            LineString([(c[1], c[2]) for c in self.member_ways[w] if c is not None])
            for w, role in members
            if w in self.member_ways and None not in self.member_ways[w] and role != "inner"
        ]
        polys, _ = _ring_polygons(lines)
        if polys:
            return unary_union(polys).centroid
        pts = [
            (c[1], c[2]) for w, _ in members for c in self.member_ways.get(w, []) if c is not None
        ]
        return shapely.MultiPoint(pts).centroid if pts else None

    def assemble_boundary(self, rel_id: int, tags: dict, members: list[tuple[int, str]]) -> None:
        source_id = f"relation/{rel_id}"
        missing = [w for w, _ in members if w not in self.member_ways]
        broken = [w for w, _ in members if w in self.member_ways and None in self.member_ways[w]]
        reason = None
        if not members:
            reason = "relation has no member ways"
        elif missing or broken:
            reason = (
                f"{len(missing) + len(broken)} of {len(members)} member ways are missing "
                "from the file or cut at its edge (clipped extract)"
            )
        if reason is None:
            outer: list[LineString] = []
            inner: list[LineString] = []
            for w, role in members:
                line = LineString([(c[1], c[2]) for c in self.member_ways[w] if c is not None])
                (inner if role == "inner" else outer).append(line)
            outer_polys, outer_ok = _ring_polygons(outer)
            inner_polys, inner_ok = _ring_polygons(inner)
            if not (outer_ok and inner_ok) or not outer_polys:
                reason = "its member ways do not form closed rings"
            else:
                geom = unary_union(outer_polys)
                if inner_polys:
                    geom = geom.difference(unary_union(inner_polys))
                self.admin_area(source_id, tags, _to_multipolygon(geom))
                return
        self.x.rejects.append(Reject(AREA_LAYER, source_id, reason))
        logger.info("skipping boundary %s (%s): %s", source_id, _admin_name(tags), reason)


def clip_texts(spec: LayerSpec, rows: list[dict]) -> None:
    """Cut free-text tag values to the length their column holds (``max_length``), in place.

    OSM values such as ``surface=asphalt;paving_stones;...`` can be longer than a class
    column allows; the start of the value is kept rather than failing the whole load.
    """
    for f in spec.load_fields:
        n = f.max_length
        if n is None or f.vocab:
            continue
        for row in rows:
            value = row.get(f.name)
            if isinstance(value, str) and len(value) > n:
                row[f.name] = value[:n]


def read_osm(path: str | Path, *, progress: bool | None = None) -> OsmExtract:
    """Read an OSM file into rows for every SIGAP layer.

    Parameters
    ----------
    path : str or Path
        An ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz`` file.
    progress : bool, optional
        Show a progress bar; default: only when stderr is a terminal.

    Raises
    ------
    IngestError
        The file is missing, empty, not OSM, truncated or otherwise unreadable.
    """
    p = check_osm_file(path)
    extract = OsmExtract(path=p.resolve(), sha256=file_sha256(p))
    makers = point_makers()
    extract.rows = {AREA_LAYER: [], **{s.name: [] for s, _ in makers}, ROAD_LAYER: []}
    disable = None if progress is None else not progress
    try:
        reader = _Reader(extract, _relations(p, makers), makers)
        bar = tqdm(desc=f"Reading {p.name}", unit=" objects", disable=disable, leave=False)
        with bar:
            for obj in osmium.FileProcessor(str(p)).with_locations():
                extract.object_count += 1
                if extract.object_count % 10000 == 0:
                    bar.update(10000)
                if isinstance(obj, osmium.osm.Node):
                    reader.node(obj)
                elif isinstance(obj, osmium.osm.Way):
                    reader.way(obj)
    except RuntimeError as exc:
        msg = f"{p}: cannot be read as OpenStreetMap data ({exc}). Is the file complete?"
        raise IngestError(msg, param="path") from exc
    if extract.object_count == 0:
        msg = f"{p}: contains no OpenStreetMap objects."
        raise IngestError(msg, param="path")
    reader.finish()
    return extract


# --- ingest: read, then load in one transaction ---------------------------------------------


def ingest_osm_file(
    path: str | Path, url: str, *, progress: bool | None = None, refresh_network: bool = True
) -> tuple[OsmExtract, LoadResult]:
    """Read ``path`` and load every layer into the database at ``url`` in one transaction.

    The load goes through :func:`ingest.service.load`, which refreshes a routing network that
    was built.

    Parameters
    ----------
    path : str or Path
        An ``.osm.pbf``, ``.osm``, ``.osm.bz2`` or ``.osm.gz`` file.
    url : str
        The database to load into.
    progress : bool, optional
        Show progress bars; default: only when stderr is a terminal.
    refresh_network : bool
        Refresh a built routing network afterwards (see :func:`ingest.service.load`).

    Returns
    -------
    (OsmExtract, LoadResult)

    Raises
    ------
    IngestError
        The file cannot be read, or the load failed; nothing was written.
    InterruptedAfterCommit
        A Ctrl-C arrived after the commit; the data is loaded.
    """
    from ingest import service
    from ingest.load import record_failed_run

    started_at = datetime.now(UTC)
    try:
        extract = read_osm(path, progress=progress)
    except (IngestError, KeyboardInterrupt) as exc:
        if Path(path).exists():  # a run on a file; a mistyped name is no run
            interrupted = isinstance(exc, KeyboardInterrupt)
            record_failed_run(
                url,
                source=str(Path(path).resolve()),
                sha256=None,
                started_at=started_at,
                status="interrupted" if interrupted else "failed",
                error="interrupted while reading" if interrupted else getattr(exc, "message", ""),
            )
        raise
    result = service.load(
        url,
        extract.rows,
        source=str(extract.path),
        sha256=extract.sha256,
        rejects=[r.as_dict() for r in extract.rejects],
        started_at=started_at,
        progress=progress,
        refresh=refresh_network,
    )
    return extract, result

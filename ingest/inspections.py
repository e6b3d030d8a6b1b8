"""Road inspections change road conditions: match each record to road segments, newest wins.

A record names its road by ``osm_way_id`` (every segment of that way), or by a point (the
nearest segment within the tolerance) or a line (every segment whose middle lies within the
tolerance of it). Each record stays in ``road_inspection`` (the history). A matched segment
takes the record's ``condition`` with ``condition_source = 'inspection'`` and
``inspected_at``, when the record is newer than what set the segment's condition before (an
older inspection or OpenStreetMap tags). Records that match no segment are reported.

The step runs inside the load's transaction; the routing network picks the new conditions up
through the ingest service's refresh, like any other load.
"""

from __future__ import annotations

import logging

from ingest.files import AFTER_LOAD, FileResult
from ingest.load import LoadResult

logger = logging.getLogger(__name__)

#: Metres per degree of latitude, to turn the tolerance into an index-friendly box.
_M_PER_DEG = 111_320.0

_MATCH_SQL = """
CREATE TEMP TABLE inspection_match ON COMMIT DROP AS
WITH i AS (
    SELECT id, osm_way_id, geom FROM road_inspection WHERE source = %(source)s
)
SELECT i.id AS inspection_id, s.id AS segment_id
FROM i JOIN road_segment s ON s.osm_way_id = i.osm_way_id
WHERE i.osm_way_id IS NOT NULL
UNION ALL
SELECT i.id, n.id
FROM i CROSS JOIN LATERAL (
    SELECT s.id FROM road_segment s
    WHERE s.geom && ST_Expand(i.geom, %(box_deg)s)
      AND ST_DWithin(s.geom::geography, i.geom::geography, %(tolerance_m)s)
    ORDER BY ST_Distance(s.geom::geography, i.geom::geography), s.id
    LIMIT 1
) n
WHERE i.osm_way_id IS NULL AND GeometryType(i.geom) = 'POINT'
UNION ALL
SELECT i.id, s.id
FROM i JOIN road_segment s
  ON s.geom && ST_Expand(i.geom, %(box_deg)s)
 AND ST_DWithin(
        ST_LineInterpolatePoint(s.geom, 0.5)::geography, i.geom::geography, %(tolerance_m)s
     )
WHERE i.osm_way_id IS NULL AND GeometryType(i.geom) IN ('LINESTRING', 'MULTILINESTRING')
"""

_COUNT_SQL = """
UPDATE road_inspection r SET matched = c.n
FROM (
    SELECT i.id, count(m.segment_id)::int AS n
    FROM road_inspection i LEFT JOIN inspection_match m ON m.inspection_id = i.id
    WHERE i.source = %(source)s GROUP BY i.id
) c
WHERE r.id = c.id AND r.matched IS DISTINCT FROM c.n
"""

_APPLY_SQL = """
UPDATE road_segment s
SET condition = l.condition, condition_source = 'inspection',
    inspected_at = l.inspected_at, updated_at = now()
FROM (
    SELECT DISTINCT ON (m.segment_id) m.segment_id, i.condition, i.inspected_at
    FROM inspection_match m JOIN road_inspection i ON i.id = m.inspection_id
    ORDER BY m.segment_id, i.inspected_at DESC, i.id DESC
) l
WHERE s.id = l.segment_id
  AND (s.inspected_at IS NULL OR l.inspected_at > s.inspected_at)
"""

_UNMATCHED_SQL = """
SELECT source_id, osm_way_id, GeometryType(geom) FROM road_inspection
WHERE source = %(source)s AND matched = 0 ORDER BY id
"""


def apply_inspections(
    cur, result: LoadResult, out: FileResult, source: str, tolerance_m: float
) -> None:
    """Match the inspections of ``source`` to road segments and apply the newest ones.

    Parameters
    ----------
    cur : psycopg2 cursor
        Inside the load's transaction, after the inspections were written.
    result : LoadResult
        Gets ``road_segment``'s count of changed segments.
    out : FileResult
        Gets the unmatched records.
    source : str
        The inspections' ``source``.
    tolerance_m : float
        How far (m) a point or line may be from its segment.
    """
    params = {"source": source, "tolerance_m": tolerance_m, "box_deg": tolerance_m / _M_PER_DEG * 2}
    cur.execute("DROP TABLE IF EXISTS inspection_match")
    cur.execute(_MATCH_SQL, params)
    cur.execute(_COUNT_SQL, params)
    cur.execute(_APPLY_SQL, params)
    changed = cur.rowcount
    result.total.setdefault("road_segment", 0)
    result.new.setdefault("road_segment", 0)
    result.updated["road_segment"] = changed
    result.deleted.setdefault("road_segment", 0)
    cur.execute(_UNMATCHED_SQL, params)
    for source_id, way, kind in cur.fetchall():
        if way is not None:
            why = f"no road segment has osm_way_id {way}"
        elif kind is not None:
            why = f"no road segment within {tolerance_m:g} m of its {str(kind).lower()}"
        else:
            why = "it has neither an osm_way_id nor a geometry"
        out.unmatched.append(f"inspection {source_id}: {why}")
    logger.info("inspections of %s changed %d road segments", source, changed)


AFTER_LOAD["road_inspection"] = apply_inspections

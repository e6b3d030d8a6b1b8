"""Alembic migrations go up and down, and match the models."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from gis.db import alembic_config, downgrade, get_engine, upgrade

TABLES = {
    "admin_area",
    "office",
    "waste_bin",
    "road_segment",
    "complaint",
    "complaint_reporter",
    "complaint_event",
    "ingest_run",
}


def tables(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())


def gist_indexes(url: str) -> set[str]:
    sql = text("SELECT tablename FROM pg_indexes WHERE indexdef LIKE '%USING gist (geom)%'")
    with get_engine(url).connect() as conn:
        return set(conn.execute(sql).scalars())


def test_upgrade_downgrade_upgrade(fresh_db):
    assert TABLES <= tables(fresh_db)
    downgrade(fresh_db, "base")
    get_engine(fresh_db).dispose()
    assert not (TABLES & tables(fresh_db))
    upgrade(fresh_db)
    get_engine(fresh_db).dispose()
    assert TABLES <= tables(fresh_db)
    assert gist_indexes(fresh_db) == {
        "admin_area",
        "office",
        "waste_bin",
        "road_segment",
        "complaint",
    }


def test_models_and_migrations_agree(fresh_db):
    # Raises if autogenerate would produce a new migration.
    command.check(alembic_config(fresh_db))


def test_postgis_extension_is_created(fresh_db):
    with get_engine(fresh_db).connect() as conn:
        version = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname='postgis'"))
        assert version.scalar().startswith("3.")


def test_source_and_source_id_are_unique_together(fresh_db):
    sql = text(
        "INSERT INTO waste_bin (source, source_id, kind, geom) "
        "VALUES ('t', '1', 'recycling', ST_SetSRID(ST_MakePoint(1, 2), 4326))"
    )
    with get_engine(fresh_db).begin() as conn:
        conn.execute(sql)
    import pytest
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), get_engine(fresh_db).begin() as conn:
        conn.execute(sql)

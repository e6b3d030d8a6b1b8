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
    "road_inspection",
    "road_condition_change",
    "road_condition_change_segment",
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
        "road_inspection",
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


# --- roles and privileges (migration 0003) --------------------------------------------------

WEB, STAFF = "sigap_web", "sigap_staff"
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")
#: What each role may do with each table: the documented model. A later migration that adds
#: a table grants its privileges and adds it here.
EXPECTED_PRIVILEGES: dict[str, dict[str, set[str]]] = {
    "office": {WEB: {"SELECT"}, STAFF: {"SELECT"}},
    "waste_bin": {WEB: {"SELECT"}, STAFF: {"SELECT"}},
    "road_segment": {WEB: {"SELECT"}, STAFF: {"SELECT"}},
    "admin_area": {WEB: {"SELECT"}, STAFF: {"SELECT"}},
    "complaint": {WEB: {"SELECT", "INSERT"}, STAFF: {"SELECT", "INSERT", "UPDATE"}},
    "complaint_event": {WEB: {"SELECT", "INSERT"}, STAFF: {"SELECT", "INSERT"}},
    "complaint_reporter": {WEB: set(), STAFF: {"SELECT"}},
    "ingest_run": {WEB: set(), STAFF: set()},
    "road_inspection": {WEB: set(), STAFF: {"SELECT"}},
    # migration 0006: staff change road conditions only through its SECURITY DEFINER
    # functions; the web role's routers read which segments changed
    "road_condition_change": {WEB: set(), STAFF: {"SELECT"}},
    "road_condition_change_segment": {WEB: {"SELECT"}, STAFF: {"SELECT"}},
    "alembic_version": {WEB: set(), STAFF: set()},
}


def _as(url: str, role: str) -> str:
    from web.settings import role_url

    return role_url(url, role)


def _connect(url: str):
    import psycopg2

    from gis.db import libpq_url

    return psycopg2.connect(libpq_url(url))


def test_privileges_are_the_documented_model(fresh_db):
    """Every table of the schema, every role: nothing more and nothing less than listed."""
    from tests.conftest import query

    own = {
        t
        for (t,) in query(
            fresh_db,
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'spatial_ref_sys'",
        )
    }
    assert own == set(EXPECTED_PRIVILEGES), "a new table: grant it and list it here"
    for table, roles in EXPECTED_PRIVILEGES.items():
        for role, expected in roles.items():
            got = {
                p
                for p in PRIVILEGES
                if query(fresh_db, "SELECT has_table_privilege(%s, %s, %s)", (role, table, p))[0][0]
            }
            assert got == expected, (table, role)


def test_web_role_is_denied_reporter_contact_details(fresh_db):
    import psycopg2.errors
    import pytest

    statements = [
        "SELECT * FROM complaint_reporter",
        "SELECT count(*) FROM complaint_reporter",
        "INSERT INTO complaint_reporter (complaint_id, name) VALUES (1, 'x')",
        "UPDATE complaint_reporter SET name = 'x'",
        "DELETE FROM complaint_reporter",
    ]
    conn = _connect(_as(fresh_db, WEB))
    try:
        for statement in statements:
            with pytest.raises(psycopg2.errors.InsufficientPrivilege) as info:
                with conn.cursor() as cur:
                    cur.execute(statement)
            conn.rollback()
            assert "permission denied for table complaint_reporter" in str(info.value)
    finally:
        conn.close()


def _submit(url: str, contact: tuple) -> int:
    """As the web role: one complaint and its reporter, in one transaction."""
    conn = _connect(_as(url, WEB))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                "INSERT INTO complaint (public_id, service_code, geom) VALUES"
                " (%s, 'sampah', ST_SetSRID(ST_MakePoint(106.8, -6.2), 4326)) RETURNING id",
                (f"T-{contact[0]}",),
            )
            (cid,) = cur.fetchone()
            cur.execute("SELECT add_complaint_reporter(%s, %s, %s, %s)", (cid, *contact))
        return cid
    finally:
        conn.close()


def test_web_role_stores_contact_data_it_cannot_read_and_staff_can(fresh_db):
    import psycopg2.errors
    import pytest

    from tests.conftest import query

    cid = _submit(fresh_db, ("Siti", "+62 812 0000", "siti@example.invalid"))
    rows = query(fresh_db, "SELECT name, phone, email FROM complaint_reporter")
    assert rows == [("Siti", "+62 812 0000", "siti@example.invalid")]  # the owner's view
    assert query(_as(fresh_db, STAFF), "SELECT complaint_id, name FROM complaint_reporter") == [
        (cid, "Siti")
    ]
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        query(_as(fresh_db, WEB), "SELECT name FROM complaint_reporter")
    # the web role reads the complaint itself
    assert query(_as(fresh_db, WEB), "SELECT id FROM complaint") == [(cid,)]


def test_anonymous_reports_store_no_contact_data(fresh_db):
    from tests.conftest import query

    _submit(fresh_db, (None, None, None))
    assert query(fresh_db, "SELECT count(*) FROM complaint_reporter") == [(0,)]


def test_web_role_cannot_attach_contact_data_to_an_earlier_complaint(fresh_db):
    import psycopg2.errors
    import pytest

    from tests.conftest import query

    cid = _submit(fresh_db, (None, None, None))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege, match="not created in this"):
        query(_as(fresh_db, WEB), "SELECT add_complaint_reporter(%s, 'x', NULL, NULL)", (cid,))
    assert query(fresh_db, "SELECT count(*) FROM complaint_reporter") == [(0,)]


def test_web_role_cannot_build_the_routing_network(fresh_db):
    """Building writes road_segment.cost_*_s under a table lock: the owner's work only."""
    import psycopg2.errors
    import pytest

    from tests.conftest import query

    web = _as(fresh_db, WEB)
    for statement in (
        "UPDATE road_segment SET cost_walk_s = 1",
        "LOCK TABLE road_segment IN SHARE ROW EXCLUSIVE MODE",
        "DELETE FROM office",
    ):
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            query(web, statement)


def test_migrating_again_keeps_the_roles_and_sets_a_password_from_the_environment(
    fresh_db, monkeypatch
):
    """Roles are cluster-wide: a second database's migration (or a re-run) finds them; a
    password in SIGAP_WEB_DATABASE_URL is set on the role."""
    from tests.conftest import query

    monkeypatch.setenv("SIGAP_WEB_DATABASE_URL", _as(fresh_db, WEB).replace(WEB, f"{WEB}:s3cret"))
    try:
        downgrade(fresh_db, "0002")
        assert query(fresh_db, "SELECT has_table_privilege(%s, 'office', 'SELECT')", (WEB,)) == [
            (False,)
        ]
        upgrade(fresh_db)
        get_engine(fresh_db).dispose()
        (has_password,) = query(
            fresh_db, "SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", (WEB,)
        )[0]
        assert has_password
    finally:
        query(fresh_db, f"ALTER ROLE {WEB} PASSWORD NULL")
    assert query(fresh_db, "SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", (WEB, STAFF))
    assert query(_as(fresh_db, WEB), "SELECT count(*) FROM office") == [(0,)]

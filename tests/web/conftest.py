"""Fixtures for the web layer: the app on the Helsinki database, a test client, helpers.

Every app here connects as the ``sigap_web`` role (:func:`as_web`), as ``sigap serve`` does:
the whole web test suite runs with the web role's privileges. Data is loaded and routing
networks are built as the owner, as ``sigap ingest`` and ``sigap network build`` do.

Databases this package creates are named with the process id (two pytest runs on one
server must not drop each other's databases) and are dropped, with their routing network
cache, at the end of the session.
"""

from __future__ import annotations

import os

import pytest

from tests.conftest import query
from web import create_app
from web.settings import STAFF_ROLE, WEB_ROLE, role_url


def as_web(url: str) -> str:
    """The URL of the same database for the ``sigap_web`` role."""
    return role_url(url, WEB_ROLE)


def as_staff(url: str) -> str:
    """The URL of the same database for the ``sigap_staff`` role."""
    return role_url(url, STAFF_ROLE)


def web_app(url: str, **config):
    """The app on the database at ``url`` (an owner URL), connecting as ``sigap_web``."""
    return create_app(
        {
            "DATABASE_URL": as_web(url),
            "STAFF_DATABASE_URL": as_staff(url),
            "TESTING": True,
            **config,
        }
    )


@pytest.fixture(scope="session")
def app(helsinki_db):
    return web_app(helsinki_db)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def db_rows(helsinki_db):
    """Run one SQL query directly on the Helsinki database (the independent side of a check)."""
    return lambda statement, params=None: query(helsinki_db, statement, params)


def execute(url: str, statement: str, params=None) -> None:
    """Run one statement on the database at ``url`` and commit it."""
    query(url, statement, params)


def helsinki_copy(url: str) -> str:
    """Ingest the Helsinki extract into the (empty, migrated) database at ``url``."""
    from ingest.osm import ingest_osm_file
    from tests.conftest import shared_file

    ingest_osm_file(shared_file("osm/helsinki.osm.pbf"), url, progress=False)
    return url


def forget_database(url: str) -> None:
    """Drop every handle this process keeps on ``url`` and its network cache on disk."""
    from gis.db import _engine_for
    from gis.network import drop_cache
    from gis.routing import clear_routers
    from web.db import web_engine

    clear_routers()
    for u in (url, as_web(url), as_staff(url)):
        web_engine(u).dispose()
    web_engine.cache_clear()
    _engine_for.cache_clear()
    drop_cache(url)


@pytest.fixture(scope="session")
def own_db(server_url, template_db):
    """Make session databases named ``sigap_test_web_<label>_<pid>``; drop them at the end."""
    from tests.conftest import create_database, drop_database

    made: list[tuple[str, str]] = []

    def make(label: str) -> str:
        name = f"sigap_test_web_{label}_{os.getpid()}"
        url = create_database(server_url, name, template=template_db)
        made.append((name, url))
        return url

    yield make
    for name, url in made:
        forget_database(url)
        drop_database(server_url, name)


@pytest.fixture(scope="session")
def routed_db(own_db):
    """Our own copy of Helsinki with the routing network built (the build writes costs)."""
    from gis.network import build_network

    url = helsinki_copy(own_db("routed"))
    execute(  # one kelurahan-like area for the planning map
        url,
        "INSERT INTO admin_area (source, source_id, name, admin_level, code, geom) VALUES"
        " ('test', 'area/1', 'Kelurahan Uji', 7, '31.71.01.1001',"
        " ST_Multi(ST_MakeEnvelope(24.940, 60.166, 24.948, 60.172, 4326)))",
    )
    build_network(url, progress=False)
    return url


@pytest.fixture(scope="session")
def routed_app(routed_db):
    return web_app(routed_db)


@pytest.fixture
def routed_client(routed_app):
    return routed_app.test_client()


#: Reporter contact details planted in ``pii_db``; no response may ever contain them.
PII_MARKERS: tuple[str, ...] = (
    "PII-MARKER-NAME-7f3a",
    "+62-PII-MARKER",
    "pii-marker@example.invalid",
    "PII-MARKER-DEVICE-5e2b",
)
#: A public office planted in ``pii_db`` whose text a spreadsheet would run as formulas.
HOSTILE_OFFICE: dict[str, object] = {
    "name": '=HYPERLINK("http://evil.invalid","PUBLIC-MARKER-9c1d")',
    "address": "@SUM(1+1) Jalan Uji",
    "phone": "+62 31 555 0101",
    "opening_hours": "-2+3",
    "kind": "\tclinic",
    "services": ["=cmd|' /C calc'!A0", "\rvaccination", "normal"],
}


@pytest.fixture(scope="session")
def pii_db(own_db):
    """Our own Helsinki copy plus a complaint whose reporter holds :data:`PII_MARKERS` and
    an office with :data:`HOSTILE_OFFICE` text (at a central Helsinki point), routing
    network built."""
    from gis.network import build_network

    url = helsinki_copy(own_db("pii"))
    execute(
        url,
        "WITH c AS (INSERT INTO complaint (tracking_id, token, service_code, catalogue_version,"
        " agency, state, channel, description, address, request_hash, forward_due_at,"
        " follow_up_due_at, due_at, geom) VALUES ('TEST-0001', 'token-pii', 'sampah', 't',"
        " 'dlh', 'diterima', 'web', 'Sampah menumpuk', 'Jalan Uji 1', 'h', now(), now(), now(),"
        " ST_SetSRID(ST_MakePoint(24.944, 60.169), 4326)) RETURNING id)"
        " INSERT INTO complaint_reporter (complaint_id, name, phone, email, device_id)"
        " SELECT id, %s, %s, %s, %s FROM c",
        PII_MARKERS,
    )
    o = HOSTILE_OFFICE
    execute(
        url,
        "INSERT INTO office (source, source_id, category, name, kind, address, phone,"
        " opening_hours, services, geom) VALUES ('test', 'hostile/1', 'health',"
        " %s, %s, %s, %s, %s, %s, ST_SetSRID(ST_MakePoint(24.9445, 60.1692), 4326))",
        [o["name"], o["kind"], o["address"], o["phone"], o["opening_hours"], o["services"]],
    )
    build_network(url, progress=False)  # as the owner: the web role may not build it
    return url


@pytest.fixture(scope="session")
def pii_app(pii_db):
    return web_app(pii_db)


@pytest.fixture
def pii_client(pii_app):
    return pii_app.test_client()


# --- the browser: Debian's headless Chromium through Playwright (tests/web/browser.py) ---


@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the session."""
    from playwright.sync_api import sync_playwright

    from tests.web.browser import launch_chromium

    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def browser_context(chromium):
    """A 1280 x 800 desktop, Indonesian, with "My location" allowed at ``browser.ORIGIN``."""
    from tests.web.browser import ORIGIN

    context = chromium.new_context(
        viewport={"width": 1280, "height": 800},
        geolocation={"latitude": ORIGIN[0], "longitude": ORIGIN[1]},
        permissions=["geolocation"],
        locale="id-ID",
    )
    yield context
    context.close()


@pytest.fixture(scope="session")
def device(chromium):
    """``device(size)``: a touch context of one of ``browser.SIZES`` ("phone", "tablet",
    "desktop"), made once per session; location not allowed."""
    from tests.web.browser import device_options

    made: dict = {}

    def get(size: str):
        if size not in made:
            made[size] = chromium.new_context(**device_options(size))
        return made[size]

    yield get
    for context in made.values():
        context.close()


@pytest.fixture(scope="session")
def live_server(routed_db):
    """The app on the routed Helsinki database, served on 127.0.0.1."""
    from tests.web.browser import LiveServer

    server = LiveServer(web_app(routed_db))
    yield server
    server.stop()


@pytest.fixture
def watched(browser_context):
    """A fresh page of the desktop context, its errors and requests recorded."""
    from tests.web.browser import Watched

    w = Watched(browser_context)
    yield w
    w.close()


# --- complaints (issue 9): a database with its network, staff accounts, an Open311 key ------

#: Password of every staff account of ``complaint_staff`` (role -> user name ``staff-<role>``).
STAFF_PASSWORD = "kata sandi uji 123"


@pytest.fixture(scope="session")
def complaint_db(own_db):
    """Our own Helsinki copy with the routing network built, for complaint tests (they add
    complaints; each test uses its own points, keys or markers)."""
    from gis.network import build_network

    url = helsinki_copy(own_db("complaints"))
    build_network(url, progress=False)
    return url


@pytest.fixture(scope="session")
def complaint_staff(complaint_db) -> dict[str, str]:
    """One staff account per role in ``complaint_db``: role -> user name."""
    import psycopg2

    from gis.db import libpq_url
    from layers.complaint_catalogue import STAFF_ROLES
    from services.accounts import create_user

    conn = psycopg2.connect(libpq_url(complaint_db))
    try:
        with conn, conn.cursor() as cur:
            for role in STAFF_ROLES:
                create_user(cur, f"staff-{role}", role, STAFF_PASSWORD, display_name=f"Uji {role}")
    finally:
        conn.close()
    return {role: f"staff-{role}" for role in STAFF_ROLES}


@pytest.fixture(scope="session")
def open311_key(complaint_db) -> str:
    """A live Open311 API key of ``complaint_db``."""
    import psycopg2

    from gis.db import libpq_url
    from services.accounts import create_api_key

    conn = psycopg2.connect(libpq_url(complaint_db))
    try:
        with conn, conn.cursor() as cur:
            _, key = create_api_key(cur, "test client")
    finally:
        conn.close()
    return key


@pytest.fixture(scope="session")
def complaint_app(complaint_db):
    return web_app(complaint_db)


@pytest.fixture
def complaint_client(complaint_app):
    return complaint_app.test_client()


def staff_login(client, username: str, password: str = STAFF_PASSWORD) -> str:
    """Log ``client`` in through the login form; return the CSRF token for the JSON API."""
    page = client.get("/staff/login")
    assert page.status_code == 200
    with client.session_transaction() as session:
        token = session["csrf_token"]
    import random

    # each login from its own address: the per-address login limit is not under test here
    address = f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"
    r = client.post(
        "/staff/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )
    assert r.status_code == 303, r.get_data(as_text=True)
    me = client.get("/staff/api/me")
    assert me.status_code == 200
    return me.get_json()["csrf_token"]

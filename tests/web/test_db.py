"""web/db.py: the request-scoped transaction, and what a database outage looks like.

Views that write are registered on a fresh app per test (Flask refuses new routes after the
first request). The outage is real: the app reaches PostgreSQL through a TCP relay on
loopback that the test takes down and brings back.
"""

from __future__ import annotations

import logging
import socket
import threading

import pytest
from flask import Blueprint

from gis.errors import InvalidInputError
from tests.conftest import query
from tests.web.conftest import as_staff, as_web, web_app
from web import db, errors


def _writing_app(url: str):
    """The app with a few views that write complaints through :func:`web.db.transaction`."""
    app = web_app(url)
    bp = Blueprint("t", __name__, url_prefix="/t")
    errors.register_format(bp, errors.json_error)

    def insert(public_id: str, description: str = "x") -> int:
        with db.transaction() as cur:
            cur.execute(
                "INSERT INTO complaint (tracking_id, token, service_code, catalogue_version,"
                " agency, state, channel, description, request_hash, forward_due_at,"
                " follow_up_due_at, due_at, geom) VALUES (%s, %s, 'sampah', 't', 'dlh',"
                " 'diterima', 'web', %s, 'h', now(), now(), now(),"
                " ST_SetSRID(ST_MakePoint(24.94, 60.17), 4326)) RETURNING id",
                (public_id, public_id, description),
            )
            return cur.fetchone()[0]

    @bp.post("/ok/<pid>")
    def ok(pid):
        cid = insert(pid)
        with db.transaction() as cur:  # the same transaction
            cur.execute("SELECT add_complaint_reporter(%s, 'Siti', NULL, NULL, NULL)", (cid,))
        return {"id": cid}, 201

    @bp.post("/bad/<pid>")
    def bad(pid):
        insert(pid)
        raise InvalidInputError("no", code="invalid_parameter", param="x")

    @bp.post("/crash/<pid>")
    def crash(pid):
        insert(pid)
        raise RuntimeError("boom")

    @bp.post("/refused/<pid>")
    def refused(pid):
        insert(pid)
        return {"error": "kept out"}, 409

    @bp.post("/twice/<pid>")
    def twice(pid):
        insert(pid + "a", "same")
        insert(pid + "b", "same")  # breaks a deferred constraint: the commit fails
        return {}, 201

    app.register_blueprint(bp)
    return app


def _ids(url: str) -> set[str]:
    return {p for (p,) in query(url, "SELECT tracking_id FROM complaint")}


def test_a_success_commits_and_returns_the_connection(fresh_db):
    app = _writing_app(fresh_db)
    r = app.test_client().post("/t/ok/A1")
    assert r.status_code == 201
    assert _ids(fresh_db) == {"A1"}
    cid = r.get_json()["id"]
    assert query(as_staff(fresh_db), "SELECT complaint_id, name FROM complaint_reporter") == [
        (cid, "Siti")
    ]
    assert db.web_engine(as_web(fresh_db)).pool.checkedout() == 0


@pytest.mark.parametrize(("path", "status"), [("bad", 400), ("crash", 500), ("refused", 409)])
def test_an_error_rolls_back_and_returns_the_connection(fresh_db, path, status):
    app = _writing_app(fresh_db)
    r = app.test_client().post(f"/t/{path}/B1")
    assert r.status_code == status
    assert _ids(fresh_db) == set()
    assert db.web_engine(as_web(fresh_db)).pool.checkedout() == 0


def test_a_failed_commit_is_an_error_not_a_success(fresh_db):
    query(
        fresh_db,
        "ALTER TABLE complaint ADD CONSTRAINT uq_test_description UNIQUE (description)"
        " DEFERRABLE INITIALLY DEFERRED",
    )
    app = _writing_app(fresh_db)
    r = app.test_client().post("/t/twice/C")
    assert r.status_code == 500
    assert r.get_json()["error"]["error_id"]
    assert _ids(fresh_db) == set()
    assert db.web_engine(as_web(fresh_db)).pool.checkedout() == 0


class Relay:
    """A TCP relay on loopback to the database server, which the test can take down."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = _closed_port()
        self.listener = socket.socket()
        self.conns: list[socket.socket] = []
        self.up = False

    def start(self) -> None:
        if not self.up:
            self.listener.close()
            self.listener = socket.socket()
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(("127.0.0.1", self.port))
            self.listener.listen(16)
            self.up = True
            threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                return
            server = socket.create_connection(self.target)
            self.conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self.up = False
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        except OSError:
            pass
        self.listener.close()
        for s in self.conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.conns.clear()


def test_database_outage_is_503_with_one_log_line_and_recovers(helsinki_db, caplog, monkeypatch):
    from sqlalchemy.engine import make_url

    u = make_url(helsinki_db)
    relay = Relay((u.host or "127.0.0.1", u.port or 5432))
    relay.start()
    relayed = u.set(port=relay.port).render_as_string(hide_password=False)
    app = web_app(relayed)
    client = app.test_client()
    monkeypatch.setattr(db, "RETRY_AFTER_S", 0)  # every request tries to connect again
    try:
        assert client.get("/api/layers").status_code == 200
        relay.stop()
        caplog.clear()
        with caplog.at_level(logging.INFO):
            for path in ["/api/layers", "/api/layers/office/items", "/", "/api/layers"]:
                r = client.get(path)
                assert r.status_code == 503, path
                assert r.headers["Retry-After"].isdigit()
                assert r.headers["Cache-Control"] == "no-store"
                if path.startswith("/api/"):
                    assert r.get_json()["error"]["code"] == "unavailable"
                else:
                    assert r.mimetype == "text/html"
                assert "psycopg2" not in r.get_data(as_text=True)
            down = [rec for rec in caplog.records if rec.levelno >= logging.WARNING]
            assert len(down) == 1, [rec.getMessage() for rec in down]
            assert "unavailable" in down[0].getMessage() and down[0].exc_info is None
            assert "postgres@" not in down[0].getMessage()  # no user or password in the log
            relay.start()
            caplog.clear()
            assert client.get("/api/layers").status_code == 200
            back = [rec.getMessage() for rec in caplog.records if "reachable again" in rec.msg]
            assert len(back) == 1 and "requests answered 503" in back[0]
    finally:
        relay.stop()
        db.web_engine(as_web(relayed)).dispose()


def test_no_connection_attempt_inside_the_retry_window(helsinki_db, monkeypatch):
    """While the database is down, requests within RETRY_AFTER_S get 503 at once."""
    dead = _closed_port()
    app = web_app(helsinki_db.replace(f":{_port(helsinki_db)}/", f":{dead}/"))
    client = app.test_client()
    attempts = []
    real = db.web_engine

    def counting(url):
        attempts.append(url)
        return real(url)

    monkeypatch.setattr(db, "web_engine", counting)
    first = client.get("/api/layers")
    second = client.get("/api/layers")
    assert first.status_code == second.status_code == 503
    assert len(attempts) == 1
    assert 1 <= int(second.headers["Retry-After"]) <= db.RETRY_AFTER_S


def _port(url: str) -> int:
    from sqlalchemy.engine import make_url

    return make_url(url).port or 5432


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

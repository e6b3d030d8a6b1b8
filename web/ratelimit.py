"""Rate limits in the web layer: the client's address and the shared PostgreSQL counters.

The counters live in the database (:mod:`services.ratelimit`), so a limit holds across every
gunicorn worker and every host. The limits are settings (:mod:`services.config`):

* ``SIGAP_PUBLIC_POST_LIMIT`` (default 30 per 10 min): complaints per client address through
  the public JSON API and the web form;
* ``SIGAP_OPEN311_POST_LIMIT`` (default 600 per 10 min): Open311 POSTs per API key;
* ``SIGAP_LOGIN_LIMIT`` (default 20 per 15 min): staff login attempts per client address.

Over a limit the answer is HTTP 429 with ``Retry-After`` (seconds until the window ends).
The client address is the socket's peer, or, behind ``SIGAP_PROXY_HOPS`` trusted reverse
proxies, the address those proxies put in ``X-Forwarded-For``.
"""

from __future__ import annotations

import psycopg2
from flask import request

from services import ratelimit
from services.config import Limit, get_service_settings
from web import db


def client_ip() -> str:
    """The client's address (see the module docstring)."""
    hops = get_service_settings().proxy_hops
    if hops:
        forwarded = [
            p.strip() for p in request.headers.get("X-Forwarded-For", "").split(",") if p.strip()
        ]
        if len(forwarded) >= hops:
            return forwarded[-hops][:64]
    return (request.remote_addr or "unknown")[:64]


def enforce(scope: str, client: str, limit: Limit, what: str, url: str | None = None) -> None:
    """Count this request in ``scope`` for ``client``; 429 when over ``limit``.

    The count is committed at once, so a request that fails later still counts. When the
    request has no transaction open on ``url`` yet (the count is its first statement), the
    count uses the request's own connection and commits before the request's transaction
    begins, which saves a second connection; otherwise it takes a connection of its own.
    """
    key = url or db.app_database_url()
    if db.has_transaction(key):
        conn = db.connect(key)
        try:
            ratelimit.enforce(conn, f"{scope}:{client}", limit, what)
        except psycopg2.Error:
            db.release(conn, broken=True)
            raise
        except BaseException:
            conn.close()
            raise
        conn.close()
        return
    with db.transaction(key) as cur:
        ratelimit.enforce(cur.connection, f"{scope}:{client}", limit, what)


def public_post() -> None:
    """Apply ``SIGAP_PUBLIC_POST_LIMIT`` to this request's client address."""
    limit = get_service_settings().public_post_limit
    enforce("public_post", client_ip(), limit, "complaints from this address")

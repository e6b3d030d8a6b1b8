"""Rate limits shared by every worker and host: a counter per client and window in PostgreSQL.

Each request that a limit covers increments one row of ``rate_limit_hit`` (an UNLOGGED table)
keyed by a bucket and the window's length (``public_post:203.0.113.7/600s``) and the start
of the current fixed window, in one ``INSERT ... ON CONFLICT DO UPDATE`` that returns the new
count. Every gunicorn worker and every host behind a load balancer sees the same count, which
an in-process counter cannot give. The increment runs in its own short transaction
(:func:`hit` commits), so a request that is then refused still counts, and the row lock is held
for a moment only.

Fixed windows let a client send up to twice the limit around a window boundary; that is the
documented price of one row per client. Rows of windows that ended more than a day ago are
deleted now and then by :func:`hit` itself.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from services.config import Limit
from services.errors import RateLimitedError

logger = logging.getLogger(__name__)

#: Chance that one call also deletes expired rows.
CLEANUP_CHANCE = 1 / 500
#: Longest bucket name (the column's width).
MAX_BUCKET = 160

_HIT_SQL = """
INSERT INTO rate_limit_hit AS r (bucket, window_start, hits)
VALUES (%(bucket)s, to_timestamp(floor(extract(epoch FROM now()) / %(w)s) * %(w)s), 1)
ON CONFLICT (bucket, window_start) DO UPDATE SET hits = r.hits + 1
RETURNING hits, ceil(extract(epoch FROM r.window_start + make_interval(secs => %(w)s) - now()))
"""


@dataclass(frozen=True)
class Decision:
    """The outcome of one counted request.

    Attributes
    ----------
    allowed : bool
        Whether the request is within the limit.
    hits : int
        Requests counted in this window, this one included.
    retry_after_s : int
        Seconds until the window ends.
    """

    allowed: bool
    hits: int
    retry_after_s: int


def hit(conn, bucket: str, limit: Limit) -> Decision:
    """Count one request against ``limit`` in ``bucket`` and commit.

    Parameters
    ----------
    conn : psycopg2 connection
        A connection with no transaction of the caller's open (it is committed).
    bucket : str
        ``scope:client``, e.g. ``public_post:203.0.113.7``; cut to :data:`MAX_BUCKET`.
    limit : Limit
        At most ``limit.count`` requests per ``limit.window_s`` seconds.

    Returns
    -------
    Decision
        Whether the request is allowed.
    """
    with conn.cursor() as cur:
        # A transaction that writes only an UNLOGGED table writes no WAL, so its commit does
        # not wait for a disk flush.
        # the window's length is part of the key: windows of 60 s and 600 s can start at the
        # same moment, and must not share a count
        key = f"{bucket[: MAX_BUCKET - 12]}/{limit.window_s}s"
        cur.execute(_HIT_SQL, {"bucket": key, "w": limit.window_s})
        hits, retry = cur.fetchone()
        if random.random() < CLEANUP_CHANCE:  # noqa: S311 - not security relevant
            cur.execute("DELETE FROM rate_limit_hit WHERE window_start < now() - interval '1 day'")
    conn.commit()
    return Decision(hits <= limit.count, int(hits), max(1, int(retry)))


def enforce(conn, bucket: str, limit: Limit, what: str) -> Decision:
    """Count one request like :func:`hit`, and refuse it when over the limit.

    Parameters
    ----------
    conn : psycopg2 connection
        As for :func:`hit`.
    bucket : str
        As for :func:`hit`.
    limit : Limit
        The limit.
    what : str
        What is limited, for the message (``"complaints from this address"``).

    Returns
    -------
    Decision
        The allowed decision.

    Raises
    ------
    RateLimitedError
        Over the limit: HTTP 429 with ``Retry-After``, naming the limit.
    """
    decision = hit(conn, bucket, limit)
    if not decision.allowed:
        msg = (
            f"Too many {what}: the limit is {limit.count} per {limit.window_s} s. "
            f"Try again in {decision.retry_after_s} s."
        )
        raise RateLimitedError(msg, retry_after_s=decision.retry_after_s)
    return decision

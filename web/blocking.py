"""Blocking database work of a request, run off the gevent hub.

``sigap serve`` runs gevent workers and psycopg2 is not cooperative (see :mod:`web.server`):
while a query or a commit waits, the whole worker waits. A complaint's commit waits for the
disk (about 4 ms here, ``synchronous_commit`` stays on: a 201 is durable), so with 2 workers
at most 2 commits could be in flight and the intake stalled at a few dozen per second.
:func:`call` runs such work in the hub's pool of real threads instead: psycopg2 releases the
GIL while it waits, the worker's other connections go on, and concurrent commits share a
disk flush (PostgreSQL's group commit). The request's context (``flask.g``, the request,
the request-scoped transaction of :mod:`web.db`) is carried into the thread with
:func:`contextvars.copy_context`; the greenlet waits for the result, so the context is never
used by two threads at once. Outside gevent (tests, Flask's development server) the work
runs inline.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

#: Real threads per worker for blocking work (gevent's default is 10). Each holds at most one
#: pooled connection per database (:func:`web.db.web_engine`: 8 + 10 overflow).
THREADS = 16


def _pool():
    try:
        import gevent
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a dependency
        return None
    if not monkey.is_module_patched("socket"):
        return None
    hub = gevent.get_hub()
    if gevent.getcurrent() is hub:
        return None
    pool = hub.threadpool
    if pool.maxsize < THREADS:
        pool.maxsize = THREADS
    return pool


def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in a real thread under gevent, inline otherwise.

    Exceptions propagate to the caller, so the app's error handlers answer them as usual.
    """
    pool = _pool()
    if pool is None:
        return fn(*args, **kwargs)
    ctx = contextvars.copy_context()
    ok, value = pool.apply(_capture, (ctx, functools.partial(fn, *args, **kwargs)))
    if not ok:
        raise value
    return value


def _capture(ctx: contextvars.Context, task: Callable[[], T]) -> tuple[bool, Any]:
    """Run ``task`` in ``ctx``; return its result or its exception (gevent would print the
    traceback of an exception raised in a pool thread, even an expected 400)."""
    try:
        return True, ctx.run(task)
    except BaseException as exc:  # noqa: BLE001 - re-raised in the calling greenlet
        return False, exc

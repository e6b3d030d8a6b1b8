"""Running the web app: gunicorn in production, Flask's development server with ``--debug``."""

from __future__ import annotations

import os

from web import create_app


def run_server(url: str, *, host: str, port: int, workers: int | None, debug: bool) -> None:
    """Serve the app for the database at ``url`` until interrupted.

    Parameters
    ----------
    url : str
        Database URL the app reads and writes.
    host, port : str, int
        Address to listen on.
    workers : int, optional
        Worker processes (default: one per CPU core).
    debug : bool
        Flask's development server with the debugger instead of gunicorn (never in production).
    """
    app = create_app({"DATABASE_URL": url})
    if debug:
        app.run(host=host, port=port, debug=True, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    def _warm(worker) -> None:
        from gis.routing import warm_routing

        warm_routing(url)

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or os.cpu_count() or 2)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", None)
            self.cfg.set("loglevel", "warning")
            self.cfg.set("proc_name", "sigap")
            self.cfg.set("post_worker_init", _warm)

        def load(self):
            return app

    _Gunicorn().run()

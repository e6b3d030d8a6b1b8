/* The staff complaint page (/staff/pengaduan/<ref>): its forms send JSON to the staff API
 * (/staff/api/complaints/<id>/...) with the session's CSRF token; a transition or a road
 * action reloads the page, the contact details are shown with textContent. Errors from the
 * API's 400/403/409 messages go next to the field they name. */
(function () {
  "use strict";
  function byId(id) { return document.getElementById(id); }
  /* the complaint's point on a small map of our own road tiles (no other host) */
  function miniMap() {
    var box = byId("mini-map");
    if (!box || !window.L) { return; }
    var here = [Number(box.dataset.lat), Number(box.dataset.lon)];
    var map = L.map(box, { scrollWheelZoom: false, maxZoom: 19 }).setView(here, 17);
    map.attributionControl.setPrefix("Leaflet");
    if (L.vectorGrid) {
      L.vectorGrid.protobuf("/api/roads/tiles/{z}/{x}/{y}.pbf", {
        vectorTileLayerStyles: { roads: { color: "#8a96a3", weight: 3 } },
        minZoom: 14, maxNativeZoom: 18, maxZoom: 19,
        attribution: "© OpenStreetMap contributors (ODbL)"
      }).addTo(map);
    }
    L.circleMarker(here, { radius: 10, color: "#000", weight: 4, fillColor: "#fff", fillOpacity: 1 })
      .addTo(map);
    document.body.dataset.miniMap = "1";
  }
  function init() {
    var root = byId("staff-complaint");
    if (!root) { return; }
    miniMap();
    var base = "/staff/api/complaints/" + encodeURIComponent(root.dataset.ref);
    var csrf = root.dataset.csrf;
    function call(method, path, body) {
      var init = {
        method: method, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": csrf }
      };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      return fetch(base + path, init).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (res) {
          if (!r.ok) {
            var e = new Error((res && res.error && res.error.message) || ("HTTP " + r.status));
            e.param = res && res.error && res.error.param;
            throw e;
          }
          return res;
        });
      });
    }
    function report(id, text, isError) {
      var node = byId(id);
      node.textContent = text;
      node.className = "action-result" + (isError ? " error" : "");
    }
    function fail(resultId, form) {
      return function (err) {
        var field = err.param && form.querySelector("[name='" + err.param + "']");
        if (field && window.SIGAP && SIGAP.ui) { SIGAP.ui.fieldError(field, err.message); field.focus(); }
        report(resultId, err.message, true);
        document.body.dataset.actionState = "error";
        form.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      };
    }
    function busy(form) { form.querySelectorAll("button").forEach(function (b) { b.disabled = true; }); }
    var tf = byId("transition-form");
    if (tf) {
      tf.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var target = ev.submitter && ev.submitter.value;
        if (!target) { return; }
        var body = { to_state: target, expected_state: root.dataset.state };
        ["note", "public_note", "duplicate_of"].forEach(function (n) {
          var f = byId(n);
          if (f && f.value.trim()) { body[n] = f.value; }
        });
        busy(tf);
        call("POST", "/transitions", body).then(function () {
          report("transition-result", root.dataset.msgDone, false);
          document.body.dataset.actionState = "done";
          window.location.reload();
        }, fail("transition-result", tf));
      });
    }
    var cf = byId("contact-form");
    if (cf) {
      cf.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var purpose = byId("purpose").value.trim();
        busy(cf);
        call("POST", "/contact", purpose ? { purpose: purpose } : {}).then(function (res) {
          var out = byId("contact-out");
          byId("contact-name").textContent = res.name || "—";
          byId("contact-phone").textContent = res.phone || "—";
          byId("contact-email").textContent = res.email || "—";
          out.hidden = false;
          report("contact-result", res.name || res.phone || res.email ? "" : out.dataset.none, false);
          document.body.dataset.contactState = "shown";
          cf.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
        }, fail("contact-result", cf));
      });
    }
    var rf = byId("road-form");
    if (rf) {
      rf.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var what = ev.submitter && ev.submitter.value;
        busy(rf);
        var p = what === "clear" ? call("DELETE", "/road-condition")
          : call("POST", "/road-condition", { condition: rf.querySelector("select").value });
        p.then(function () {
          report("road-result", root.dataset.msgDone, false);
          document.body.dataset.actionState = "done";
          window.location.reload();
        }, fail("road-result", rf));
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else { init(); }
})();

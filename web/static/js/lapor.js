/* The complaint form (/lapor, and the help desk's /staff/layanan): a tap on the map (or
 * "Lokasi saya") chooses the place; the service's extra attributes appear with it; open
 * reports of the same service within 50 m are shown before sending ("Sudah dilaporkan?").
 * The optional photo goes first (POST /lapor/foto), then the report as JSON with an
 * idempotency key made once per report, so a double tap or a retry stores it once.
 * Text from the server goes on the page with textContent only.
 * State for tests on body: data-lapor-state (idle, sending, done, error),
 * data-dup-state (none, shown), data-point ("lat,lon"). */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  SIGAP.pages = SIGAP.pages || {};

  function randomKey() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return "lapor-" + Array.prototype.map.call(bytes, function (b) {
      return ("0" + b.toString(16)).slice(-2);
    }).join("");
  }

  function page(M) {
    var d = M.data();
    var t = d.t;
    var cfg = d.form;
    var desk = cfg.mode === "desk";
    var services = {};
    d.catalogue.services.forEach(function (s) { services[s.code] = s; });
    var m = M.map();
    var form = document.getElementById("lapor-form");
    var select = document.getElementById("service_code");
    var attrBox = document.getElementById("service-attributes");
    var pointText = document.getElementById("point");
    var submit = document.getElementById("submit");
    var statusLine = document.getElementById("form-status");
    var photoInput = document.getElementById("photo");
    var body = document.body;
    var point = null;
    var marker = null;
    var key = randomKey();
    var photo = { file: null, ref: null };
    var dupSeq = 0;
    var busy = false;
    body.dataset.laporState = "idle";
    body.dataset.dupState = "none";

    function fmt(s, v) { return M.fmt(s, v); }
    function byId(id) { return document.getElementById(id); }
    function el(tag, cls, text) { return M.el(tag, cls, text); }

    /* --- the place --- */
    function setPoint(latlng) {
      point = L.latLng(latlng.lat, latlng.lng);
      if (marker) { marker.setLatLng(point); } else {
        marker = M.dotMarker(point, null, { size: "origin", interactive: false }).addTo(m);
      }
      var lat = point.lat.toFixed(6), lon = point.lng.toFixed(6);
      pointText.textContent = fmt(t.point_chosen, { lat: lat, lon: lon });
      body.dataset.point = lat + "," + lon;
      clearError("point");
      M.peek(t.lapor_h1, fmt(t.point_chosen, { lat: lat, lon: lon }), "answer");
      checkDuplicates();
    }
    m.on("click", function (e) {
      setPoint(e.latlng);
      if (SIGAP.ui && SIGAP.ui.sheet && SIGAP.ui.sheet.isOverlay && SIGAP.ui.sheet.isOverlay()) {
        SIGAP.ui.sheet.expand();
      }
    });
    function locate() { M.locate(function (latlng) { setPoint(latlng); m.setView(latlng, 18); }); }
    document.getElementById("locate").addEventListener("click", locate);
    M.addLocateControl(locate);

    /* --- the service and its extra attributes (an Open311 service definition) --- */
    function attributeField(a) {
      var id = "attr-" + a.code;
      var wrap = el("div", "field");
      var input;
      if (a.datatype === "multivaluelist") {
        wrap = el("fieldset", "field");
        wrap.id = id + "-group";
        wrap.appendChild(el("legend", null, a.description));
        a.values.forEach(function (v, i) {
          var lab = el("label", "choice");
          var box = el("input");
          box.type = "checkbox"; box.name = id; box.value = v.key;
          if (i === 0) { box.id = id; box.dataset.param = "attribute[" + a.code + "]"; }
          box.setAttribute("aria-describedby", id + "-error");
          lab.appendChild(box);
          lab.appendChild(document.createTextNode(" " + v.name));
          wrap.appendChild(lab);
        });
      } else {
        var label = el("label", null, a.description);
        label.htmlFor = id;
        if (!a.required) { label.appendChild(document.createTextNode(" ")); }
        wrap.appendChild(label);
        if (a.datatype === "singlevaluelist") {
          input = el("select");
          input.appendChild(el("option", null, "—")).value = "";
          a.values.forEach(function (v) {
            var o = el("option", null, v.name); o.value = v.key; input.appendChild(o);
          });
        } else if (a.datatype === "text") {
          input = el("textarea");
        } else {
          input = el("input");
          input.type = a.datatype === "number" ? "number" : "text";
          if (a.datatype === "number") { input.inputMode = "decimal"; input.step = "any"; }
        }
        input.id = id; input.name = id;
        input.dataset.param = "attribute[" + a.code + "]";
        input.setAttribute("aria-describedby", id + "-error");
        if (a.required) { input.required = true; }
        wrap.appendChild(input);
      }
      var err = el("p", "field-error"); err.id = id + "-error";
      wrap.appendChild(err);
      return wrap;
    }
    function showService() {
      var s = services[select.value];
      attrBox.textContent = "";
      document.getElementById("service-description").textContent = s ? s.description : "";
      if (s) { s.attributes.forEach(function (a) { attrBox.appendChild(attributeField(a)); }); }
      clearError("service_code");
      checkDuplicates();
    }
    select.addEventListener("change", showService);

    /* --- the duplicate hint --- */
    function checkDuplicates() {
      var box = document.getElementById("duplicates");
      var list = document.getElementById("duplicate-list");
      var mine = ++dupSeq;
      if (!point || !select.value) {
        box.hidden = true; body.dataset.dupState = "none"; return;
      }
      var url = cfg.nearby + "?" + new URLSearchParams({
        lat: point.lat.toFixed(6), lon: point.lng.toFixed(6), service_code: select.value
      }).toString();
      body.dataset.dupState = "loading";
      M.getJSON(url).then(function (res) {
        if (mine !== dupSeq) { return; }
        list.textContent = "";
        (res.complaints || []).forEach(function (c) {
          var li = el("li");
          var a = el("a", null, c.tracking_id);
          a.href = cfg.status + encodeURIComponent(c.tracking_id);
          li.appendChild(a);
          li.appendChild(el("span", "dup-distance", fmt(t.dup_distance, { n: Math.round(c.distance_m) })));
          if (c.description) { li.appendChild(el("span", "dup-text", c.description.slice(0, 140))); }
          list.appendChild(li);
        });
        box.hidden = !list.children.length;
        body.dataset.dupState = list.children.length ? "shown" : "none";
      }).catch(function () {
        if (mine !== dupSeq) { return; }
        box.hidden = true; body.dataset.dupState = "none";
      });
    }

    /* --- errors --- */
    /* the element an API error's param names: data-param lists the params of an input
       whose id is not the param itself (the point: lat, lon; an attribute: attribute[x]) */
    function fieldFor(param) {
      if (!param) { return null; }
      var found = null;
      form.querySelectorAll("[data-param]").forEach(function (n) {
        if (!found && n.dataset.param.split(" ").indexOf(param) >= 0) { found = n.id; }
      });
      return found || (document.getElementById(param) ? param : null);
    }
    function clearError(id) {
      var node = document.getElementById(id);
      if (node && SIGAP.ui) { SIGAP.ui.clearFieldError(node); }
    }
    function clearErrors() {
      form.querySelectorAll("[aria-invalid]").forEach(function (n) { SIGAP.ui.clearFieldError(n); });
      form.querySelectorAll(".field-error").forEach(function (n) { n.textContent = ""; });
      document.getElementById("lapor-summary").hidden = true;
      statusLine.textContent = "";
    }
    function showErrors(list) {
      var summary = document.getElementById("lapor-summary");
      var ul = document.getElementById("lapor-summary-list");
      ul.textContent = "";
      list.forEach(function (e) {
        var node = e.id && document.getElementById(e.id);
        if (node) { SIGAP.ui.fieldError(node, e.message); }
        var li = el("li");
        var a = el("a", null, e.message);
        a.href = "#" + (e.id || "lapor-form");
        li.appendChild(a);
        ul.appendChild(li);
      });
      summary.hidden = false;
      if (SIGAP.ui.sheet && SIGAP.ui.sheet.isOverlay && SIGAP.ui.sheet.isOverlay()) {
        SIGAP.ui.sheet.expand();
      }
      summary.focus();
      body.dataset.laporState = "error";
    }
    function httpError(status, res, where) {
      var err = res && res.error;
      if (status === 0) { return [{ id: null, message: t.err_network }]; }
      if (status === 413) { return [{ id: "photo", message: t.err_photo_large }]; }
      if (status === 429) {
        return [{ id: null, message: fmt(t.err_too_many, { n: 10 }) }];
      }
      if (err && err.message && (status === 400 || status === 409 || status === 422)) {
        return [{ id: fieldFor(err.param) || (where === "photo" ? "photo" : null), message: err.message }];
      }
      return [{ id: null, message: t.err_generic }];
    }

    /* --- sending --- */
    function collect() {
      var out = {
        service_code: select.value,
        description: byId("description").value,
        anonim: byId("anonim").checked,
        rahasia: byId("rahasia").checked,
        attributes: {}
      };
      if (point) { out.lat = Number(point.lat.toFixed(7)); out.lon = Number(point.lng.toFixed(7)); }
      /* the optional text fields: data-field names the API's field */
      form.querySelectorAll("[data-field]").forEach(function (n) {
        if (n.value.trim()) { out[n.dataset.field] = n.value; }
      });
      var s = services[select.value];
      (s ? s.attributes : []).forEach(function (a) {
        var id = "attr-" + a.code;
        if (a.datatype === "multivaluelist") {
          var vals = [];
          form.querySelectorAll("input[name='" + id + "']:checked").forEach(function (b) { vals.push(b.value); });
          if (vals.length) { out.attributes[a.code] = vals; }
        } else {
          var v = document.getElementById(id).value;
          if (v !== "") { out.attributes[a.code] = a.datatype === "number" ? Number(v) : v; }
        }
      });
      if (desk) { out.channel = form.querySelector("input[name=channel]:checked").value; }
      return out;
    }
    function check(data) {
      var errs = [];
      if (!point) { errs.push({ id: "point", message: t.err_point }); }
      if (!data.service_code) { errs.push({ id: "service_code", message: t.err_service }); }
      if (!data.description.trim()) { errs.push({ id: "description", message: t.err_description }); }
      return errs;
    }
    function send(url, init) {
      return fetch(url, init).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (res) {
          if (!r.ok) { var e = new Error("http " + r.status); e.status = r.status; e.body = res; throw e; }
          return res;
        });
      }, function () { var e = new Error("network"); e.status = 0; throw e; });
    }
    /* A large photo is shrunk in the phone first (at most MAX_SIDE px, JPEG): a 12-megapixel
       photo of 2 to 5 MB becomes about 0.3 MB, which a slow connection sends in seconds, and
       the server has less to decode. The server cleans it anyway. Any failure: the original. */
    var MAX_SIDE = 1600;
    function shrink(file) {
      if (!window.createImageBitmap || !/^image\/(jpeg|png)$/.test(file.type)) {
        return Promise.resolve(file);
      }
      return createImageBitmap(file, { imageOrientation: "from-image" }).then(function (bmp) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
        if (scale === 1 && file.size <= 1024 * 1024) { bmp.close(); return file; }
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(bmp.width * scale);
        canvas.height = Math.round(bmp.height * scale);
        canvas.getContext("2d").drawImage(bmp, 0, 0, canvas.width, canvas.height);
        bmp.close();
        return new Promise(function (resolve) {
          canvas.toBlob(function (blob) {
            resolve(blob && blob.size < file.size ? blob : file);
          }, "image/jpeg", 0.85);
        });
      }).catch(function () { return file; });
    }
    function uploadPhoto() {
      var file = photoInput && photoInput.files && photoInput.files[0];
      if (!file) { photo = { file: null, ref: null }; return Promise.resolve(null); }
      if (photo.file === file && photo.ref) { return Promise.resolve(photo.ref); }
      statusLine.textContent = t.uploading;
      return shrink(file).then(function (sent) {
        body.dataset.photoBytes = String(sent.size);
        return sendPhoto(file, sent);
      });
    }
    function sendPhoto(file, sent) {
      if (sent.size > 5 * 1024 * 1024) {
        var e = new Error("too large"); e.status = 413; e.where = "photo"; return Promise.reject(e);
      }
      var fd = new FormData();
      fd.append("photo", sent, "photo.jpg");
      return send(cfg.photo, {
        method: "POST", body: fd, credentials: "same-origin",
        headers: { "X-CSRF-Token": cfg.csrf, "Accept": "application/json" }
      }).then(function (res) {
        photo = { file: file, ref: res.photo_ref };
        return res.photo_ref;
      }, function (err) { err.where = "photo"; throw err; });
    }
    function done(res) {
      var id = res.tracking_id;
      form.hidden = true;
      var box = document.getElementById("lapor-done");
      document.getElementById("tracking-id").textContent = id;
      document.getElementById("status-link").href = cfg.status + encodeURIComponent(id);
      box.hidden = false;
      M.peek(t.done_title, id, "answer");
      if (SIGAP.ui.sheet && SIGAP.ui.sheet.isOverlay && SIGAP.ui.sheet.isOverlay()) {
        SIGAP.ui.sheet.expand();
      }
      box.focus();
      body.dataset.trackingId = id;
      body.dataset.laporState = "done";
      key = randomKey();
    }
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      if (busy) { return; }  /* a double tap sends once; a retry reuses the key anyway */
      clearErrors();
      var data = collect();
      var errs = check(data);
      if (errs.length) { showErrors(errs); return; }
      busy = true;
      submit.disabled = true;
      body.dataset.laporState = "sending";
      (desk ? Promise.resolve(null) : uploadPhoto()).then(function (ref) {
        if (ref) { data.photo_ref = ref; }
        statusLine.textContent = t.sending;
        return send(cfg.post, {
          method: "POST", credentials: "same-origin", body: JSON.stringify(data),
          headers: {
            "Content-Type": "application/json", "Accept": "application/json",
            "Idempotency-Key": key, "X-CSRF-Token": cfg.csrf
          }
        });
      }).then(function (res) {
        statusLine.textContent = "";
        done(res);
      }).catch(function (err) {
        statusLine.textContent = "";
        if (err.status === 409) { key = randomKey(); }
        showErrors(httpError(err.status, err.body, err.where));
      }).then(function () {
        busy = false;
        submit.disabled = false;
      });
    });
    if (photoInput) { photoInput.addEventListener("change", function () { clearError("photo"); }); }
    byId("description").addEventListener("input", function () { clearError("description"); });

    /* --- the tracking id: copy --- */
    document.getElementById("copy-id").addEventListener("click", function () {
      var id = document.getElementById("tracking-id").textContent;
      var button = this;
      function copied() { button.textContent = t.copied; body.dataset.copied = id; }
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(id).then(copied, function () { selectId(); });
      } else { selectId(); }
      function selectId() {
        var range = document.createRange();
        range.selectNodeContents(document.getElementById("tracking-id"));
        var sel = window.getSelection();
        sel.removeAllRanges(); sel.addRange(range);
      }
    });
  }
  SIGAP.pages.lapor = page;
  SIGAP.pages.helpdesk = page;
})();

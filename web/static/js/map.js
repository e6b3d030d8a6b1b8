/* SIGAP map pages, the shared core. Data arrives in one JSON blob (#sigap-data) or from the
 * API; every text from the database is put on the page with textContent, never as HTML.
 * Each page adds its own small script (js/<page>.js) that registers
 * SIGAP.pages[<page>] = function (M) {...}; it runs on DOMContentLoaded with M = SIGAP.map.
 * Names a page may use: docs/ui.md. */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  SIGAP.pages = SIGAP.pages || {};
  /* the width of the desktop layout, as in sigap.css and ui.js (read here before ui.js runs) */
  var DESKTOP_QUERY = "(min-width: 1024px)";
  function isDesktop() { return Boolean(window.matchMedia && window.matchMedia(DESKTOP_QUERY).matches); }

  var blob = null;
  function data() {
    if (blob === null) {
      var node = document.getElementById("sigap-data");
      blob = node ? JSON.parse(node.textContent) : {};
    }
    return blob;
  }
  function S(key) { return (data().strings || {})[key] || key; }
  function fmt(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (m, k) { return String(values[k]); });
  }
  function decimal(n, digits) {
    var s = n.toFixed(digits);
    return data().lang === "en" ? s : s.replace(".", ",");
  }
  function modeText(mode) { return (data().strings || {})["mode_" + mode] || mode; }
  /* "12 menit dengan motor, 4,3 km" / "12 min by motorcycle, 4.3 km" */
  function tripText(travelTimeS, distanceM, mode) {
    var min = Math.max(1, Math.round(travelTimeS / 60));
    var time = min < 60 ? fmt(S("minutes"), { n: min })
      : fmt(S("hours_minutes"), { h: Math.floor(min / 60), m: min % 60 });
    var dist = distanceM < 1000 ? fmt(S("meters"), { n: String(Math.round(distanceM / 10) * 10) })
      : fmt(S("km"), { n: decimal(distanceM / 1000, 1) });
    return fmt(S("trip"), { time: time, mode: modeText(mode), dist: dist });
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  /* A popup: a title and label/value rows, all as text. */
  function popupContent(title, rows) {
    var root = el("div", "popup");
    root.appendChild(el("h3", null, title || S("name_missing")));
    var dl = el("dl");
    rows.forEach(function (row) {
      if (row[1] === null || row[1] === undefined || row[1] === "") { return; }
      dl.appendChild(el("dt", null, row[0]));
      dl.appendChild(el("dd", null, row[1]));
    });
    root.appendChild(dl);
    return root;
  }
  function tooltipContent(text) { return el("span", null, text || S("name_missing")); }
  function layer(name) { return window[name]; }
  function map() { return layer(data().names.map); }

  /* --- markers: a visible dot inside a 44 x 44 px hit area (a DOM element, so it can take
   * the keyboard focus and has a name for screen readers) --- */
  var MARKER_PX = 44;
  var NamedIcon = null;
  /* a divIcon whose element carries an aria-label (Leaflet gives it role=button) */
  function namedIcon(options) {
    if (!NamedIcon) {
      NamedIcon = L.DivIcon.extend({
        createIcon: function (old) {
          var div = L.DivIcon.prototype.createIcon.call(this, old);
          if (this.options.label) { div.setAttribute("aria-label", this.options.label); }
          return div;
        }
      });
    }
    return new NamedIcon(options);
  }
  function dotMarker(latlng, color, opts) {
    opts = opts || {};
    var pin = el("span", "pin");
    if (color) { pin.style.background = color; }
    var interactive = opts.interactive !== false;
    var marker = L.marker(latlng, {
      icon: namedIcon({
        className: "sigap-marker" + (opts.size ? " marker-" + opts.size : ""),
        html: pin,
        iconSize: [MARKER_PX, MARKER_PX],
        label: opts.label
      }),
      interactive: interactive,
      keyboard: interactive,
      zIndexOffset: opts.zIndexOffset || 0
    });
    marker.options.sigapColor = color;
    return marker;
  }
  /* MarkerCluster's iconCreateFunction: a 44 px circle in the colour of its markers */
  function clusterIcon(cluster) {
    var children = cluster.getAllChildMarkers();
    var color = (children[0] && children[0].options.sigapColor) || "#455a64";
    var n = cluster.getChildCount();
    var span = el("span", null, n);
    span.style.background = color;
    span.setAttribute("aria-hidden", "true");
    return namedIcon({ className: "sigap-cluster", html: span, iconSize: [MARKER_PX, MARKER_PX],
      label: fmt(S("cluster"), { n: n }) });
  }

  /* --- layers, described by the registry (d.layers[name]: fields, popup, classes, colors) --- */
  function spec(name) { return (data().layers || {})[name] || { fields: {}, popup: [], classes: {}, colors: {} }; }
  function classLabel(sp, value) { return (sp.classes && sp.classes[value]) || value; }
  function formatValue(sp, name, value) {
    if (value === null || value === undefined || value === "") { return null; }
    if (name === sp.classField) { return classLabel(sp, value); }
    var type = (sp.fields[name] || {}).type;
    if (type === "array") { return value.length ? value.join(", ") : null; }
    if (type === "boolean") { return S(value ? "yes" : "no"); }
    if (type === "number") { return typeof value === "number" ? decimal(value, value % 1 ? 2 : 0) : value; }
    if (type === "datetime") {
      var t = new Date(value);
      return isNaN(t.getTime()) ? value : t.toLocaleDateString(data().lang === "en" ? "en-GB" : "id-ID");
    }
    return value;
  }
  /* The title of a feature: its first popup field, else its class. */
  function featureTitle(layerName, props) {
    var sp = spec(layerName);
    var first = sp.popup[0];
    var title = first ? formatValue(sp, first, props[first]) : null;
    return title || (sp.classField ? classLabel(sp, props[sp.classField]) : null);
  }
  /* A popup from the registry: the title, then the class, then the other popup fields. */
  function featurePopup(layerName, props) {
    var sp = spec(layerName);
    var names = sp.popup.slice(1);
    if (sp.classField && names.indexOf(sp.classField) < 0 && sp.popup[0] !== sp.classField) {
      names.unshift(sp.classField);
    }
    var rows = [];
    names.forEach(function (n) {
      var value = props[n];
      if ((sp.fields[n] || {}).type === "object") {
        /* a file's other columns (attributes): one row each, under the file's own names */
        if (typeof value === "string") { try { value = JSON.parse(value); } catch (e) { value = null; } }
        Object.keys(value || {}).forEach(function (k) { rows.push([k, value[k]]); });
        return;
      }
      rows.push([(sp.fields[n] || {}).label || n, formatValue(sp, n, value)]);
    });
    return popupContent(featureTitle(layerName, props), rows);
  }
  function classOf(layerName, item) { return item[spec(layerName).classField]; }
  /* A feature of a point layer as a marker with its popup, tooltip and name. */
  function layerMarker(layerName, item, size) {
    var sp = spec(layerName);
    var title = featureTitle(layerName, item) || S("name_missing");
    var m = dotMarker([item.lat, item.lon], sp.colors[classOf(layerName, item)] || "#333",
      { size: size, label: title });
    m.bindPopup(featurePopup(layerName, item));
    m.bindTooltip(tooltipContent(title), { direction: "top", offset: [0, -14] });
    m.options.sigapId = item.id;
    return m;
  }

  /* --- the answer: in the panel's #result (desktop) and in the sheet's peek (below 1024 px) --- */
  function setResult(nodes, isError) {
    var box = document.getElementById("result");
    if (!box) { return; }
    box.className = "result" + (isError ? " error" : "");
    box.textContent = "";
    nodes.forEach(function (n) { box.appendChild(typeof n === "string" ? el("p", null, n) : n); });
  }
  function peek(main, sub, kind) {
    if (SIGAP.ui && SIGAP.ui.sheet) { SIGAP.ui.sheet.peek(main, sub, kind); }
  }
  /* a message for both places: an error, or a state such as "searching" */
  function say(text, isError) {
    setResult([text], isError);
    peek(text, "", isError ? "error" : undefined);
  }
  function errorText(status, body) {
    var code = body && body.error ? body.error.code : null;
    if (code === "no_facilities") { return S("error_no_facilities"); }
    if (status === 0) { return S("error_network"); }
    if (status === 422) { return S("error_off_network"); }
    if (status === 400) { return S("error_input"); }
    if (status === 404) { return S("error_not_found"); }
    return S("error_generic");
  }
  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" } }).then(function (r) {
      return r.json().catch(function () { return null; }).then(function (body) {
        if (!r.ok) { var e = new Error("http " + r.status); e.status = r.status; e.body = body; throw e; }
        return body;
      });
    }, function () { var e = new Error("network"); e.status = 0; throw e; });
  }
  function checkedMode() {
    var r = document.querySelector("input[name=mode]:checked");
    return r ? r.value : "walk";
  }
  /* The sheet's summary before any answer: "<chosen option> · <travel mode>", and the hint
   * how to start, as the page rendered it (peek_sub). */
  function choiceText(select) {
    var opt = select.options[select.selectedIndex];
    return (opt ? opt.text : "") + " · " + ((data().modes || {})[checkedMode()] || "");
  }
  var firstHint = null;
  function startHint() {
    if (firstHint === null) {
      var node = document.querySelector("#sheet-peek .peek-sub");
      firstHint = node ? node.textContent : "";
    }
    return firstHint;
  }
  function sheetExpandedOverMap() {
    var sheet = SIGAP.ui && SIGAP.ui.sheet;
    return Boolean(sheet && sheet.isOverlay() && sheet.isExpanded());
  }
  function collapseSheet() {
    if (sheetExpandedOverMap()) { SIGAP.ui.sheet.collapse(); }
  }

  /* Fit ``bounds`` into the part of the map that the sheet and the top controls leave free. */
  var FIT_PAD_PX = 32;
  var TOP_CONTROLS_PX = 60;
  function fitVisible(bounds, maxZoom) {
    if (!bounds || !bounds.isValid()) { return; }
    var m = map();
    var box = m.getContainer().getBoundingClientRect();
    var bottom = FIT_PAD_PX;
    var sheet = SIGAP.ui && SIGAP.ui.sheet;
    if (sheet && sheet.isOverlay()) {
      var top = sheet.element.getBoundingClientRect().top;
      bottom += Math.max(0, box.bottom - top);
    }
    var room = box.height - TOP_CONTROLS_PX - bottom;
    if (room < 80) { bottom = Math.max(FIT_PAD_PX, box.height - TOP_CONTROLS_PX - 80); }
    m.fitBounds(bounds, {
      paddingTopLeft: [FIT_PAD_PX, TOP_CONTROLS_PX],
      paddingBottomRight: [FIT_PAD_PX, bottom],
      maxZoom: maxZoom || 17,
      animate: false
    });
  }

  /* --- "My location": the browser's position, or a clear message why there is none --- */
  var LOCATE_TIMEOUT_MS = 15000;
  function locate(onPosition) {
    if (!navigator.geolocation) { say(S("geolocation_unavailable"), true); return; }
    if (window.isSecureContext === false) { say(S("geolocation_insecure"), true); return; }
    say(S("geolocation_locating"), false);
    document.body.dataset.locateState = "locating";
    navigator.geolocation.getCurrentPosition(function (pos) {
      document.body.dataset.locateState = "found";
      onPosition(L.latLng(pos.coords.latitude, pos.coords.longitude));
    }, function (err) {
      var key = err && err.code === 1 ? "geolocation_denied"
        : err && err.code === 3 ? "geolocation_timeout" : "geolocation_no_fix";
      document.body.dataset.locateState = key;
      say(S(key), true);
    }, { enableHighAccuracy: true, timeout: LOCATE_TIMEOUT_MS, maximumAge: 60000 });
  }
  /* a "My location" button on the map, under the zoom buttons */
  function addLocateControl(onClick) {
    var Control = L.Control.extend({
      options: { position: "topleft" },
      onAdd: function () {
        var bar = L.DomUtil.create("div", "leaflet-bar leaflet-control sigap-locate");
        var a = L.DomUtil.create("a", "", bar);
        a.href = "#";
        a.setAttribute("role", "button");
        a.setAttribute("aria-label", S("my_location"));
        a.title = S("my_location");
        a.appendChild(el("span", "crosshair"));
        L.DomEvent.disableClickPropagation(bar);
        L.DomEvent.on(a, "click", function (e) { L.DomEvent.preventDefault(e); onClick(); });
        return bar;
      }
    });
    return new Control().addTo(map());
  }

  /* Load the script at ``url`` (once) after the page's load event, and run ``fn`` when it
   * has run; at once if ``isReady()`` is already true. For what the first paint need not
   * wait for: mapbuild.py loads Leaflet.VectorGrid (the road layer) so. */
  var loading = {};
  function loadScript(url, isReady, fn) {
    if (isReady()) { fn(); return; }
    var s = loading[url];
    if (!s) {
      s = loading[url] = document.createElement("script");
      s.src = url;
      var add = function () { document.head.appendChild(s); };
      if (document.readyState === "complete") { add(); }
      else { window.addEventListener("load", add); }
    }
    s.addEventListener("load", function () { if (isReady()) { fn(); } });
  }

  /* --- road styles, used by the vector-tile layer while tiles render --- */
  function roadClass(highway) {
    var groups = data().roadStyle || {};
    for (var key in groups) {
      if (groups[key].indexOf(highway) >= 0) { return key; }
    }
    return "minor";
  }
  function roadWeight(cls, zoom) {
    var base = cls === "major" ? 4 : (cls === "foot" ? 1.2 : 2.5);
    return zoom >= 16 ? base * 1.5 : base;
  }
  function roadBaseStyle(props, zoom) {
    var cls = roadClass(props.highway);
    return { color: cls === "major" ? "#8a8f98" : "#b3b8bf", weight: roadWeight(cls, zoom),
      opacity: 0.9, dashArray: cls === "foot" ? "3 3" : null };
  }
  function roadConditionStyle(props, zoom) {
    var sp = spec(data().roadLayer);
    return { color: sp.colors[props[sp.classField]] || "#9e9e9e",
      weight: roadWeight(roadClass(props.highway), zoom) + 1, opacity: 0.95 };
  }

  /* Leaflet's own control labels in the page's language */
  function localizeControls() {
    var c = map().getContainer();
    [["zoom-in", S("zoom_in")], ["zoom-out", S("zoom_out")]].forEach(function (p) {
      var a = c.querySelector(".leaflet-control-" + p[0]);
      if (a) { a.title = p[1]; a.setAttribute("aria-label", p[1]); }
    });
    var toggle = c.querySelector(".leaflet-control-layers-toggle");
    if (toggle) { toggle.title = S("layers"); toggle.setAttribute("aria-label", S("layers")); }
    map().on("popupopen", function (e) {
      var close = e.popup.getElement() && e.popup.getElement().querySelector(".leaflet-popup-close-button");
      if (close) { close.setAttribute("aria-label", S("close")); close.title = S("close"); }
    });
  }

  function init() {
    var page = data().page;
    /* plain-text credit: the page links to no outside host */
    map().attributionControl.setPrefix("Leaflet");
    localizeControls();
    if (SIGAP.pages[page]) { SIGAP.pages[page](SIGAP.map); }
    document.body.dataset.ready = "1";
  }

  SIGAP.map = {
    data: data, S: S, fmt: fmt, decimal: decimal, el: el, layer: layer, map: map,
    tripText: tripText, modeText: modeText, popupContent: popupContent,
    tooltipContent: tooltipContent, dotMarker: dotMarker, clusterIcon: clusterIcon,
    spec: spec, classOf: classOf, featureTitle: featureTitle, featurePopup: featurePopup,
    layerMarker: layerMarker, setResult: setResult, peek: peek, say: say, errorText: errorText,
    getJSON: getJSON, checkedMode: checkedMode, choiceText: choiceText, startHint: startHint,
    fitVisible: fitVisible,
    collapseSheet: collapseSheet, locate: locate, addLocateControl: addLocateControl,
    loadScript: loadScript,
    /* read by folium's script when it builds the layer control (mapbuild.finish) */
    layersCollapsed: function () { return !isDesktop(); }
  };
  /* referenced by name from folium's script (mapbuild.py) */
  SIGAP.roadBaseStyle = roadBaseStyle;
  SIGAP.roadConditionStyle = roadConditionStyle;
  SIGAP.clusterIcon = clusterIcon;
  SIGAP.tripText = tripText;
  SIGAP.popupContent = popupContent;
  document.addEventListener("DOMContentLoaded", init);
})();

/* SIGAP map pages. Data arrives in one JSON blob (#sigap-data) or from the API; every
 * text from the database is put on the page with textContent, never as HTML. */
(function () {
  "use strict";
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
  /* "12 menit dengan motor, 4,3 km" / "12 min by motorcycle, 4.3 km" */
  function tripText(travelTimeS, distanceM, mode) {
    var min = Math.max(1, Math.round(travelTimeS / 60));
    var time = min < 60 ? fmt(S("minutes"), { n: min })
      : fmt(S("hours_minutes"), { h: Math.floor(min / 60), m: min % 60 });
    var dist = distanceM < 1000 ? fmt(S("meters"), { n: String(Math.round(distanceM / 10) * 10) })
      : fmt(S("km"), { n: decimal(distanceM / 1000, 1) });
    var modeText = (data().strings || {})["mode_" + mode] || mode;
    return fmt(S("trip"), { time: time, mode: modeText, dist: dist });
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

  function pointMarker(item, color) {
    return L.circleMarker([item.lat, item.lon], {
      radius: 9, color: "#ffffff", weight: 2, fillColor: color || "#333", fillOpacity: 0.95
    });
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
  function layerMarker(layerName, item) {
    var sp = spec(layerName);
    var m = pointMarker(item, sp.colors[item[sp.classField]]);
    m.bindPopup(featurePopup(layerName, item));
    m.bindTooltip(tooltipContent(featureTitle(layerName, item)));
    m.options.sigapId = item.id;
    return m;
  }
  function classOf(layerName, item) { return item[spec(layerName).classField]; }
  function setResult(nodes, isError) {
    var box = document.getElementById("result");
    if (!box) { return; }
    box.className = "result" + (isError ? " error" : "");
    box.textContent = "";
    nodes.forEach(function (n) { box.appendChild(typeof n === "string" ? el("p", null, n) : n); });
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

  /* --- pages --- */
  function initCitizen() {
    var d = data();
    var mk = d.markers;
    mk.items.forEach(function (o) {
      var cluster = layer(d.names.clusters[classOf(mk.layer, o)]);
      if (cluster) { cluster.addLayer(layerMarker(mk.layer, o)); }
    });
    var m = map();
    var routeLayer = L.layerGroup().addTo(m);
    var origin = null;
    var seq = 0;
    function search() {
      if (!origin) { return; }
      var category = document.getElementById("category").value;
      var mode = checkedMode();
      var mine = ++seq;
      routeLayer.clearLayers();
      L.circleMarker(origin, { radius: 8, color: "#000", weight: 3, fillColor: "#fff", fillOpacity: 1 })
        .bindTooltip(tooltipContent(S("origin"))).addTo(routeLayer);
      setResult([S("searching")]);
      document.body.dataset.routeState = "loading";
      var url = "/api/nearest?" + new URLSearchParams({
        lat: origin.lat.toFixed(6), lon: origin.lng.toFixed(6), category: category, mode: mode, k: "1"
      }).toString();
      getJSON(url).then(function (res) {
        if (mine !== seq) { return; }
        if (res.unreachable || !res.results || !res.results.length) {
          setResult([S("unreachable")], true);
          document.body.dataset.routeState = "unreachable";
          return;
        }
        var best = res.results[0];
        var line = L.geoJSON(best.route, { style: { color: "#0b4f6c", weight: 6, opacity: 0.85 } });
        line.addTo(routeLayer);
        var f = best.facility;
        /* dashed links: from the clicked point to the road, from the road to the office */
        var coords = (best.route && best.route.coordinates) || [];
        var dashed = { color: "#0b4f6c", weight: 3, opacity: 0.8, dashArray: "6 6" };
        if (coords.length) {
          L.polyline([origin, [coords[0][1], coords[0][0]]], dashed).addTo(routeLayer);
          var last = coords[coords.length - 1];
          L.polyline([[last[1], last[0]], [f.lat, f.lon]], dashed).addTo(routeLayer);
        }
        pointMarker(f, "#ffd600").setRadius(12).bindTooltip(tooltipContent(f.name)).addTo(routeLayer);
        var trip = el("p", "trip", tripText(best.travel_time_s, best.distance_m, res.mode));
        setResult([el("p", null, S("nearest_is")), el("p", "facility-name", f.name || S("name_missing")), trip]);
        var bounds = line.getBounds().extend(origin);
        if (bounds.isValid()) { m.fitBounds(bounds, { padding: [40, 40], maxZoom: 17, animate: false }); }
        document.body.dataset.routeState = "done";
      }).catch(function (err) {
        if (mine !== seq) { return; }
        setResult([errorText(err.status, err.body)], true);
        document.body.dataset.routeState = "error";
      });
    }
    m.on("click", function (e) { origin = e.latlng; search(); });
    document.getElementById("category").addEventListener("change", search);
    document.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", search); });
    document.getElementById("locate").addEventListener("click", function () {
      if (!navigator.geolocation) { setResult([S("geolocation_unavailable")], true); return; }
      navigator.geolocation.getCurrentPosition(function (pos) {
        origin = L.latLng(pos.coords.latitude, pos.coords.longitude);
        search();
      }, function () { setResult([S("geolocation_unavailable")], true); }, { timeout: 10000 });
    });
  }

  function initSanitation() {
    var d = data();
    var mk = d.markers;
    mk.items.forEach(function (b) {
      var group = layer(d.names.groups[classOf(mk.layer, b)]);
      if (!group) { return; }
      group.addLayer(layerMarker(mk.layer, b).setRadius(7));
    });
    var roads = layer(d.names.roads);
    if (roads) {
      roads.on("click", function (e) {
        var p = e.layer && e.layer.properties ? e.layer.properties : {};
        L.popup().setLatLng(e.latlng).setContent(featurePopup(d.roadLayer, p)).openOn(map());
      });
    }
  }

  function initPlanning() {
    var d = data();
    var cluster = layer(d.names.clusters.offices);
    d.markers.items.forEach(function (o) { cluster.addLayer(layerMarker(d.markers.layer, o)); });
    var admin = layer(d.names.groups.admin);
    getJSON(d.areas.url).then(function (fc) {
      L.geoJSON(fc, {
        style: { color: "#6a1b9a", weight: 2, fillOpacity: 0.05 },
        onEachFeature: function (feature, lyr) {
          var p = feature.properties || {};
          lyr.bindTooltip(tooltipContent(featureTitle(d.areas.layer, p)));
          lyr.bindPopup(featurePopup(d.areas.layer, p));
        }
      }).eachLayer(function (l) { admin.addLayer(l); });
    }).catch(function () { /* the layer stays empty; the map still works */ });
    var iso = layer(d.names.groups.isochrone);
    var m = map();
    var seq = 0;
    var point = null;
    var COLORS = ["#1a9850", "#fdae61", "#d73027"];
    function run() {
      if (!point) { return; }
      var minutes = document.getElementById("minutes").value;
      var mode = checkedMode();
      var mine = ++seq;
      setResult([S("isochrone_loading")]);
      document.body.dataset.isoState = "loading";
      /* three bands: a third, two thirds and all of the chosen time */
      var m = parseFloat(minutes);
      var bands = [m / 3, 2 * m / 3, m].map(function (v) { return Math.round(v * 10) / 10; });
      var url = "/api/isochrone?" + new URLSearchParams({
        lat: point.lat.toFixed(6), lon: point.lng.toFixed(6), minutes: bands.join(","), mode: mode
      }).toString();
      getJSON(url).then(function (fc) {
        if (mine !== seq) { return; }
        iso.clearLayers();
        L.circleMarker(point, { radius: 7, color: "#000", weight: 3, fillColor: "#fff", fillOpacity: 1 }).addTo(iso);
        L.geoJSON(fc, { style: function (f) {
          var i = bands.indexOf(f.properties.minutes);
          var color = COLORS[i < 0 ? COLORS.length - 1 : i];
          return { color: color, weight: 2, fillColor: color, fillOpacity: 0.3 };
        }, onEachFeature: function (f, lyr) {
          lyr.bindTooltip(tooltipContent(fmt(S("isochrone_minutes"), { n: decimal(f.properties.minutes, f.properties.minutes % 1 ? 1 : 0) })));
        } }).eachLayer(function (l) { iso.addLayer(l); });
        var modeText = (d.strings || {})["mode_" + mode] || mode;
        setResult([el("p", "trip", fmt(S("isochrone_minutes"), { n: minutes }) + " (" + modeText + ")")]);
        document.body.dataset.isoState = "done";
      }).catch(function (err) {
        if (mine !== seq) { return; }
        setResult([errorText(err.status, err.body)], true);
        document.body.dataset.isoState = "error";
      });
    }
    m.on("click", function (e) { point = e.latlng; run(); });
    document.getElementById("minutes").addEventListener("change", run);
    document.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", run); });
  }

  function init() {
    var page = data().page;
    /* plain-text credit: the page links to no outside host */
    map().attributionControl.setPrefix("Leaflet");
    if (page === "citizen") { initCitizen(); }
    else if (page === "sanitation") { initSanitation(); }
    else if (page === "planning") { initPlanning(); }
    document.body.dataset.ready = "1";
  }

  window.SIGAP = {
    roadBaseStyle: roadBaseStyle,
    roadConditionStyle: roadConditionStyle,
    tripText: tripText,
    popupContent: popupContent
  };
  document.addEventListener("DOMContentLoaded", init);
})();

/* The sanitation map (/sanitation): waste bins by kind, roads coloured by condition class;
 * a tap on a road shows its details. The "Rute pengangkutan" panel (sanitation staff) plans
 * the day's truck routes (POST /api/collection/plan), draws each truck's route in its own
 * colour with numbered stops and TPA visits, highlights unserved stops, shows the figures,
 * and gives a printable route sheet and a GPX file per truck. */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  SIGAP.pages = SIGAP.pages || {};
  /* one colour per truck, in order (cycled): distinct on the road-condition colours */
  var TRUCK_COLORS = ["#1565c0", "#6a1b9a", "#00838f", "#ef6c00", "#2e7d32", "#ad1457",
    "#4e342e", "#283593", "#00695c", "#9e9d24"];
  var UNSERVED_COLOR = "#d50000";
  var TIME_LIMIT_S = 10;

  function truckColor(n) { return TRUCK_COLORS[(n - 1) % TRUCK_COLORS.length]; }

  function numberIcon(text, color, label, kind) {
    var span = document.createElement("span");
    span.className = "stop-number" + (kind ? " stop-" + kind : "");
    span.textContent = text;
    span.style.background = color;
    var icon = L.divIcon({ className: "sigap-marker collection-marker", html: span, iconSize: [44, 44] });
    return icon;
  }

  function mark(M, group, latlng, text, color, label, kind) {
    var m = L.marker(latlng, { icon: numberIcon(text, color, label, kind), title: label, alt: label,
      keyboard: true, zIndexOffset: kind === "unserved" ? 500 : 1000 });
    m.bindTooltip(M.tooltipContent ? M.tooltipContent(label) : label);
    group.addLayer(m);
    return m;
  }

  function hm(M, seconds) {
    var min = Math.round(seconds / 60);
    if (min < 60) { return M.fmt(M.S("minutes"), { n: min }); }
    return M.fmt(M.S("hours_minutes"), { h: Math.floor(min / 60), m: min % 60 });
  }

  function cell(M, tag, text) { return M.el(tag, null, text === undefined ? "" : String(text)); }

  SIGAP.pages.sanitation = function (M) {
    var d = M.data();
    var mk = d.markers;
    mk.items.forEach(function (b) {
      var group = M.layer(d.names.groups[M.classOf(mk.layer, b)]);
      if (group) { group.addLayer(M.layerMarker(mk.layer, b, "small")); }
    });
    var roads = M.layer(d.names.roads);
    if (roads) {
      roads.on("click", function (e) {
        var p = e.layer && e.layer.properties ? e.layer.properties : {};
        L.popup().setLatLng(e.latlng).setContent(M.featurePopup(d.roadLayer, p)).openOn(M.map());
      });
    }
    M.map().on("click", M.collapseSheet);
    collectionPanel(M);
  };

  function collectionPanel(M) {
    var form = document.getElementById("collection-form");
    if (!form) { return; }
    var out = document.getElementById("collection-result");
    var sheet = document.getElementById("route-sheet");
    var dateInput = document.getElementById("date");
    if (dateInput && !dateInput.value) {
      var now = new Date();
      var local = new Date(now.getTime() - now.getTimezoneOffset() * 60000);
      dateInput.value = local.toISOString().slice(0, 10);
    }
    var routes = L.layerGroup().addTo(M.map());
    var current = null;
    var csrf = null;

    function say(text, isError) {
      out.textContent = "";
      var p = M.el("p", isError ? "result error" : "hint", text);
      out.appendChild(p);
    }

    function token() {
      if (csrf) { return Promise.resolve(csrf); }
      return M.getJSON("/staff/api/me").then(function (me) { csrf = me.csrf_token; return csrf; });
    }

    function post(url, body) {
      return token().then(function (t) {
        return fetch(url, {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": t },
          body: JSON.stringify(body)
        });
      });
    }

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {
        trucks: form.elements.trucks.value,
        date: form.elements.date.value || null,
        capacity_m3: form.elements.capacity_m3.value || null,
        time_limit_s: TIME_LIMIT_S
      };
      document.body.dataset.collectionState = "loading";
      say(M.fmt(M.S("coll_planning"), { n: TIME_LIMIT_S }));
      post("/api/collection/plan", body).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (j) {
          if (!r.ok) { var err = new Error("http"); err.status = r.status; err.body = j; throw err; }
          return j;
        });
      }).then(function (plan) {
        current = plan;
        draw(plan);
        document.body.dataset.collectionState = "done";
      }).catch(function (err) {
        var status = err.status || 0;
        if (status === 401) {
          say(M.S("coll_login"), true);
        } else if (err.body && err.body.error && err.body.error.message) {
          say(err.body.error.message, true);
          var field = err.body.error.param && form.elements[err.body.error.param];
          if (field && SIGAP.ui) { SIGAP.ui.fieldError(field, err.body.error.message); }
        } else {
          say(M.errorText(status, err.body), true);
        }
        csrf = status === 403 ? null : csrf;
        document.body.dataset.collectionState = "error";
      });
    });

    function draw(plan) {
      routes.clearLayers();
      var bounds = L.latLngBounds([]);
      plan.trucks.forEach(function (t) {
        if (!t.visits.length) { return; }
        var color = truckColor(t.truck);
        var line = L.geoJSON(t.route, { style: { color: color, weight: 5, opacity: 0.85 } });
        line.eachLayer(function (l) { routes.addLayer(l); });
        bounds.extend(line.getBounds());
        var n = 0;
        t.visits.forEach(function (v) {
          var ll = [v.lat, v.lon];
          var title = M.fmt(M.S("coll_truck"), { n: t.truck }) + ": " + (v.name || "") + " " + v.arrival;
          if (v.kind === "stop") {
            n += 1;
            mark(M, routes, ll, String(n), color, n + ". " + title, "stop");
          } else if (v.kind === "unload") {
            mark(M, routes, ll, "TPA", "#4e342e", M.S("coll_unload") + " " + title, "tpa");
          }
        });
      });
      plan.unserved.forEach(function (u) {
        mark(M, routes, [u.lat, u.lon], "!", UNSERVED_COLOR, (u.name || "") + ": " + u.message, "unserved");
      });
      if (bounds.isValid()) { M.fitVisible(bounds); }
      table(plan);
    }

    function table(plan) {
      out.textContent = "";
      var tot = plan.totals;
      var summary = M.fmt(M.S("coll_summary"),
        { served: tot.stops_served, stops: tot.stops, m3: M.decimal(tot.volume_m3, 1) });
      out.appendChild(M.el("p", "trip", summary));
      var tbl = M.el("table", "collection-table");
      var head = M.el("tr");
      ["coll_truck_col", "coll_stops", "coll_trips", "coll_volume", "coll_drive", "coll_distance", "coll_back"]
        .forEach(function (k) { head.appendChild(cell(M, "th", k ? M.S(k) : "")); });
      var thead = M.el("thead"); thead.appendChild(head); tbl.appendChild(thead);
      var tbody = M.el("tbody");
      plan.trucks.forEach(function (t) {
        var tr = M.el("tr");
        tr.dataset.truck = t.truck;
        var name = cell(M, "td", t.truck);
        var sw = M.el("span", "swatch"); sw.style.background = truckColor(t.truck);
        name.insertBefore(sw, name.firstChild);
        tr.appendChild(name);
        if (!t.visits.length) {
          var idle = cell(M, "td", M.S("coll_idle")); idle.colSpan = 6; tr.appendChild(idle);
          tbody.appendChild(tr); return;
        }
        tr.appendChild(cell(M, "td", t.stops));
        tr.appendChild(cell(M, "td", t.trips));
        tr.appendChild(cell(M, "td", M.decimal(t.volume_m3, 1)));
        tr.appendChild(cell(M, "td", hm(M, t.drive_time_s)));
        tr.appendChild(cell(M, "td", M.fmt(M.S("km"), { n: M.decimal(t.distance_m / 1000, 1) })));
        tr.appendChild(cell(M, "td", t.end));
        tbody.appendChild(tr);
        var row2 = M.el("tr", "truck-actions");
        row2.dataset.truck = t.truck;
        var actions = M.el("td", "actions");
        actions.colSpan = 7;
        var print = M.el("button", "btn btn-secondary", M.S("coll_sheet"));
        print.type = "button";
        print.addEventListener("click", function () { printSheet(t); });
        var gpx = M.el("button", "btn btn-secondary", M.S("coll_gpx"));
        gpx.type = "button";
        gpx.addEventListener("click", function () { download(t); });
        actions.appendChild(print); actions.appendChild(gpx);
        row2.appendChild(actions);
        tbody.appendChild(row2);
      });
      tbl.appendChild(tbody);
      var wrap = M.el("div", "table-wrap"); wrap.appendChild(tbl);
      out.appendChild(wrap);
      if (plan.unserved.length) {
        var ids = {};
        plan.unserved.forEach(function (u) { ids[u.stop_id] = true; });
        out.appendChild(M.el("p", "hint unserved-note",
          M.fmt(M.S("coll_unserved"), { n: Object.keys(ids).length })));
      }
      M.peek(summary, plan.date, "answer");
    }

    function sheetFor(t) {
      sheet.textContent = "";
      sheet.appendChild(M.el("h1", null, M.fmt(M.S("coll_truck"), { n: t.truck }) + " · " + current.date));
      var tbl = M.el("table", "sheet-table");
      var head = M.el("tr");
      ["#", M.S("coll_time"), M.S("coll_place"), M.S("coll_address"), M.S("coll_volume"), M.S("coll_load")]
        .forEach(function (h) { head.appendChild(cell(M, "th", h)); });
      tbl.appendChild(head);
      var n = 0;
      t.visits.forEach(function (v) {
        var tr = M.el("tr");
        var label = v.kind === "stop" ? String(++n) : (v.kind === "unload" ? "TPA" : M.S("coll_depot"));
        tr.appendChild(cell(M, "td", label));
        tr.appendChild(cell(M, "td", v.arrival));
        tr.appendChild(cell(M, "td", v.name || ""));
        tr.appendChild(cell(M, "td", v.address || ""));
        tr.appendChild(cell(M, "td", v.kind === "stop" ? M.decimal(v.volume_m3, 1) : ""));
        tr.appendChild(cell(M, "td", M.decimal(v.load_m3, 1)));
        tbl.appendChild(tr);
      });
      sheet.appendChild(tbl);
    }

    function printSheet(t) {
      sheetFor(t);
      document.body.classList.add("print-sheet");
      document.body.dataset.sheetTruck = String(t.truck);
      window.print();
    }
    window.addEventListener("afterprint", function () { document.body.classList.remove("print-sheet"); });

    function download(t) {
      post("/api/collection/gpx", { plan: current, truck: t.truck }).then(function (r) {
        if (!r.ok) { throw new Error("http " + r.status); }
        return r.blob();
      }).then(function (blob) {
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = "truk-" + t.truck + "-" + current.date + ".gpx";
        document.body.appendChild(a);
        a.click();
        setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
      }).catch(function () { say(M.S("error_generic"), true); });
    }
  }
})();

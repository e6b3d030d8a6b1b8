/* The planning map (/planning). The form asks the planning API for the coverage of a
 * category by a mode within T minutes (and the suggested new sites); the answer is drawn as
 * the gap layer, a choropleth of areas and a table, and said in words. A tap on the map
 * shows the area reachable from that point (isochrone), or builds a "what if" scenario:
 * close this road, add an office here, close this office; the scenario's difference from
 * the baseline is drawn and counted. Drawing: js/planning-draw.js; words: js/planning-text.js,
 * both loaded when the first analysis or scenario needs them.
 * State for tests on body: data-coverage-state, data-suggest-state, data-scenario-state,
 * data-iso-state, data-pick-state ("loading", "done", "error"; "none" for a tap on no road).
 */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  SIGAP.pages = SIGAP.pages || {};
  var ISO_COLORS = ["#1a9850", "#fdae61", "#d73027"];
  /* a tap picks a road or an office this close, in CSS px */
  var PICK_PX = 24;
  var COUNT_DELAY_MS = 400;

  SIGAP.pages.planning = function (M) {
    var d = M.data();
    var S = M.S;
    /* the words (T) and the drawing (D) arrive with the first analysis or scenario */
    var T = null;
    var D = null;
    var queue = [];
    function withModules(fn) {
      if (D) { fn(); return; }
      queue.push(fn);
      if (queue.length > 1) { return; }
      var urls = d.planning.scripts;
      var have = function () {
        var P = SIGAP.planning || {};
        return Boolean(P.text && P.draw);
      };
      var done = function () {
        if (D) { return; }
        T = SIGAP.planning.text(M);
        D = SIGAP.planning.draw(M, T);
        queue.splice(0).forEach(function (f) { f(); });
      };
      M.loadScript(urls.text, have, done);
      M.loadScript(urls.draw, have, done);
    }
    var api = d.planning.api;
    var body = document.body;
    var m = M.map();
    function $(id) { return document.getElementById(id); }
    function categoryLabel(code) { return d.planning.categoryLabels[code] || code; }

    /* --- offices (all, or those of the analysed category) and administrative areas --- */
    var cluster = M.layer(d.names.clusters.offices);
    var officeSpec = M.spec(d.markers.layer);
    var offices = d.markers.items.map(function (o) {
      var marker = M.layerMarker(d.markers.layer, o);
      marker.options.sigapItem = o;
      return marker;
    });
    function showOffices(category) {
      var known = category && officeSpec.classes && officeSpec.classes[category] !== undefined;
      cluster.clearLayers();
      cluster.addLayers(offices.filter(function (mk) {
        return !known || M.classOf(d.markers.layer, mk.options.sigapItem) === category;
      }));
    }
    showOffices(null);
    var admin = M.layer(d.names.groups.admin);
    M.getJSON(d.areas.url).then(function (fc) {
      L.geoJSON(fc, {
        style: { color: "#6a1b9a", weight: 2, fillOpacity: 0, interactive: false },
        interactive: false
      }).eachLayer(function (l) { admin.addLayer(l); });
    }).catch(function () { /* the layer stays empty; the map still works */ });

    /* --- the form --- */
    var form = $("coverage-form");
    var categorySelect = $("category");
    var minutesSelect = $("minutes");
    var countInput = $("count");
    function radio(name) {
      var r = document.querySelector("input[name=" + name + "]:checked");
      return r ? r.value : null;
    }
    function request() {
      return { category: categorySelect.value, mode: M.checkedMode(), minutes: minutesSelect.value,
        by: radio("by") };
    }
    function query(obj) { return new URLSearchParams(obj).toString(); }
    function keyOf(req) { return [req.category, req.mode, req.minutes, req.by].join("|"); }
    var FIELDS = { category: categorySelect, minutes: minutesSelect, count: countInput,
      mode: $("mode"), by: $("by") };
    function clearErrors() {
      Object.keys(FIELDS).forEach(function (k) { if (FIELDS[k]) { SIGAP.ui.clearFieldError(FIELDS[k]); } });
    }

    /* --- answers and their state --- */
    var state = { key: null, request: null, coverage: null, sites: null, scenario: null,
      scenarioFor: null, shown: false };
    var seq = { coverage: 0, suggest: 0, scenario: 0, iso: 0, pick: 0 };
    var scenario = { close: [], add: [], remove: [], version: 0 };
    var added = 0;
    function hasScenario() { return scenario.close.length + scenario.add.length + scenario.remove.length > 0; }
    function scenarioKey() { return state.key + "#" + scenario.version; }
    function currentScenario() {
      return hasScenario() && state.scenario && state.scenarioFor === scenarioKey() ? state.scenario : null;
    }

    function postJSON(url, payload) {
      return fetch(url, {
        method: "POST", body: JSON.stringify(payload),
        headers: { "Content-Type": "application/json", "Accept": "application/json" }
      }).then(function (r) {
        return r.json().catch(function () { return null; }).then(function (b) {
          if (!r.ok) { var e = new Error("http " + r.status); e.status = r.status; e.body = b; throw e; }
          return b;
        });
      }, function () { var e = new Error("network"); e.status = 0; throw e; });
    }
    var PARAM_TEXT = { minutes: "plan_error_minutes", count: "plan_error_count",
      category: "plan_error_category", close_segments: "plan_error_roads",
      remove_facilities: "plan_error_offices" };
    function errorMessage(err) {
      var e = err && err.body && err.body.error;
      if (err.status === 400 && e) {
        var key = PARAM_TEXT[e.param];
        return key ? M.fmt(S(key), { max: d.planning.maxCount, maxMinutes: d.planning.maxMinutes })
          : M.fmt(S("plan_error_detail"), { detail: e.message });
      }
      if (err.status === 503) { return S("plan_error_unavailable"); }
      return M.errorText(err.status, err.body);
    }
    function failed(kind, err) {
      var text = errorMessage(err);
      body.dataset[kind + "State"] = "error";
      var e = err && err.body && err.body.error;
      if (e && FIELDS[e.param]) { SIGAP.ui.fieldError(FIELDS[e.param], text); }
      M.say(text, true);
      if (kind === "scenario") { $("scenario-figures").textContent = ""; $("scenario-figures").appendChild(M.el("p", "field-error", text)); }
      return text;
    }

    /* --- the analysis: the coverage first, then the sites and the scenario --- */
    function analyse() { withModules(analyseNow); }
    function analyseNow() {
      var req = request();
      state.key = keyOf(req);
      state.request = req;
      state.coverage = null;
      state.scenario = null;
      clearErrors();
      var mine = ++seq.coverage;
      body.dataset.coverageState = "loading";
      $("analysis").setAttribute("aria-busy", "true");
      M.say(S("plan_loading"));
      M.getJSON(api.coverage + "?" + query(req)).then(function (a) {
        if (mine !== seq.coverage) { return; }
        state.coverage = a;
        state.shown = true;
        showOffices(a.category);
        render();
        body.dataset.coverageState = "done";
        /* then the sites and the scenario, which reuse the baseline the server just built */
        suggest();
        if (hasScenario()) { runScenario(); }
      }).catch(function (err) {
        if (mine !== seq.coverage) { return; }
        $("analysis").removeAttribute("aria-busy");
        failed("coverage", err);
      });
    }
    function count() { return countInput.value.trim(); }
    function suggest() {
      var req = state.request;
      var mine = ++seq.suggest;
      var n = count();
      state.sites = null;
      if (!req) { return; }
      if (n === "0") {
        D.drawSites({ features: [] });
        $("sites").hidden = true;
        body.dataset.suggestState = "done";
        render();
        return;
      }
      body.dataset.suggestState = "loading";
      $("sites-text").textContent = S("plan_sites_loading");
      M.getJSON(api.suggest + "?" + query(Object.assign({ count: n }, req))).then(function (s) {
        if (mine !== seq.suggest) { return; }
        state.sites = s;
        showSites(s);
        render();
        body.dataset.suggestState = "done";
      }).catch(function (err) {
        if (mine !== seq.suggest) { return; }
        D.drawSites({ features: [] });
        $("sites").hidden = false;
        $("sites-list").textContent = "";
        $("sites-text").textContent = failed("suggest", err);
      });
    }
    /* the scenario API's body: the analysed request and the scenario's items */
    function scenarioBody() {
      return Object.assign({}, state.request, {
        minutes: parseFloat(state.request.minutes),
        close_segments: scenario.close.map(function (r) { return r.id; }),
        add_facilities: scenario.add.map(function (o) { return { lat: o.lat, lon: o.lon, name: o.name }; }),
        remove_facilities: scenario.remove.map(function (o) { return o.id; })
      });
    }
    function runScenario() {
      var mine = ++seq.scenario;
      var forKey = scenarioKey();
      if (!hasScenario() || !state.request) { state.scenario = null; render(); return; }
      body.dataset.scenarioState = "loading";
      $("scenario-figures").textContent = "";
      $("scenario-figures").appendChild(M.el("p", "hint", S("plan_scenario_loading")));
      M.say(S("plan_scenario_loading"));  /* in the peek too: a phone's sheet is closed */
      postJSON(api.scenario, scenarioBody()).then(function (sc) {
        if (mine !== seq.scenario) { return; }
        var first = !state.scenario;
        state.scenario = sc;
        state.scenarioFor = forKey;
        if (first) { setColour("change"); }
        render();
        body.dataset.scenarioState = "done";
      }).catch(function (err) {
        if (mine !== seq.scenario) { return; }
        failed("scenario", err);
      });
    }

    /* --- drawing an answer --- */
    function colour() { return radio("colour") || "share"; }
    function setColour(value) {
      var r = document.querySelector("input[name=colour][value=" + value + "]");
      if (r) { r.checked = true; }
    }
    function render() {
      var a = state.coverage;
      if (!a) { return; }
      var sc = currentScenario();
      var current = sc ? sc.result : a;
      var changeRadio = document.querySelector("input[name=colour][value=change]");
      changeRadio.disabled = !sc;
      if (!sc && colour() === "change") { setColour("share"); }
      var change = {};
      if (sc) { sc.change.areas.forEach(function (c) { change[c.key] = c; }); }
      var features = current.areas ? current.areas.features : [];
      D.drawAreas(features, colour(), change);
      if (current.gaps) { D.drawGaps(current.gaps, current.bands, a.minutes); }
      if (sc && a.gaps && sc.result.gaps) { D.drawDifference(a.gaps, sc.result.gaps); } else { D.clearDifference(); }
      $("analysis").hidden = false;
      $("analysis").removeAttribute("aria-busy");
      var summary = $("coverage-summary");
      summary.textContent = "";
      summary.appendChild(T.summaryNodes(a, state.request.by));
      var figures = $("scenario-figures");
      if (sc) { figures.textContent = ""; figures.appendChild(T.scenarioNodes(sc)); }
      else if (!hasScenario()) { figures.textContent = ""; }
      T.areaTable($("area-table"), features, { scenario: Boolean(sc), change: change, unit: T.accessUnit(a) });
      downloads();
      var main = sc ? M.fmt(S("plan_scenario_peek"), {
        before: T.pct(sc.baseline.summary.share_length_beyond),
        after: T.pct(sc.result.summary.share_length_beyond)
      }) : T.headline(a, a.summary);
      var sub = sc ? S("plan_with_scenario") + " · " + T.choiceLine(a) : T.choiceLine(a);
      var head = M.el("p", "headline", main);
      M.setResult([head, M.el("p", null, sub)]);
      M.peek(main, sub, "answer");
      D.showLegend({
        hasGaps: Boolean(current.gaps), hasAreas: features.length > 0, colour: colour(), unit: T.accessUnit(a),
        hasScenario: Boolean(sc), closed: scenario.close.length > 0, added: scenario.add.length > 0,
        removed: scenario.remove.length > 0,
        sites: Boolean(state.sites && state.sites.sites.features.length)
      });
    }
    function showSites(s) {
      D.drawSites(s.sites, s.demand_unit);
      $("sites").hidden = false;
      var text = $("sites-text");
      text.textContent = "";
      text.appendChild(M.el("p", null, T.sitesIntro(s)));
      if (s.message) { text.appendChild(M.el("p", "hint", S("plan_sites_fewer"))); }
      var list = $("sites-list");
      list.textContent = "";
      s.sites.features.forEach(function (f) {
        var p = f.properties;
        var li = M.el("li");
        var span = M.el("span");
        span.appendChild(M.el("span", "rank", p.rank)).setAttribute("aria-hidden", "true");
        span.appendChild(document.createTextNode(M.fmt(S("plan_site_label"), { rank: p.rank }) + ": " + T.siteText(p, s.demand_unit)));
        li.appendChild(span);
        var show = M.el("button", "btn btn-secondary", S("plan_show"));
        show.type = "button";
        show.setAttribute("aria-label", M.fmt(S("plan_show_site"), { rank: p.rank }));
        show.addEventListener("click", function () {
          var mk = D.siteMarker(p.rank);
          if (mk) { M.fitVisible(L.latLngBounds([mk.getLatLng()]), 16); mk.openPopup(); }
        });
        var add = M.el("button", "btn btn-secondary", S("plan_add_to_scenario"));
        add.type = "button";
        add.setAttribute("aria-label", M.fmt(S("plan_add_site"), { rank: p.rank }));
        add.addEventListener("click", function () {
          addOffice(L.latLng(p.lat, p.lon), M.fmt(S("plan_site_label"), { rank: p.rank }));
        });
        li.appendChild(show);
        li.appendChild(add);
        list.appendChild(li);
      });
    }

    /* --- downloads of the per-area table: GET links; with a scenario, its POST --- */
    function downloads() {
      ["csv", "gpkg"].forEach(function (f) {
        var a = $("download-" + f);
        a.href = api.coverage + "?" + query(Object.assign({ f: f }, state.request));
      });
    }
    function saveScenario(f) {
      body.dataset.downloadState = "loading";
      fetch(api.scenario + "?f=" + f, {
        method: "POST", body: JSON.stringify(scenarioBody()), headers: { "Content-Type": "application/json" }
      }).then(function (r) {
        if (!r.ok) { var e = new Error("http " + r.status); e.status = r.status; throw e; }
        var cd = r.headers.get("Content-Disposition") || "";
        var name = (cd.match(/filename="([^"]+)"/) || [])[1] || ("scenario." + f);
        return r.blob().then(function (b) { return { blob: b, name: name }; });
      }).then(function (file) {
        var url = URL.createObjectURL(file.blob);
        var a = document.createElement("a");
        a.href = url;
        a.download = file.name;
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
        body.dataset.downloadState = "done";
      }).catch(function (err) { failed("download", err); });
    }
    ["csv", "gpkg"].forEach(function (f) {
      $("download-" + f).addEventListener("click", function (e) {
        if (currentScenario()) { e.preventDefault(); saveScenario(f); }
      });
    });

    /* --- the scenario: its items, in the panel and on the map --- */
    function scenarioChanged() { withModules(scenarioChangedNow); }
    function scenarioChangedNow() {
      scenario.version++;
      var list = $("scenario-list");
      list.textContent = "";
      function item(text, undo) {
        var li = M.el("li");
        li.appendChild(M.el("span", null, text));
        var b = M.el("button", "btn btn-secondary", S("plan_undo"));
        b.type = "button";
        b.setAttribute("aria-label", M.fmt(S("plan_undo_item"), { what: text }));
        b.addEventListener("click", function () { undo(); scenarioChanged(); });
        li.appendChild(b);
        list.appendChild(li);
      }
      scenario.close.forEach(function (r) {
        item(M.fmt(S("plan_item_closed_road"), { name: r.name }), function () { scenario.close.splice(scenario.close.indexOf(r), 1); });
      });
      scenario.add.forEach(function (o) {
        item(M.fmt(S("plan_item_added_office"), { name: o.name }), function () { scenario.add.splice(scenario.add.indexOf(o), 1); });
      });
      scenario.remove.forEach(function (o) {
        item(M.fmt(S("plan_item_closed_office"), { name: o.name }), function () { scenario.remove.splice(scenario.remove.indexOf(o), 1); });
      });
      $("scenario").hidden = !hasScenario();
      D.drawScenarioItems(scenario);
      if (!hasScenario()) {
        state.scenario = null;
        seq.scenario++;
        delete body.dataset.scenarioState;
        render();
        return;
      }
      if (state.coverage && state.key === keyOf(request())) { runScenario(); } else { analyse(); }
    }
    $("scenario-reset").addEventListener("click", function () {
      scenario.close = []; scenario.add = []; scenario.remove = [];
      scenarioChanged();
    });
    function addOffice(latlng, name) {
      added++;
      scenario.add.push({ lat: Math.round(latlng.lat * 1e6) / 1e6, lon: Math.round(latlng.lng * 1e6) / 1e6,
        name: name || M.fmt(S("plan_new_office"), { n: added }) });
      scenarioChanged();
    }
    function toggleOffice(o) {
      if (!state.request || o[officeSpec.classField] !== request().category) {
        M.say(M.fmt(S("plan_not_this_category"), { category: categoryLabel(request().category) }), true);
        return;
      }
      var i = scenario.remove.map(function (x) { return x.id; }).indexOf(o.id);
      if (i >= 0) { scenario.remove.splice(i, 1); } else {
        scenario.remove.push({ id: o.id, lat: o.lat, lon: o.lon, name: M.featureTitle(d.markers.layer, o) || S("name_missing") });
      }
      scenarioChanged();
    }

    /* distance in px from point p to the segment a-b */
    function pxDistance(p, a, b) {
      var dx = b.x - a.x, dy = b.y - a.y;
      var len = dx * dx + dy * dy;
      var t = len ? Math.max(0, Math.min(1, ((p.x - a.x) * dx + (p.y - a.y) * dy) / len)) : 0;
      var x = a.x + t * dx - p.x, y = a.y + t * dy - p.y;
      return Math.sqrt(x * x + y * y);
    }
    /* "close this road": the nearest road the chosen mode may use, within PICK_PX */
    function pickRoad(latlng) {
      var p = m.latLngToContainerPoint(latlng);
      var sw = m.containerPointToLatLng([p.x - PICK_PX, p.y + PICK_PX]);
      var ne = m.containerPointToLatLng([p.x + PICK_PX, p.y - PICK_PX]);
      var bbox = [sw.lng, sw.lat, ne.lng, ne.lat].map(function (v) { return v.toFixed(6); }).join(",");
      var mine = ++seq.pick;
      var allowed = d.planning.modeRoads[M.checkedMode()] || [];
      body.dataset.pickState = "loading";
      M.getJSON(api.roads + "?" + query({ bbox: bbox, limit: 500 })).then(function (fc) {
        if (mine !== seq.pick) { return; }
        var best = null;
        fc.features.forEach(function (f) {
          if (!f.geometry || f.geometry.type !== "LineString" || allowed.indexOf(f.properties.highway) < 0) { return; }
          var pts = f.geometry.coordinates.map(function (c) { return m.latLngToContainerPoint([c[1], c[0]]); });
          for (var i = 1; i < pts.length; i++) {
            var dist = pxDistance(p, pts[i - 1], pts[i]);
            if (dist <= PICK_PX && (!best || dist < best.dist)) { best = { dist: dist, f: f }; }
          }
        });
        if (!best) {
          body.dataset.pickState = "none";
          M.say(S("plan_no_road_here"), true);
          return;
        }
        body.dataset.pickState = "done";
        var f = best.f;
        var i = scenario.close.map(function (r) { return r.id; }).indexOf(f.id);
        if (i >= 0) { scenario.close.splice(i, 1); } else {
          scenario.close.push({
            id: f.id, name: f.properties.name || S("plan_unnamed_road"),
            latlngs: f.geometry.coordinates.map(function (c) { return [c[1], c[0]]; })
          });
        }
        scenarioChanged();
      }).catch(function (err) {
        if (mine !== seq.pick) { return; }
        failed("pick", err);
      });
    }
    /* "close this office": the nearest office marker of the category within PICK_PX */
    function pickOffice(latlng) {
      var p = m.latLngToContainerPoint(latlng);
      var best = null;
      d.markers.items.forEach(function (o) {
        if (M.classOf(d.markers.layer, o) !== request().category) { return; }
        var q = m.latLngToContainerPoint([o.lat, o.lon]);
        var dist = p.distanceTo(q);
        if (dist <= PICK_PX * 2 && (!best || dist < best.dist)) { best = { dist: dist, o: o }; }
      });
      if (best) { toggleOffice(best.o); } else {
        M.say(M.fmt(S("plan_tap_an_office"), { category: categoryLabel(request().category) }), true);
      }
    }
    cluster.on("click", function (e) {
      if (radio("tool") !== "remove") { return; }
      e.layer.closePopup();
      toggleOffice(e.layer.options.sigapItem);
    });

    /* --- the isochrone from a point (three bands: a third, two thirds, all of T) --- */
    var iso = M.layer(d.names.groups.isochrone);
    var point = null;
    M.startHint();  /* kept before any answer replaces it */
    function runIso() {
      if (!point) { return; }
      var minutes = minutesSelect.value;
      var mode = M.checkedMode();
      var mine = ++seq.iso;
      M.say(S("isochrone_loading"));
      body.dataset.isoState = "loading";
      var total = parseFloat(minutes);
      var bands = [total / 3, 2 * total / 3, total].map(function (v) { return Math.round(v * 10) / 10; });
      M.getJSON(api.isochrone + "?" + query({
        lat: point.lat.toFixed(6), lon: point.lng.toFixed(6), minutes: bands.join(","), mode: mode
      })).then(function (fc) {
        if (mine !== seq.iso) { return; }
        iso.clearLayers();
        M.dotMarker(point, null, { size: "origin", interactive: false }).addTo(iso);
        L.geoJSON(fc, { style: function (f) {
          var i = bands.indexOf(f.properties.minutes);
          var color = ISO_COLORS[i < 0 ? ISO_COLORS.length - 1 : i];
          return { color: color, weight: 2, fillColor: color, fillOpacity: 0.3 };
        }, onEachFeature: function (f, lyr) {
          var n = f.properties.minutes;
          lyr.bindTooltip(M.tooltipContent(M.fmt(S("isochrone_minutes"), { n: M.decimal(n, n % 1 ? 1 : 0) })));
        } }).eachLayer(function (l) { iso.addLayer(l); });
        var text = M.fmt(S("isochrone_minutes"), { n: minutes });
        M.setResult([M.el("p", "trip", text + " (" + M.modeText(mode) + ")")]);
        M.peek(text, M.modeText(mode), "answer");
        body.dataset.isoState = "done";
      }).catch(function (err) {
        if (mine !== seq.iso) { return; }
        M.say(M.errorText(err.status, err.body), true);
        body.dataset.isoState = "error";
      });
    }

    /* --- a tap on the map (or "use the centre"): what the chosen tool does --- */
    function act(latlng) {
      var tool = radio("tool") || "iso";
      if (tool === "close") { pickRoad(latlng); }
      else if (tool === "add") { addOffice(latlng); }
      else if (tool === "remove") { pickOffice(latlng); }
      else { point = latlng; runIso(); }
    }
    m.on("click", function (e) { M.collapseSheet(); act(e.latlng); });
    $("use-centre").addEventListener("click", function () {
      var box = m.getContainer().getBoundingClientRect();
      var bottom = box.bottom;
      var sheet = SIGAP.ui && SIGAP.ui.sheet;
      if (sheet && sheet.isOverlay() && sheet.isExpanded()) {
        bottom = Math.min(bottom, sheet.element.getBoundingClientRect().top);
      }
      act(m.containerPointToLatLng([box.width / 2, (bottom - box.top) / 2]));
    });
    document.querySelectorAll("input[name=tool]").forEach(function (r) {
      r.addEventListener("change", function () {
        M.peek(S("plan_tool_" + r.value), M.choiceText(minutesSelect));
      });
    });

    /* --- the form recomputes in place once an answer is shown --- */
    function choiceChanged() {
      if (state.shown) { analyse(); }
      else if (!point) { M.peek(M.choiceText(minutesSelect), M.startHint()); }
      runIso();
    }
    form.addEventListener("submit", function (e) { e.preventDefault(); analyse(); });
    [categorySelect, minutesSelect].forEach(function (s) { s.addEventListener("change", choiceChanged); });
    document.querySelectorAll("input[name=mode], input[name=by]").forEach(function (r) {
      r.addEventListener("change", choiceChanged);
    });
    var countTimer = null;
    countInput.addEventListener("input", function () {
      if (!state.shown) { return; }
      clearTimeout(countTimer);
      countTimer = setTimeout(function () { SIGAP.ui.clearFieldError(countInput); suggest(); }, COUNT_DELAY_MS);
    });
    document.querySelectorAll("input[name=colour]").forEach(function (r) {
      r.addEventListener("change", render);
    });
    $("area-table").addEventListener("click", function (e) {
      var b = e.target.closest("button[data-key]");
      if (b) { M.collapseSheet(); D.showArea(b.dataset.key); }
    });
  };
})();

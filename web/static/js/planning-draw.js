/* The planning page's map layers: the gap layer (roads beyond T, coloured by how far beyond),
 * the choropleth of areas (share beyond T, accessibility score, or the scenario's change),
 * what a scenario changes (roads newly covered or newly beyond T, closed roads, offices
 * added or closed), the suggested sites, and the legend of what is drawn. Used by
 * js/planning.js:  var D = SIGAP.planning.draw(M, T);
 */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  var P = SIGAP.planning = SIGAP.planning || {};

  /* the gap layer's bands (seconds beyond T, the API's `bands`), by index; then unreachable */
  var BAND_COLORS = ["#fdae61", "#f46d43", "#d73027", "#a50026"];
  var UNREACHABLE_COLOR = "#1b1b1b";
  /* share of road beyond T: five classes of 20 % (ColorBrewer Purples) */
  var SHARE_BREAKS = [0.2, 0.4, 0.6, 0.8];
  var SHARE_COLORS = ["#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"];
  /* accessibility: zero (no office within T), then quantile classes (ColorBrewer Greens) */
  var ACCESS_ZERO = "#fde0dd";
  var ACCESS_COLORS = ["#c7e9c0", "#74c476", "#31a354", "#006d2c"];
  /* the scenario's change of share beyond T, in shares: better (green) to worse (red) */
  var CHANGE_BREAKS = [-0.2, -0.05, 0, 0.05, 0.2];
  var CHANGE_COLORS = ["#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027"];
  var NEWLY_COVERED = "#00a651";
  var NEWLY_BEYOND = "#c51b7d";
  var CLOSED = "#000000";
  /* an area's figures as a tooltip only where a pointer can hover: on a touch screen a tap
   * belongs to the tool (isochrone, scenario), and the table says the same */
  var CAN_HOVER = !window.matchMedia || window.matchMedia("(hover: hover)").matches;

  P.draw = function (M, T) {
    var d = M.data();
    var S = M.S;
    var groups = d.names.groups;
    var areasLayer = M.layer(groups.areas);
    var gapsLayer = M.layer(groups.gaps);
    var changeLayer = M.layer(groups.change);
    var sitesLayer = M.layer(groups.sites);
    /* the lines go above the areas' fill, under the markers, and never take a tap; there
     * are many short ones, which one canvas draws faster than thousands of SVG paths */
    var map = M.map();
    var pane = map.createPane("planLines");
    pane.style.zIndex = 450;
    pane.style.pointerEvents = "none";
    var canvas = L.canvas({ padding: 0.3, pane: "planLines" });
    var areaByKey = {};
    var highlighted = null;

    function classOf(value, breaks) {
      var i = 0;
      while (i < breaks.length && value >= breaks[i]) { i++; }
      return i;
    }
    /* up to four quantile breaks of the positive scores, no two alike */
    function quantiles(values) {
      var v = values.filter(function (x) { return x > 0; }).sort(function (a, b) { return a - b; });
      var out = [];
      if (!v.length) { return out; }
      [0.25, 0.5, 0.75].forEach(function (q) {
        var x = v[Math.min(v.length - 1, Math.floor(q * v.length))];
        if (x > v[0] && out.indexOf(x) < 0) { out.push(x); }
      });
      return out;
    }

    /* --- the choropleth --- */
    function colourer(kind, features, change) {
      if (kind === "access") {
        var breaks = quantiles(features.map(function (f) { return f.properties.accessibility; })
          .filter(function (x) { return x !== null; }));
        var colors = ACCESS_COLORS.slice(ACCESS_COLORS.length - breaks.length - 1);
        return {
          color: function (p) {
            if (p.accessibility === null) { return null; }
            if (p.accessibility === 0) { return ACCESS_ZERO; }
            return colors[classOf(p.accessibility, breaks)];
          },
          legend: function () {
            var items = [{ color: ACCESS_ZERO, text: S("plan_access_zero") }];
            var low = 0;
            breaks.concat([null]).forEach(function (high, i) {
              items.push({ color: colors[i], text: high === null
                ? M.fmt(S("plan_above"), { n: T.score(low) })
                : M.fmt(S("plan_range"), { from: T.score(low), to: T.score(high) }) });
              low = high;
            });
            items.push({ color: null, text: S("plan_no_value") });
            return items;
          }
        };
      }
      if (kind === "change") {
        return {
          color: function (p) {
            var c = change[p.key];
            var delta = c ? c.share_beyond : 0;
            if (delta === null) { return null; }
            if (delta === 0) { return "transparent"; }
            return CHANGE_COLORS[classOf(delta, CHANGE_BREAKS)];
          },
          legend: function () {
            var labels = [
              M.fmt(S("plan_change_at_most"), { n: T.points(-0.2, 0) }),
              M.fmt(S("plan_range"), { from: T.points(-0.2, 0), to: T.points(-0.05, 0) }),
              M.fmt(S("plan_range"), { from: T.points(-0.05, 0), to: T.points(0, 0) }),
              M.fmt(S("plan_range"), { from: T.points(0, 0), to: T.points(0.05, 0) }),
              M.fmt(S("plan_range"), { from: T.points(0.05, 0), to: T.points(0.2, 0) }),
              M.fmt(S("plan_above"), { n: T.points(0.2, 0) })
            ];
            var items = labels.map(function (text, i) { return { color: CHANGE_COLORS[i], text: text }; });
            items.splice(3, 0, { color: "#ffffff", text: S("plan_no_change") });
            return items;
          }
        };
      }
      return {
        color: function (p) {
          return p.share_beyond === null ? null : SHARE_COLORS[classOf(p.share_beyond, SHARE_BREAKS)];
        },
        legend: function () {
          var items = SHARE_COLORS.map(function (c, i) {
            var from = i ? SHARE_BREAKS[i - 1] : 0;
            var to = i < SHARE_BREAKS.length ? SHARE_BREAKS[i] : 1;
            return { color: c, text: M.fmt(S("plan_range"), { from: T.pct(from, 0), to: T.pct(to, 0) }) };
          });
          items.push({ color: null, text: S("plan_no_roads") });
          return items;
        }
      };
    }
    var areaLegend = [];
    function drawAreas(features, kind, change) {
      areasLayer.clearLayers();
      areaByKey = {};
      highlighted = null;
      var c = colourer(kind, features, change || {});
      L.geoJSON({ type: "FeatureCollection", features: features }, {
        style: function (f) {
          var fill = c.color(f.properties);
          return {
            color: "#4a3c6b", weight: 1, opacity: 0.55, dashArray: fill === null ? "4 4" : null,
            fillColor: fill && fill !== "transparent" ? fill : "#ffffff",
            fillOpacity: fill && fill !== "transparent" ? 0.45 : 0
          };
        },
        bubblingMouseEvents: true,
        onEachFeature: function (f, lyr) {
          var p = f.properties;
          if (CAN_HOVER) {
            lyr.bindTooltip(M.tooltipContent(T.areaName(p) + ": " + M.fmt(S("plan_area_tip"), {
              share: T.pct(p.share_beyond), access: T.score(p.accessibility)
            })), { sticky: true, className: "plan-tip" });
          }
          areaByKey[p.key] = lyr;
        }
      }).eachLayer(function (l) { areasLayer.addLayer(l); });
      areaLegend = c.legend();
    }
    function showArea(key) {
      var lyr = areaByKey[key];
      if (!lyr) { return; }
      if (highlighted && highlighted !== lyr) { highlighted.setStyle({ weight: 1, color: "#4a3c6b", opacity: 0.55 }); }
      lyr.setStyle({ weight: 4, color: "#0b4f6c", opacity: 1 });
      lyr.bringToFront();
      highlighted = lyr;
      M.fitVisible(lyr.getBounds(), 17);
    }

    /* --- the gap layer --- */
    function bandColor(p) {
      return p.unreachable ? UNREACHABLE_COLOR : BAND_COLORS[Math.min(p.band, BAND_COLORS.length - 1)];
    }
    var gapLegend = [];
    function drawGaps(fc, bands, minutes) {
      gapsLayer.clearLayers();
      L.geoJSON(fc, {
        renderer: canvas,
        interactive: false,
        style: function (f) {
          var p = f.properties;
          return { color: bandColor(p), weight: 4, opacity: 0.9, lineCap: "butt",
            dashArray: p.unreachable ? "6 4" : null };
        }
      }).eachLayer(function (l) { gapsLayer.addLayer(l); });
      gapLegend = (bands || []).map(function (b) {
        var text;
        if (b.unreachable) { text = S("plan_band_unreachable"); }
        else if (b.to_s === null) { text = M.fmt(S("plan_band_over"), { n: T.minutes(b.from_s) }); }
        else { text = M.fmt(S("plan_band"), { from: T.minutes(b.from_s), to: T.minutes(b.to_s) }); }
        return { kind: "stroke", color: bandColor({ band: b.band, unreachable: b.unreachable }),
          dashed: b.unreachable, text: text };
      });
      gapLegend.title = M.fmt(S("plan_gaps_title"), { n: T.num(minutes, minutes % 1 ? 1 : 0) });
    }

    /* --- the difference of two gap layers, per segment and fraction --- */
    function piecesBySegment(fc) {
      var out = {};
      ((fc && fc.features) || []).forEach(function (f) {
        var p = f.properties;
        if (p.segment_id === undefined || !f.geometry || f.geometry.type !== "LineString") { return; }
        (out[p.segment_id] = out[p.segment_id] || []).push({
          lo: p.from_fraction, hi: p.to_fraction, coords: f.geometry.coordinates, closed: p.closed
        });
      });
      return out;
    }
    /* the parts of [lo, hi] that none of ``others`` covers */
    function minus(lo, hi, others) {
      var parts = [[lo, hi]];
      others.forEach(function (o) {
        var next = [];
        parts.forEach(function (r) {
          if (o.hi <= r[0] || o.lo >= r[1]) { next.push(r); return; }
          if (o.lo > r[0]) { next.push([r[0], o.lo]); }
          if (o.hi < r[1]) { next.push([o.hi, r[1]]); }
        });
        parts = next;
      });
      return parts.filter(function (r) { return r[1] - r[0] > 1e-6; });
    }
    /* the part of a piece's line between segment fractions a and b (by length along it) */
    function cut(piece, a, b) {
      var c = piece.coords;
      var cos = Math.cos(c[0][1] * Math.PI / 180);
      var acc = [0];
      for (var i = 1; i < c.length; i++) {
        var dx = (c[i][0] - c[i - 1][0]) * cos, dy = c[i][1] - c[i - 1][1];
        acc.push(acc[i - 1] + Math.sqrt(dx * dx + dy * dy));
      }
      var total = acc[acc.length - 1];
      var span = piece.hi - piece.lo;
      if (!(total > 0) || !(span > 0)) { return []; }
      function at(f) {
        var target = (f - piece.lo) / span * total;
        for (var j = 1; j < c.length; j++) {
          if (acc[j] >= target) {
            var t = (target - acc[j - 1]) / ((acc[j] - acc[j - 1]) || 1);
            return [c[j - 1][1] + t * (c[j][1] - c[j - 1][1]), c[j - 1][0] + t * (c[j][0] - c[j - 1][0])];
          }
        }
        return [c[c.length - 1][1], c[c.length - 1][0]];
      }
      var line = [at(a)];
      for (var k = 1; k < c.length - 1; k++) {
        var f = piece.lo + acc[k] / total * span;
        if (f > a && f < b) { line.push([c[k][1], c[k][0]]); }
      }
      line.push(at(b));
      return line;
    }
    function difference(before, after) {
      var b = piecesBySegment(before), a = piecesBySegment(after);
      var covered = [], beyond = [];
      Object.keys(b).forEach(function (id) {
        b[id].forEach(function (piece) {
          minus(piece.lo, piece.hi, a[id] || []).forEach(function (r) { covered.push(cut(piece, r[0], r[1])); });
        });
      });
      Object.keys(a).forEach(function (id) {
        a[id].forEach(function (piece) {
          if (piece.closed) { return; }
          minus(piece.lo, piece.hi, b[id] || []).forEach(function (r) { beyond.push(cut(piece, r[0], r[1])); });
        });
      });
      return { covered: covered.filter(function (l) { return l.length > 1; }),
        beyond: beyond.filter(function (l) { return l.length > 1; }) };
    }

    /* --- what the scenario changes: items at once, the difference when computed --- */
    var scenarioItems = L.featureGroup();
    var diffLines = L.featureGroup();
    changeLayer.addLayer(diffLines);
    changeLayer.addLayer(scenarioItems);
    function symbolMarker(latlng, cls, glyph, label) {
      var icon = L.divIcon({ className: "plan-marker " + cls, html: "<span aria-hidden=\"true\"></span>",
        iconSize: [44, 44] });
      var m = L.marker(latlng, { icon: icon, keyboard: true, title: "", zIndexOffset: 500 });
      m.on("add", function () {
        var node = m.getElement();
        if (node) {
          node.firstChild.textContent = glyph;
          node.setAttribute("aria-label", label);
        }
      });
      m.bindTooltip(M.tooltipContent(label), { direction: "top", offset: [0, -16], className: "plan-tip" });
      return m;
    }
    function drawScenarioItems(items) {
      scenarioItems.clearLayers();
      items.close.forEach(function (r) {
        L.polyline(r.latlngs, { renderer: canvas, color: CLOSED, weight: 8, opacity: 0.85, interactive: false }).addTo(scenarioItems);
        L.polyline(r.latlngs, { renderer: canvas, color: "#ffffff", weight: 2, dashArray: "4 6", interactive: false }).addTo(scenarioItems);
      });
      items.add.forEach(function (o) {
        symbolMarker([o.lat, o.lon], "added", "+", o.name).addTo(scenarioItems);
      });
      items.remove.forEach(function (o) {
        symbolMarker([o.lat, o.lon], "removed", "×", M.fmt(S("plan_closed_office"), { name: o.name })).addTo(scenarioItems);
      });
    }
    var diffCount = { covered: 0, beyond: 0 };
    function drawDifference(before, after) {
      diffLines.clearLayers();
      var diff = difference(before, after);
      diff.covered.forEach(function (line) {
        L.polyline(line, { renderer: canvas, color: NEWLY_COVERED, weight: 6, opacity: 0.95, interactive: false }).addTo(diffLines);
      });
      diff.beyond.forEach(function (line) {
        L.polyline(line, { renderer: canvas, color: NEWLY_BEYOND, weight: 6, opacity: 0.95, interactive: false }).addTo(diffLines);
      });
      diffCount = { covered: diff.covered.length, beyond: diff.beyond.length };
      return diffCount;
    }
    function clearDifference() { diffLines.clearLayers(); diffCount = { covered: 0, beyond: 0 }; }

    /* --- the suggested sites: numbered markers with what each would newly cover --- */
    function drawSites(fc, demandUnit) {
      sitesLayer.clearLayers();
      (fc.features || []).forEach(function (f) {
        var p = f.properties;
        var label = M.fmt(S("plan_site_label"), { rank: p.rank }) + ": " + T.siteText(p, demandUnit);
        var m = symbolMarker([p.lat, p.lon], "site", String(p.rank), label);
        m.options.sigapRank = p.rank;
        m.bindPopup(M.popupContent(M.fmt(S("plan_site_label"), { rank: p.rank }), [
          [S("plan_site_newly"), T.km(p.newly_covered_length_m) + " (" + T.pct(p.newly_covered_share) + ")"],
          [S("plan_people"), p.newly_covered_people === null ? null : T.num(p.newly_covered_people)],
          [S("plan_share_after"), T.pct(p.share_length_beyond_after)]
        ]));
        sitesLayer.addLayer(m);
      });
    }
    function siteMarker(rank) {
      var found = null;
      sitesLayer.eachLayer(function (m) { if (m.options.sigapRank === rank) { found = m; } });
      return found;
    }

    /* --- the legend of what is on the map now --- */
    function legendSections(state) {
      var out = [];
      if (state.hasGaps) {
        out.push({ title: gapLegend.title, items: gapLegend });
      }
      if (state.hasAreas) {
        var titles = { share: "plan_legend_share", access: "plan_legend_access", change: "plan_legend_change" };
        out.push({ title: M.fmt(S(titles[state.colour]), { unit: state.unit }), items: areaLegend });
      }
      var more = [];
      if (state.hasScenario) {
        more.push({ kind: "stroke", color: NEWLY_COVERED, text: S("plan_newly_covered") });
        more.push({ kind: "stroke", color: NEWLY_BEYOND, text: S("plan_newly_beyond") });
      }
      if (state.closed) { more.push({ kind: "stroke", color: CLOSED, text: S("plan_closed_road") }); }
      if (state.added) { more.push({ kind: "symbol", cls: "added", glyph: "+", text: S("plan_added_office") }); }
      if (state.removed) { more.push({ kind: "symbol", cls: "removed", glyph: "×", text: S("plan_removed_office") }); }
      if (state.sites) { more.push({ kind: "symbol", cls: "site", glyph: "1", text: S("plan_site_symbol") }); }
      if (more.length) { out.push({ title: S("plan_legend_more"), items: more }); }
      return out;
    }
    /* the legend on the map: a button (closed below 1024 px), the same legend when open */
    var mapLegend = null;
    function addMapLegend() {
      var Control = L.Control.extend({
        options: { position: "bottomright" },
        onAdd: function () {
          var box = L.DomUtil.create("div", "leaflet-control plan-map-legend");
          var button = L.DomUtil.create("button", "", box);
          button.type = "button";
          button.textContent = S("plan_legend");
          button.setAttribute("aria-expanded", "false");
          button.setAttribute("aria-controls", "plan-map-legend-body");
          var body = L.DomUtil.create("div", "plan-legend", box);
          body.id = "plan-map-legend-body";
          L.DomEvent.disableClickPropagation(box);
          L.DomEvent.disableScrollPropagation(box);
          L.DomEvent.on(button, "click", function () {
            var open = !box.classList.contains("is-open");
            box.classList.toggle("is-open", open);
            button.setAttribute("aria-expanded", open ? "true" : "false");
          });
          return box;
        }
      });
      mapLegend = new Control().addTo(M.map());
      var box = mapLegend.getContainer();
      box.style.display = "none";
      if (SIGAP.ui && SIGAP.ui.isDesktop && SIGAP.ui.isDesktop()) {
        box.classList.add("is-open");
        box.querySelector("button").setAttribute("aria-expanded", "true");
      }
    }
    function showLegend(state) {
      var sections = legendSections(state);
      var panel = document.getElementById("planning-legend");
      panel.textContent = "";
      panel.appendChild(T.legendNodes(sections));
      if (!mapLegend) { addMapLegend(); }
      var box = mapLegend.getContainer();
      var body = box.querySelector(".plan-legend");
      body.textContent = "";
      body.appendChild(T.legendNodes(sections));
      box.style.display = sections.length ? "" : "none";
    }

    return {
      drawAreas: drawAreas, showArea: showArea, drawGaps: drawGaps,
      drawScenarioItems: drawScenarioItems, drawDifference: drawDifference,
      clearDifference: clearDifference, drawSites: drawSites, siteMarker: siteMarker,
      showLegend: showLegend, difference: difference,
      clearAnalysis: function () {
        areasLayer.clearLayers(); gapsLayer.clearLayers(); sitesLayer.clearLayers(); clearDifference();
      }
    };
  };
})();

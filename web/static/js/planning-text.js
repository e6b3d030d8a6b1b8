/* The planning page's words and figures: numbers in the page's language, the summary of an
 * answer as text (what the map shows, for everyone and for screen readers), the legend, the
 * scenario's comparison, the suggested sites and the per-area table. Every value from the
 * API goes on the page with textContent. Used by js/planning.js:
 *   var T = SIGAP.planning.text(M);
 */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  var P = SIGAP.planning = SIGAP.planning || {};

  P.text = function (M) {
    var d = M.data();
    var S = M.S;
    var el = M.el;
    var locale = d.lang === "en" ? "en-GB" : "id-ID";
    var formats = {};

    /* --- numbers --- */
    function num(n, digits) {
      digits = digits || 0;
      if (!formats[digits]) {
        formats[digits] = new Intl.NumberFormat(locale, {
          minimumFractionDigits: digits, maximumFractionDigits: digits
        });
      }
      return formats[digits].format(n);
    }
    var percents = {};
    function pct(share, digits) {
      if (share === null || share === undefined) { return "–"; }
      digits = digits === undefined ? 1 : digits;
      if (!percents[digits]) {
        percents[digits] = new Intl.NumberFormat(locale, {
          style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits
        });
      }
      return percents[digits].format(share);
    }
    function km(m) { return M.fmt(S("km"), { n: num(m / 1000, 1) }); }
    function signed(text, value) { return value > 0 ? "+" + text : (value < 0 ? "−" + text : text); }
    /* a change of a share, in percentage points: "−29,1 poin" */
    function points(delta, digits) {
      if (delta === null || delta === undefined) { return "–"; }
      var n = num(Math.abs(delta) * 100, digits === undefined ? 1 : digits);
      return signed(M.fmt(S("plan_points"), { n: n }), delta);
    }
    function signedNum(delta, digits) {
      if (delta === null || delta === undefined) { return "–"; }
      return signed(num(Math.abs(delta), digits), delta);
    }
    function signedKm(deltaM) {
      if (deltaM === null || deltaM === undefined) { return "–"; }
      return signed(km(Math.abs(deltaM)), deltaM);
    }
    /* a score such as 0.0123 or 12.3: three significant digits */
    var SCORE_MIN = 0.001;
    function score(v) {
      if (v === null || v === undefined) { return "–"; }
      if (v === 0) { return num(0); }
      if (Math.abs(v) < SCORE_MIN) { return "< " + num(SCORE_MIN, 3); }
      var digits = Math.max(0, Math.min(3, 2 - Math.floor(Math.log10(Math.abs(v)))));
      return num(v, digits);
    }
    /* "capacity per km of road" or "... per 1,000 people", from the answer's demand unit */
    function accessUnit(a) { return S(a.demand_unit === "people" ? "plan_access_people" : "plan_access_road"); }
    function minutes(s) { return num(s / 60, s % 60 ? 1 : 0); }

    function categoryLabel(code) { return d.planning.categoryLabels[code] || code; }
    function areaName(p) {
      if (p.name) { return p.name; }
      if (p.code) { return p.code; }
      return M.fmt(S("plan_hexagon"), { key: p.key });
    }
    /* "Kesehatan · jalan kaki · T = 15 menit" */
    function choiceLine(a) {
      return [categoryLabel(a.category), M.modeText(a.mode),
        M.fmt(S("plan_t_is"), { n: num(a.minutes, a.minutes % 1 ? 1 : 0) })].join(" · ");
    }

    /* --- the answer in words --- */
    function hasPeople(summary) { return summary.population !== null && summary.population !== undefined; }
    /* the headline: "52,9 % of roads beyond 15 min" (peek and #result) */
    function headline(a, summary) {
      return M.fmt(S("plan_headline"), {
        share: pct(summary.share_length_beyond), n: num(a.minutes, a.minutes % 1 ? 1 : 0)
      });
    }
    function summaryNodes(a, requestedBy) {
      var s = a.summary;
      var t = num(a.minutes, a.minutes % 1 ? 1 : 0);
      var out = [el("p", "note", choiceLine(a))];
      out.push(el("p", "headline", M.fmt(S("plan_roads_beyond"), {
        share: pct(s.share_length_beyond), beyond: km(s.road_length_beyond_m),
        total: km(s.road_length_m), n: t
      })));
      out.push(el("p", null, M.fmt(S("plan_nodes_beyond"), {
        beyond: num(s.nodes_beyond), total: num(s.nodes), share: pct(s.share_nodes_beyond)
      })));
      if (s.nodes_unreachable) {
        out.push(el("p", null, M.fmt(S("plan_nodes_unreachable"), { n: num(s.nodes_unreachable) })));
      }
      if (hasPeople(s)) {
        out.push(el("p", null, M.fmt(S("plan_people_beyond"), {
          beyond: num(s.population_beyond), total: num(s.population)
        })));
      }
      var f = a.facilities || { count: 0, on_network: 0, off_network: [] };
      if (!f.count) {
        out.push(el("p", "headline", S("plan_no_facilities")));
      } else {
        out.push(el("p", null, M.fmt(S("plan_facilities"), { n: num(f.count), on: num(f.on_network) })));
        if (f.off_network && f.off_network.length) {
          out.push(el("p", "note", M.fmt(S("plan_off_network"), { n: num(f.off_network.length) })));
        }
      }
      var n = (a.areas && a.areas.features) ? a.areas.features.length : 0;
      var areasText = a.areas_kind === "hex"
        ? M.fmt(S("plan_by_hex"), { n: num(n), res: a.hex_resolution })
        : M.fmt(S("plan_by_admin"), { n: num(n), level: a.admin_level });
      out.push(el("p", "note", areasText));
      if (requestedBy && requestedBy !== a.areas_kind) {  /* admin areas asked, none loaded */
        out.push(el("p", "note", S("plan_no_admin_areas")));
      }
      if (a.outside && a.outside.road_length_m > 0) {
        out.push(el("p", "note", M.fmt(S("plan_outside"), {
          total: km(a.outside.road_length_m), beyond: km(a.outside.road_length_beyond_m)
        })));
      }
      var box = el("div", "plan-figures");
      out.forEach(function (node) { box.appendChild(node); });
      return box;
    }

    /* --- the scenario against the baseline: a headline, then each measure as
     * "now → with the scenario (change)" --- */
    function scenarioNodes(sc) {
      var b = sc.baseline.summary;
      var r = sc.result.summary;
      var c = sc.change.summary;
      var box = el("div", "plan-figures");
      box.appendChild(el("p", "headline", M.fmt(S("plan_scenario_headline"), {
        before: pct(b.share_length_beyond), after: pct(r.share_length_beyond),
        change: points(c.share_length_beyond)
      })));
      var dl = el("dl", "plan-compare");
      function row(label, before, after, change) {
        dl.appendChild(el("dt", null, label));
        dl.appendChild(el("dd", null, M.fmt(S("plan_compare"), { before: before, after: after, change: change })));
      }
      row(S("plan_share_beyond"), pct(b.share_length_beyond), pct(r.share_length_beyond),
        points(c.share_length_beyond));
      row(S("plan_road_beyond"), km(b.road_length_beyond_m), km(r.road_length_beyond_m),
        signedKm(c.road_length_beyond_m));
      row(S("plan_nodes"), num(b.nodes_beyond), num(r.nodes_beyond), signedNum(c.nodes_beyond, 0));
      row(S("plan_unreachable"), num(b.nodes_unreachable), num(r.nodes_unreachable),
        signedNum(c.nodes_unreachable, 0));
      if (hasPeople(b)) {
        row(S("plan_people"), num(b.population_beyond), num(r.population_beyond),
          signedNum(c.population_beyond, 0));
      }
      box.appendChild(dl);
      box.appendChild(el("p", "note", M.fmt(S("plan_areas_changed"), { n: num(sc.change.areas.length) })));
      return box;
    }

    /* --- the legend: sections of swatches, strokes and symbols --- */
    function legendNodes(sections) {
      var root = el("div");
      sections.forEach(function (section) {
        if (!section.items.length) { return; }
        root.appendChild(el("h4", null, section.title));
        var ul = el("ul");
        section.items.forEach(function (item) {
          var li = el("li");
          var mark;
          if (item.kind === "stroke") {
            mark = el("span", "stroke" + (item.dashed ? " dashed" : ""));
            mark.style.borderTopColor = item.color;
          } else if (item.kind === "symbol") {
            mark = el("span", "symbol " + item.cls, item.glyph || "");
          } else {
            mark = el("span", "swatch" + (item.color ? "" : " none"));
            if (item.color) { mark.style.background = item.color; }
          }
          mark.setAttribute("aria-hidden", "true");
          li.appendChild(mark);
          li.appendChild(el("span", null, item.text));
          ul.appendChild(li);
        });
        root.appendChild(ul);
      });
      return root;
    }

    /* --- the per-area table (rows sorted by share beyond T, most first) --- */
    function areaTable(table, features, opts) {
      var people = features.some(function (f) { return f.properties.population !== null; });
      var change = opts.change || {};
      var cols = [
        [S("plan_col_area"), null],
        [S("plan_col_road_km"), function (p) { return num(p.road_length_m / 1000, 1); }],
        [S("plan_col_beyond_km"), function (p) { return num(p.road_length_beyond_m / 1000, 1); }],
        [S("plan_col_share"), function (p) { return pct(p.share_beyond); }]
      ];
      if (opts.scenario) {
        cols.push([S("plan_col_change"), function (p) {
          var c = change[p.key];
          return c ? points(c.share_beyond) : points(0);
        }]);
      }
      if (people) {
        cols.push([S("plan_col_people"), function (p) {
          return p.population_beyond === null ? "–" : num(p.population_beyond);
        }]);
      }
      cols.push([M.fmt(S("plan_col_access"), { unit: opts.unit }), function (p) { return score(p.accessibility); }]);
      table.textContent = "";
      table.appendChild(el("caption", null, M.fmt(S(opts.scenario ? "plan_table_caption_scenario"
        : "plan_table_caption"), { n: num(features.length) })));
      var head = el("tr");
      cols.forEach(function (c) { head.appendChild(el("th", null, c[0])).setAttribute("scope", "col"); });
      table.appendChild(el("thead")).appendChild(head);
      var rows = features.slice().sort(function (a, b) {
        var x = a.properties.share_beyond, y = b.properties.share_beyond;
        if (x === null) { return y === null ? 0 : 1; }
        if (y === null) { return -1; }
        return y - x || b.properties.road_length_m - a.properties.road_length_m;
      });
      var body = el("tbody");
      rows.forEach(function (f) {
        var p = f.properties;
        var tr = el("tr");
        var name = el("th");
        name.setAttribute("scope", "row");
        var button = el("button", null, areaName(p));
        button.type = "button";
        button.dataset.key = p.key;
        button.setAttribute("aria-label", M.fmt(S("plan_show_area"), { name: areaName(p) }));
        name.appendChild(button);
        tr.appendChild(name);
        cols.slice(1).forEach(function (c, i) {
          var td = el("td", null, c[1](p));
          if (opts.scenario && i === 3) {
            var delta = change[p.key] ? change[p.key].share_beyond : 0;
            if (delta < 0) { td.className = "better"; } else if (delta > 0) { td.className = "worse"; }
          }
          tr.appendChild(td);
        });
        body.appendChild(tr);
      });
      table.appendChild(body);
    }

    /* --- the suggested sites --- */
    function siteText(p, demandUnit) {
      var parts = [M.fmt(S("plan_site_covers"), {
        km: km(p.newly_covered_length_m), share: pct(p.newly_covered_share)
      })];
      if (p.newly_covered_people !== null && p.newly_covered_people !== undefined) {
        parts.push(M.fmt(S("plan_site_people"), { n: num(p.newly_covered_people) }));
      }
      parts.push(M.fmt(S("plan_site_after"), { share: pct(p.share_length_beyond_after) }));
      return parts.join("; ");
    }
    function sitesIntro(s) {
      return M.fmt(S("plan_sites_intro"), {
        before: pct(s.baseline.share_length_beyond), after: pct(s.after.share_length_beyond)
      });
    }

    return {
      num: num, pct: pct, km: km, points: points, score: score, minutes: minutes,
      accessUnit: accessUnit, categoryLabel: categoryLabel, areaName: areaName, choiceLine: choiceLine,
      headline: headline, summaryNodes: summaryNodes, scenarioNodes: scenarioNodes,
      legendNodes: legendNodes, areaTable: areaTable, siteText: siteText, sitesIntro: sitesIntro
    };
  };
})();

/* The planning map (/planning): administrative areas, the offices, and the area reachable
 * within the chosen time from a tapped point (three bands: a third, two thirds, all). */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  SIGAP.pages = SIGAP.pages || {};
  var COLORS = ["#1a9850", "#fdae61", "#d73027"];
  SIGAP.pages.planning = function (M) {
    var d = M.data();
    var cluster = M.layer(d.names.clusters.offices);
    d.markers.items.forEach(function (o) { cluster.addLayer(M.layerMarker(d.markers.layer, o)); });
    var admin = M.layer(d.names.groups.admin);
    M.getJSON(d.areas.url).then(function (fc) {
      L.geoJSON(fc, {
        style: { color: "#6a1b9a", weight: 2, fillOpacity: 0.05 },
        onEachFeature: function (feature, lyr) {
          var p = feature.properties || {};
          lyr.bindTooltip(M.tooltipContent(M.featureTitle(d.areas.layer, p)));
          lyr.bindPopup(M.featurePopup(d.areas.layer, p));
        }
      }).eachLayer(function (l) { admin.addLayer(l); });
    }).catch(function () { /* the layer stays empty; the map still works */ });
    var iso = M.layer(d.names.groups.isochrone);
    var m = M.map();
    var minutesSelect = document.getElementById("minutes");
    var seq = 0;
    var point = null;
    M.startHint();  /* kept before any answer replaces it */
    function run() {
      if (!point) { M.peek(M.choiceText(minutesSelect), M.startHint()); return; }
      var minutes = minutesSelect.value;
      var mode = M.checkedMode();
      var mine = ++seq;
      M.say(M.S("isochrone_loading"));
      document.body.dataset.isoState = "loading";
      var total = parseFloat(minutes);
      var bands = [total / 3, 2 * total / 3, total].map(function (v) { return Math.round(v * 10) / 10; });
      var url = "/api/isochrone?" + new URLSearchParams({
        lat: point.lat.toFixed(6), lon: point.lng.toFixed(6), minutes: bands.join(","), mode: mode
      }).toString();
      M.getJSON(url).then(function (fc) {
        if (mine !== seq) { return; }
        iso.clearLayers();
        M.dotMarker(point, null, { size: "origin", interactive: false }).addTo(iso);
        L.geoJSON(fc, { style: function (f) {
          var i = bands.indexOf(f.properties.minutes);
          var color = COLORS[i < 0 ? COLORS.length - 1 : i];
          return { color: color, weight: 2, fillColor: color, fillOpacity: 0.3 };
        }, onEachFeature: function (f, lyr) {
          var n = f.properties.minutes;
          lyr.bindTooltip(M.tooltipContent(M.fmt(M.S("isochrone_minutes"), { n: M.decimal(n, n % 1 ? 1 : 0) })));
        } }).eachLayer(function (l) { iso.addLayer(l); });
        var text = M.fmt(M.S("isochrone_minutes"), { n: minutes });
        M.setResult([M.el("p", "trip", text + " (" + M.modeText(mode) + ")")]);
        M.peek(text, M.modeText(mode), "answer");
        document.body.dataset.isoState = "done";
      }).catch(function (err) {
        if (mine !== seq) { return; }
        M.say(M.errorText(err.status, err.body), true);
        document.body.dataset.isoState = "error";
      });
    }
    m.on("click", function (e) { M.collapseSheet(); point = e.latlng; run(); });
    minutesSelect.addEventListener("change", run);
    document.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", run); });
  };
})();

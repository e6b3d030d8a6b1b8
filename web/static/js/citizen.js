/* The citizen map (/): offices by category; a tap on the map or "My location" chooses a
 * starting point, and the route to the nearest office of the chosen kind is drawn. */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  SIGAP.pages = SIGAP.pages || {};
  SIGAP.pages.citizen = function (M) {
    var d = M.data();
    var mk = d.markers;
    mk.items.forEach(function (o) {
      var cluster = M.layer(d.names.clusters[M.classOf(mk.layer, o)]);
      if (cluster) { cluster.addLayer(M.layerMarker(mk.layer, o)); }
    });
    var m = M.map();
    var routeLayer = L.layerGroup().addTo(m);
    var category = document.getElementById("category");
    var origin = null;
    var seq = 0;
    M.startHint();  /* kept before any answer replaces it */
    function search() {
      if (!origin) { M.peek(M.choiceText(category), M.startHint()); return; }
      var mode = M.checkedMode();
      var mine = ++seq;
      routeLayer.clearLayers();
      M.dotMarker(origin, null, { size: "origin", interactive: false }).addTo(routeLayer);
      M.say(M.S("searching"));
      document.body.dataset.routeState = "loading";
      var url = "/api/nearest?" + new URLSearchParams({
        lat: origin.lat.toFixed(6), lon: origin.lng.toFixed(6), category: category.value, mode: mode, k: "1"
      }).toString();
      M.getJSON(url).then(function (res) {
        if (mine !== seq) { return; }
        if (res.unreachable || !res.results || !res.results.length) {
          M.say(M.S("unreachable"), true);
          document.body.dataset.routeState = "unreachable";
          return;
        }
        var best = res.results[0];
        var line = L.geoJSON(best.route, {
          interactive: false, style: { color: "#0b4f6c", weight: 6, opacity: 0.85 }
        });
        line.addTo(routeLayer);
        var f = best.facility;
        /* dashed links: from the chosen point to the road, from the road to the office */
        var coords = (best.route && best.route.coordinates) || [];
        var dashed = { color: "#0b4f6c", weight: 3, opacity: 0.8, dashArray: "6 6", interactive: false };
        if (coords.length) {
          L.polyline([origin, [coords[0][1], coords[0][0]]], dashed).addTo(routeLayer);
          var last = coords[coords.length - 1];
          L.polyline([[last[1], last[0]], [f.lat, f.lon]], dashed).addTo(routeLayer);
        }
        M.dotMarker([f.lat, f.lon], "#ffd600", { size: "big", interactive: false, zIndexOffset: 1000 })
          .addTo(routeLayer);
        var name = f.name || M.S("name_missing");
        var trip = M.tripText(best.travel_time_s, best.distance_m, res.mode);
        M.setResult([M.el("p", null, M.S("nearest_is")), M.el("p", "facility-name", name),
          M.el("p", "trip", trip)]);
        M.peek(name, trip, "answer");
        M.fitVisible(line.getBounds().extend(origin).extend([f.lat, f.lon]));
        document.body.dataset.routeState = "done";
      }).catch(function (err) {
        if (mine !== seq) { return; }
        M.say(M.errorText(err.status, err.body), true);
        document.body.dataset.routeState = "error";
      });
    }
    function startAt(latlng) { origin = latlng; search(); }
    function locate() {
      M.locate(function (latlng) { M.collapseSheet(); startAt(latlng); });
    }
    m.on("click", function (e) { M.collapseSheet(); startAt(e.latlng); });
    category.addEventListener("change", search);
    document.querySelectorAll("input[name=mode]").forEach(function (r) { r.addEventListener("change", search); });
    document.getElementById("locate").addEventListener("click", locate);
    M.addLocateControl(locate);
  };
})();

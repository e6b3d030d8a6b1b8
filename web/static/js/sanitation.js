/* The sanitation map (/sanitation): waste bins by kind, roads coloured by condition class;
 * a tap on a road shows its details. */
(function () {
  "use strict";
  var SIGAP = window.SIGAP = window.SIGAP || {};
  SIGAP.pages = SIGAP.pages || {};
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
  };
})();

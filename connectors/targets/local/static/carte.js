// The dataset's map: shapes drawn from the data shipped next to the page (carte.js), OpenStreetMap
// tiles underneath when online. Popups list the row's fields, written as text (never as HTML).
(function () {
  "use strict";
  var box = document.getElementById("carte");
  if (!box || !window.L || !window.moissonCarte) { return; }
  // No fade: a popup half faded in has too little contrast (and motion helps nobody here).
  var map = L.map(box, {keyboard: true, fadeAnimation: false, zoomControl: false});
  // Leaflet's own controls speak English ("Zoom in", "Zoom out", its link's title): the page is in French.
  L.control.zoom({zoomInTitle: "Zoom avant", zoomOutTitle: "Zoom arrière"}).addTo(map);
  map.attributionControl.setPrefix(
    "<a href=\"https://leafletjs.com\" title=\"Bibliothèque JavaScript de cartes interactives\">Leaflet</a>");
  // Same for the popup's close button ("Close popup").
  map.on("popupopen", function (event) {
    var close = event.popup.getElement().querySelector(".leaflet-popup-close-button");
    if (close) { close.setAttribute("aria-label", "Fermer la fiche"); close.title = "Fermer la fiche"; }
  });
  L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19,
    attribution: "© contributeurs <a href=\"https://www.openstreetmap.org/copyright\">OpenStreetMap</a>"
  }).addTo(map);
  function popup(feature) {
    var list = document.createElement("dl");
    list.tabIndex = 0;  // it scrolls when the row is long: keyboard users must reach it
    list.setAttribute("aria-label", "Champs de la ligne");
    Object.keys(feature.properties || {}).forEach(function (key) {
      var value = feature.properties[key];
      if (value === null || value === "") { return; }
      var dt = document.createElement("dt"); dt.textContent = key;
      var dd = document.createElement("dd"); dd.textContent = String(value);
      list.appendChild(dt); list.appendChild(dd);
    });
    return list;
  }
  var layer = L.geoJSON(window.moissonCarte, {
    pointToLayer: function (feature, latlng) {
      return L.circleMarker(latlng, {radius: 7, color: "#000091", weight: 2, fillColor: "#6a6af4", fillOpacity: 0.8});
    },
    style: function () { return {color: "#000091", weight: 2}; },
    onEachFeature: function (feature, item) { item.bindPopup(function () { return popup(feature); }); }
  }).addTo(map);
  window.moissonCouche = layer;
  var bounds = layer.getBounds();
  if (bounds.isValid()) { map.fitBounds(bounds, {padding: [20, 20], maxZoom: 17}); } else { map.setView([46.6, 2.4], 5); }
})();

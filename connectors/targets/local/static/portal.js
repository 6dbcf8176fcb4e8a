// Client-side search of the portal's index: works from file:// and any static server (no request made).
(function () {
  "use strict";
  var form = document.getElementById("recherche");
  if (!form) { return; }
  var items = Array.prototype.slice.call(document.querySelectorAll("#jeux > li"));
  var count = document.getElementById("compte");
  function fold(text) {
    return (text || "").toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, "");
  }
  function apply() {
    var words = fold(form.elements.q.value).split(/\s+/).filter(Boolean);
    var wanted = {theme: form.elements.theme.value, producteur: form.elements.producteur.value,
                  schema: form.elements.schema.value};
    var shown = 0;
    items.forEach(function (item) {
      var text = fold(item.getAttribute("data-texte"));
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      Object.keys(wanted).forEach(function (key) {
        var values = (item.getAttribute("data-" + key) || "").split("|");
        if (wanted[key] && values.indexOf(wanted[key]) < 0) { ok = false; }
      });
      item.hidden = !ok;
      if (ok) { shown += 1; }
    });
    count.textContent = shown + (shown > 1 ? " jeux de données affichés" : " jeu de données affiché")
      + " sur " + items.length;
  }
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); apply(); });
  form.addEventListener("reset", function () { setTimeout(apply, 0); });
  form.hidden = false;
  apply();
})();

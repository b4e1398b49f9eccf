// Place suggestions for the search box (progressive enhancement: the form works without this).
(function () {
  var input = document.getElementById("q");
  var list = document.getElementById("place-suggestions");
  if (!input || !list || !window.fetch) { return; }
  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    var text = input.value.trim();
    if (text.length < 2 || /\d/.test(text)) { list.innerHTML = ""; return; }
    timer = setTimeout(function () {
      fetch("/places?limit=8&q=" + encodeURIComponent(text))
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (body) {
          list.innerHTML = "";
          body.items.forEach(function (place) {
            var option = document.createElement("option");
            option.value = place.name;
            var where = [place.district && place.district.name, place.police_force && place.police_force.name];
            option.label = where.filter(Boolean).join(" · ");
            list.appendChild(option);
          });
        })
        .catch(function () { list.innerHTML = ""; });
    }, 150);
  });
})();

/* hyperlocal appeals widget: put
     <script src="{{ url_for('embed.appeals_js', _external=True) }}" data-near="WV11 1AA" async></script>
   where the list should appear (or data-token="<subscription feed token>"; data-kinds, data-limit).
   It keeps the last good list in this browser, so a failed fetch still shows it, with when it
   was updated; it never shows an error. Style it with the .hl-* classes. */
(function () {
  var script = document.currentScript;
  if (!script) { return; }
  var base = script.src.replace(/\/embed\/appeals\.js.*$/, "");
  var params = new URLSearchParams();
  ["near", "token", "kinds", "limit"].forEach(function (name) {
    var value = script.getAttribute("data-" + name);
    if (value) { params.set(name, value); }
  });
  var key = "hyperlocal-appeals:" + params.toString();
  var box = document.createElement("div");
  box.className = "hl-widget";
  box.setAttribute("aria-live", "polite");
  script.parentNode.insertBefore(box, script.nextSibling);

  function ago(iso) {
    if (!iso) { return "not updated yet"; }
    var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 1) { return "updated just now"; }
    if (minutes < 60) { return "updated " + minutes + " minute" + (minutes === 1 ? "" : "s") + " ago"; }
    var hours = Math.floor(minutes / 60);
    if (hours < 48) { return "updated " + hours + " hour" + (hours === 1 ? "" : "s") + " ago"; }
    return "updated " + Math.floor(hours / 24) + " days ago";
  }

  function render(body) {
    box.textContent = "";
    if (body.items && body.items.length) {
      var list = document.createElement("ul");
      list.className = "hl-appeals";
      body.items.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "hl-appeal hl-" + item.kind;
        var kind = document.createElement("span");
        kind.className = "hl-kind";
        kind.textContent = item.label + " ";
        var link = document.createElement("a");
        link.href = item.url;
        link.rel = "noopener";
        link.textContent = item.title;
        li.appendChild(kind);
        li.appendChild(link);
        list.appendChild(li);
      });
      box.appendChild(list);
    } else {
      var empty = document.createElement("p");
      empty.className = "hl-empty";
      empty.textContent = "No police appeals or warnings for this area right now.";
      box.appendChild(empty);
    }
    var updated = document.createElement("p");
    updated.className = "hl-updated";
    updated.textContent = "Police appeals via hyperlocal · " + ago(body.checked_at || body.fetched_at);
    box.appendChild(updated);
  }

  var kept = null;
  try { kept = JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { kept = null; }
  if (kept) { render(kept); }
  fetch(base + "/embed/appeals.json?" + params.toString())
    .then(function (response) { if (!response.ok) { throw new Error(); } return response.json(); })
    .then(function (body) {
      if (body.problem && kept) { return; }  // a misconfigured snippet: keep what worked
      body.fetched_at = new Date().toISOString();
      try { window.localStorage.setItem(key, JSON.stringify(body)); } catch (e) { /* full */ }
      render(body);
    })
    .catch(function () { if (!kept) { render({ items: [] }); } });
})();

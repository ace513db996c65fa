// beamflame flame graph: hover, zoom, search. Embedded verbatim in every interactive SVG
// (and HTML page). Names are only ever read and written as text (textContent), never as
// markup, so a frame named like a script tag stays text.
(function () {
  "use strict";
  var svg = document.getElementById("bf-flame");
  if (!svg) return;
  var xpad = +svg.getAttribute("data-xpad"), fontSize = +svg.getAttribute("data-font-size");
  var fontWidth = +svg.getAttribute("data-font-width"), total = +svg.getAttribute("data-total");
  var unit = svg.getAttribute("data-unit"), inverted = svg.getAttribute("data-inverted") === "1";
  var width = +svg.getAttribute("width"), full = width - 2 * xpad;
  var frames = Array.prototype.slice.call(svg.querySelectorAll("g.func_g"));
  var details = svg.getElementById ? svg.getElementById("bf-details") : document.getElementById("bf-details");
  var matched = document.getElementById("bf-matched"), unzoomBtn = document.getElementById("bf-unzoom");
  var searchBtn = document.getElementById("bf-search"), caseBtn = document.getElementById("bf-case");
  var state = { zoom: -1, search: "", ignoreCase: false };
  var info = frames.map(function (g, i) {
    var r = g.querySelector("rect"), t = g.querySelector("title").textContent;
    var name = t.substring(0, t.lastIndexOf(" ("));
    return { g: g, rect: r, text: g.querySelector("text"), name: name, i: i,
             w: +g.getAttribute("data-w"), x: +r.getAttribute("x"), width: +r.getAttribute("width"),
             y: +r.getAttribute("y"), fill: r.getAttribute("fill") };
  });
  function pct(a, b) { return b > 0 ? (100 * a / b).toFixed(2) : "0.00"; }
  function label(f, w) {
    var chars = Math.floor(w / (fontSize * fontWidth));
    if (chars < 3) return "";
    var cps = Array.from(f.name);
    return cps.length <= chars ? f.name : cps.slice(0, chars - 2).join("") + "..";
  }
  function place(f, x, w) {
    f.rect.setAttribute("x", x.toFixed(2));
    f.rect.setAttribute("width", w.toFixed(2));
    f.text.setAttribute("x", (x + 3).toFixed(2));
    f.text.textContent = label(f, w);
  }
  function describe(f) {
    var z = state.zoom >= 0 ? info[state.zoom] : null;
    var s = f.name + " (" + f.w.toLocaleString("en-US") + " " + unit + ", " + pct(f.w, total) + "%";
    if (z) s += "; " + pct(f.w, z.w) + "% of " + z.name;
    return s + ")";
  }
  function deeper(a, b) { return inverted ? a.y > b.y : a.y < b.y; }
  function applyZoom() {
    var z = state.zoom >= 0 ? info[state.zoom] : null, eps = 0.0001;
    info.forEach(function (f) {
      f.g.style.display = ""; f.g.style.opacity = "";
      if (!z) { place(f, f.x, f.width); return; }
      var ratio = full / z.width;
      if (f === z || (!deeper(f, z) && f.x <= z.x + eps && f.x + f.width >= z.x + z.width - eps)) {
        place(f, xpad, full);                       // the zoomed frame and its ancestors
        if (f !== z) f.g.style.opacity = "0.5";
      } else if (deeper(f, z) && f.x >= z.x - eps && f.x + f.width <= z.x + z.width + eps) {
        place(f, xpad + (f.x - z.x) * ratio, f.width * ratio);
      } else {
        f.g.style.display = "none";
      }
    });
    unzoomBtn.style.opacity = z ? "1" : "0";
  }
  function applySearch() {
    var re = null;
    if (state.search) {
      try { re = new RegExp(state.search, state.ignoreCase ? "i" : ""); } catch (e) { re = null; }
    }
    var spans = [];
    info.forEach(function (f) {
      var hit = re !== null && re.test(f.name);
      f.rect.setAttribute("fill", hit ? "rgb(230,0,230)" : f.fill);
      if (hit) spans.push([f.x, f.x + f.width]);
    });
    // matched share of the whole: union of the matched frames' extents (nested matches once)
    spans.sort(function (a, b) { return a[0] - b[0]; });
    var sum = 0, end = -Infinity;
    spans.forEach(function (s) {
      if (s[0] >= end) { sum += s[1] - s[0]; end = s[1]; }
      else if (s[1] > end) { sum += s[1] - end; end = s[1]; }
    });
    matched.textContent = re ? "Matched: " + pct(sum, full) + "%" : "";
    searchBtn.style.opacity = re ? "1" : "0.6";
    caseBtn.textContent = state.ignoreCase ? "[ic]" : "ic";
  }
  function saveState() {
    var parts = [];
    if (state.zoom >= 0) parts.push("z=" + state.zoom);
    if (state.search) parts.push("s=" + encodeURIComponent(state.search));
    if (state.ignoreCase) parts.push("i=1");
    var h = parts.length ? "#" + parts.join("&") : " ";
    try { history.replaceState(null, "", h === " " ? location.pathname + location.search : h); }
    catch (e) { if (parts.length) location.hash = h; }
  }
  function loadState() {
    var h = (location.hash || "").replace(/^#/, "");
    h.split("&").forEach(function (kv) {
      var i = kv.indexOf("="), k = kv.substring(0, i), v = kv.substring(i + 1);
      if (k === "z" && /^[0-9]+$/.test(v) && +v < info.length) state.zoom = +v;
      else if (k === "s") { try { state.search = decodeURIComponent(v); } catch (e) {} }
      else if (k === "i") state.ignoreCase = v === "1";
    });
  }
  function update() { applyZoom(); applySearch(); saveState(); }
  info.forEach(function (f) {
    f.g.addEventListener("mouseover", function () { details.textContent = describe(f); });
    f.g.addEventListener("mouseout", function () { details.textContent = " "; });
    f.g.addEventListener("click", function () { state.zoom = f.i; update(); });
  });
  unzoomBtn.addEventListener("click", function () { state.zoom = -1; update(); });
  searchBtn.addEventListener("click", function () {
    var term = window.prompt("Search for (regular expression):", state.search);
    if (term !== null) { state.search = term; update(); }
  });
  caseBtn.addEventListener("click", function () { state.ignoreCase = !state.ignoreCase; update(); });
  document.addEventListener("keydown", function (e) {
    if ((e.ctrlKey || e.metaKey) && e.key === "f") { e.preventDefault(); searchBtn.dispatchEvent(new Event("click")); }
    else if (e.key === "Escape") { state.zoom = -1; state.search = ""; update(); }
  });
  window.addEventListener("hashchange", function () {
    state = { zoom: -1, search: "", ignoreCase: false }; loadState(); applyZoom(); applySearch();
  });
  // for tests and tools: the current view
  svg.bfState = function () { return { zoom: state.zoom, search: state.search, ignoreCase: state.ignoreCase, matched: matched.textContent }; };
  loadState(); applyZoom(); applySearch();
})();

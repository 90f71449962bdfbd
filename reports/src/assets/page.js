// The report's only script: timeline zoom and highlighting the op a link points at.
(function () {
  "use strict";
  var tl = document.querySelector(".tl");
  function zoom(by) {
    if (!tl) return;
    var cur = parseFloat(getComputedStyle(tl).getPropertyValue("--row")) || 16;
    var next = Math.max(4, Math.min(64, Math.round(cur * by)));
    tl.style.setProperty("--row", next + "px");
  }
  document.querySelectorAll("[data-zoom]").forEach(function (b) {
    b.addEventListener("click", function () {
      var z = b.getAttribute("data-zoom");
      if (z === "reset") { if (tl) tl.style.removeProperty("--row"); } else { zoom(z === "+" ? 1.5 : 1 / 1.5); }
    });
  });
  var flashed = null;
  function show() {
    var id = decodeURIComponent(location.hash.slice(1));
    if (!/^op-\d+$/.test(id)) return;
    var el = document.getElementById(id);
    if (!el) return;
    var bar = el.closest(".op, .tl-f") || el;
    if (flashed) flashed.classList.remove("flash");
    bar.classList.add("flash");
    flashed = bar;
    bar.scrollIntoView({ block: "center", inline: "nearest" });
  }
  window.addEventListener("hashchange", show);
  show();
  document.documentElement.setAttribute("data-js-ready", "1");
})();

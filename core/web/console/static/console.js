// crisiscast console: refresh the parts of a page the server marks as live.
// An element with data-live="<url>" has its url polled every data-live-every ms; the answer is
// {"parts": {"<element id>": "<html>"}} and each named element gets the new HTML when it
// changed. The HTML comes from the server, already escaped. Without this script every page
// still works; a reload shows the same thing.
(function () {
  "use strict";

  function poll(root) {
    var url = root.getAttribute("data-live");
    var every = parseInt(root.getAttribute("data-live-every"), 10) || 2000;
    var seen = {};

    function apply(parts) {
      Object.keys(parts).forEach(function (id) {
        var el = document.getElementById(id);
        if (el && seen[id] !== parts[id]) {
          seen[id] = parts[id];
          if (el.innerHTML !== parts[id]) {
            el.innerHTML = parts[id];
          }
        }
      });
    }

    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (response.status === 401) {
            window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
            return null;
          }
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (data && data.parts) {
            apply(data.parts);
          }
        })
        .catch(function () { /* the server is away: try again at the next tick */ })
        .then(function () { window.setTimeout(tick, every); });
    }

    window.setTimeout(tick, every);
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-live]"), poll);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

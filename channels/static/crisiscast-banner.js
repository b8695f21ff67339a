/* crisiscast-banner.js: shows the incident banner described by banner.json.
 *
 * Include once, anywhere in the page:
 *   <script src=".../crisiscast-banner.js" data-state=".../banner.json" data-poll="60" async></script>
 *
 * The state is re-read every data-poll seconds (default 60): an update replaces the banner, a
 * stand-down ("status": "ended") or a missing state (404/410) removes it. A network error keeps
 * what is shown. Text goes in with textContent only; links are limited to http(s), tel and
 * mailto; styles are set through the CSSOM, so a strict Content-Security-Policy needs no
 * 'unsafe-inline'. No build step, no dependencies.
 */
(function () {
  "use strict";

  var script = document.currentScript || document.querySelector("script[data-state]");
  if (!script) { return; }
  // Relative data-state URLs resolve like any attribute URL: against the page.
  var stateUrl = new URL(script.getAttribute("data-state") || "banner.json", document.baseURI).href;
  var pollSeconds = parseFloat(script.getAttribute("data-poll") || "60");
  var pollMs = (isFinite(pollSeconds) && pollSeconds >= 1 ? pollSeconds : 60) * 1000;
  var BANNER_ID = "crisiscast-banner";
  var SAFE_HREF = /^(https?:|tel:|mailto:)/i;
  var RTL = { ar: 1, fa: 1, he: 1, ur: 1, ps: 1, ckb: 1, dv: 1, yi: 1 };
  var shownKey = null;

  function primary(tag) { return String(tag || "").toLowerCase().split("-")[0]; }

  /* The text in the page's language: exact tag, then same primary language, else the default. */
  function pickText(state) {
    var texts = state.texts || [];
    var want = String(document.documentElement.getAttribute("lang") || "").toLowerCase();
    var i;
    for (i = 0; i < texts.length; i++) {
      if (String(texts[i].language).toLowerCase() === want) { return texts[i]; }
    }
    for (i = 0; i < texts.length; i++) {
      if (want && primary(texts[i].language) === primary(want)) { return texts[i]; }
    }
    return texts[0];
  }

  function css(node, props) {
    for (var name in props) {
      if (Object.prototype.hasOwnProperty.call(props, name)) {
        node.style.setProperty(name, props[name], "important");
      }
    }
    return node;
  }

  function el(tag, text, props) {
    var node = document.createElement(tag);
    if (text) { node.textContent = text; }
    return props ? css(node, props) : node;
  }

  function remember(key) {
    try { window.sessionStorage.setItem("crisiscast-dismissed", key); } catch (e) { /* private mode */ }
  }

  function dismissedKey() {
    try { return window.sessionStorage.getItem("crisiscast-dismissed"); } catch (e) { return null; }
  }

  function removeBanner() {
    var old = document.getElementById(BANNER_ID);
    if (old) { old.parentNode.removeChild(old); }
  }

  function link(href, text, fg) {
    var a = el("a", text, { color: fg, "text-decoration": "underline", "font-weight": "bold" });
    if (SAFE_HREF.test(href)) { a.setAttribute("href", href); }
    return a;
  }

  function routeItem(route, text, fg) {
    var li = el("li", null, { margin: "0.25em 0" });
    var shown = route.kind === "phone" ? route.label + ": " + route.target : route.label;
    li.appendChild(link(route.href, shown, fg));
    if (route.hours) { li.appendChild(document.createTextNode(" (" + text.ui.hours + ": " + route.hours + ")")); }
    return li;
  }

  /* A visible focus ring in the banner's own foreground colour (contrast >= 4.5:1). */
  function focusRing(banner, fg) {
    banner.addEventListener("focusin", function (ev) {
      css(ev.target, { outline: "3px solid " + fg, "outline-offset": "2px" });
    });
    banner.addEventListener("focusout", function (ev) { ev.target.style.removeProperty("outline"); });
  }

  function build(state, key) {
    var text = pickText(state);
    var fg = state.colours.foreground;
    var bg = state.colours.background;
    var urgent = state.level !== "info";
    var banner = el("section", null, {
      display: "block", margin: "0", padding: "0.75em 1em", color: fg, background: bg,
      "font-family": "system-ui, -apple-system, 'Segoe UI', Roboto, 'Noto Sans', sans-serif",
      "font-size": "1rem", "line-height": "1.5", "text-align": "start", "box-sizing": "border-box",
      "border-bottom": "4px solid " + fg, width: "100%", position: "relative", "z-index": "2147483000"
    });
    banner.id = BANNER_ID;
    banner.setAttribute("role", urgent ? "alert" : "status");
    banner.setAttribute("aria-live", urgent ? "assertive" : "polite");
    banner.setAttribute("aria-atomic", "true");
    banner.setAttribute("lang", text.language);
    banner.setAttribute("dir", RTL[primary(text.language)] ? "rtl" : "ltr");
    banner.setAttribute("data-incident", state.incident);
    banner.setAttribute("data-level", state.level);

    var title = el("p", null, { margin: "0", "font-size": "1.15em", "font-weight": "bold" });
    if (state.exercise) { title.appendChild(el("span", text.ui.exercise + ": ")); }
    title.appendChild(el("span", text.title));
    banner.appendChild(title);
    banner.appendChild(el("p", text.headline, { margin: "0.25em 0", "font-weight": "bold" }));
    if (text.body) { banner.appendChild(el("p", text.body, { margin: "0.25em 0" })); }
    if (text.routes.length) {
      var list = el("ul", null, { margin: "0.25em 0", padding: "0 0 0 1.25em" });
      list.setAttribute("aria-label", text.ui.routes);
      for (var i = 0; i < text.routes.length; i++) { list.appendChild(routeItem(text.routes[i], text, fg)); }
      banner.appendChild(list);
    }
    var actions = el("p", null, { margin: "0.5em 0 0", display: "flex", "flex-wrap": "wrap", gap: "1em", "align-items": "center" });
    var page = text.page || state.page;
    if (page) { actions.appendChild(link(page, text.ui.more, fg)); }
    var close = el("button", text.ui.dismiss, {
      color: fg, background: bg, border: "2px solid " + fg, "border-radius": "4px",
      padding: "0.4em 1em", "min-height": "44px", "min-width": "44px", font: "inherit", cursor: "pointer"
    });
    close.type = "button";
    actions.appendChild(close);
    banner.appendChild(actions);

    function dismiss() {
      remember(key);
      removeBanner();
    }
    close.addEventListener("click", dismiss);
    banner.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" || ev.key === "Esc") { ev.preventDefault(); dismiss(); }
    });
    focusRing(banner, fg);
    return banner;
  }

  function apply(state) {
    if (!state || state.status !== "active" || !state.texts || !state.texts.length) {
      removeBanner();
      shownKey = null;
      return;
    }
    var key = state.incident + "@" + state.updated;
    if (dismissedKey() === key) { removeBanner(); return; }
    if (shownKey === key && document.getElementById(BANNER_ID)) { return; }
    var banner = build(state, key);
    var old = document.getElementById(BANNER_ID);
    if (old) { old.parentNode.replaceChild(banner, old); } else { document.body.insertBefore(banner, document.body.firstChild); }
    shownKey = key;
  }

  function refresh() {
    fetch(stateUrl, { cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (response.status === 404 || response.status === 410) { apply(null); return null; }
        if (!response.ok) { return null; }
        return response.json().then(apply);
      })
      .catch(function (err) {
        if (window.console) { window.console.warn("crisiscast banner: state not read, keeping what is shown", err); }
      })
      .then(function () { window.setTimeout(refresh, pollMs); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
}());

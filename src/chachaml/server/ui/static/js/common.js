/* Shared helpers of the chachaml UI (no inline scripts: pages pass data as JSON blocks). */
(function () {
  "use strict";
  var ns = (window.chachaml = window.chachaml || {});

  /* The parsed JSON of <script type="application/json" id="...">, or fallback. */
  ns.data = function (id, fallback) {
    var el = document.getElementById(id);
    if (!el) return fallback;
    try { return JSON.parse(el.textContent); } catch (e) { return fallback; }
  };

  ns.getJSON = function (url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (resp) {
        if (!resp.ok) throw new Error(url + ": HTTP " + resp.status);
        return resp.json();
      });
  };

  ns.fmtDuration = function (ms) {
    if (ms == null) return "";
    if (ms < 1000) return Math.round(ms) + "ms";
    var s = ms / 1000;
    if (s < 60) return s.toFixed(1) + "s";
    var m = Math.floor(s / 60), sec = Math.floor(s % 60);
    if (m < 60) return m + "m" + String(sec).padStart(2, "0") + "s";
    var h = Math.floor(m / 60);
    return h + "h" + String(m % 60).padStart(2, "0") + "m";
  };

  ns.fmtValue = function (v) {
    if (v == null) return "–";
    if (typeof v === "number") {
      if (!isFinite(v)) return String(v);
      var a = Math.abs(v);
      if (a !== 0 && (a >= 1e6 || a < 1e-4)) return v.toExponential(3);
      return String(Number(v.toPrecision(6)));
    }
    return String(v);
  };

  /* A number to 4 significant digits, large ones with a k/M/G/T suffix (61.73k): the min/max
     lines of metric cards (the same as the server's fmt_short). */
  var SUFFIXES = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  ns.fmtShort = function (v) {
    if (typeof v !== "number" || !isFinite(v)) return ns.fmtValue(v);
    var a = Math.abs(v);
    if (a >= 1e4 && a < 1e15) {
      for (var i = 0; i < SUFFIXES.length; i++) {
        if (a >= SUFFIXES[i][0]) return String(Number((v / SUFFIXES[i][0]).toPrecision(4))) + SUFFIXES[i][1];
      }
    }
    return String(Number(v.toPrecision(4)));
  };

  /* This page's CSRF token (<meta name="csrf-token">): every fetch that writes sends it as the
     X-CSRF-Token header, so sessions signed in with a token (a cookie) can write. */
  ns.csrf = function () {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  };

  ns.el = function (tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] != null) node.setAttribute(k, attrs[k]);
    if (text != null) node.textContent = text;
    return node;
  };

  ns.statusBadge = function (status) {
    var known = ["running", "completed", "failed", "crashed", "killed"];
    return ns.el("span", { "class": "status status-" + (known.indexOf(status) >= 0 ? status : "other"),
      "data-status": status }, status);
  };

  /* Load a script of ours once (same origin, so the CSP allows it). */
  var loaded = {};
  ns.loadScript = function (src) {
    if (!loaded[src]) {
      loaded[src] = new Promise(function (resolve, reject) {
        var s = document.createElement("script");
        s.src = src; s.onload = resolve; s.onerror = reject;
        document.head.appendChild(s);
      });
    }
    return loaded[src];
  };
  ns.loadStyle = function (href) {
    if (document.querySelector('link[href="' + href + '"]')) return;
    document.head.appendChild(ns.el("link", { rel: "stylesheet", href: href }));
  };

  /* Typeset $...$ and $$...$$ inside .math elements with KaTeX, loaded only when needed. */
  ns.typeset = function (root) {
    root = root || document;
    if (!root.querySelector(".math")) return;
    var urls = ns.data("asset-urls", {});
    if (!urls.katex) return;
    ns.loadStyle(urls.katex_css);
    ns.loadScript(urls.katex).then(function () { return ns.loadScript(urls.katex_auto); }).then(function () {
      root.querySelectorAll(".math").forEach(function (el) {
        window.renderMathInElement(el, {
          delimiters: [{ left: "$$", right: "$$", display: true }, { left: "$", right: "$", display: false }],
          throwOnError: false, trust: false, strict: "ignore", maxExpand: 1000
        });
      });
    }).catch(function () { /* the TeX stays readable as text */ });
  };

  document.addEventListener("DOMContentLoaded", function () { ns.typeset(document); });
})();

/* /compare: overlaid curves per metric (each run downsampled on the server) and a sweep
   scatter of a param against a metric's latest value. */
(function () {
  "use strict";
  var ns = window.chachaml;
  var cfg = ns.data("compare-data", null);
  if (!cfg || typeof uPlot === "undefined") return;
  var H = ns.charts;
  var box = document.getElementById("charts");
  H.controls();

  function load(chart) {
    var jobs = cfg.runs.map(function (run) {
      return ns.getJSON(H.historyUrl(run.id, chart.key, { max_points: cfg.points }))
        .then(function (body) { chart.setPoints(run.id, body.points); })
        .catch(function () { /* a run without this metric (or gone): no line */ });
    });
    return Promise.all(jobs).then(function () { chart.render(true); });
  }
  if (box) cfg.keys.forEach(function (key) { H.whenVisible(new H.Chart(box, key, cfg.runs), load); });

  /* -- sweep: param (x) against a metric (y), one dot per run --------------------------------- */
  var panel = document.getElementById("sweep-panel");
  if (!panel || !cfg.keys.length) return;
  panel.hidden = false;
  var sx = document.getElementById("sweep-x"), sy = document.getElementById("sweep-y");
  var canvas = document.getElementById("sweep-canvas"), info = document.getElementById("sweep-info");

  function draw() {
    var xs = cfg.params[sx.value] || [], ys = cfg.metrics[sy.value] || [];
    var pts = [];
    var numeric = xs.every(function (v) { return v == null || typeof v === "number"; });
    var cats = [];
    cfg.runs.forEach(function (run, i) {
      var x = xs[i], y = typeof ys[i] === "number" ? ys[i] : null;
      if (x == null || y == null) return;
      if (!numeric) {
        var label = typeof x === "string" ? x : JSON.stringify(x);
        if (cats.indexOf(label) < 0) cats.push(label);
        x = cats.indexOf(label);
      }
      pts.push({ x: x, y: y, i: i });
    });
    var dpr = window.devicePixelRatio || 1, w = canvas.clientWidth || 900, h = 320;
    canvas.width = w * dpr; canvas.height = h * dpr;
    var g = canvas.getContext("2d");
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    g.font = "12px system-ui, sans-serif";
    info.textContent = pts.length + " of " + cfg.runs.length + " runs have both values";
    if (!pts.length) return;
    var L = 64, R = 16, T = 12, B = 36;
    var x0 = Math.min.apply(null, pts.map(function (p) { return p.x; }));
    var x1 = Math.max.apply(null, pts.map(function (p) { return p.x; }));
    var y0 = Math.min.apply(null, pts.map(function (p) { return p.y; }));
    var y1 = Math.max.apply(null, pts.map(function (p) { return p.y; }));
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
    var px = function (x) { return L + (x - x0) / (x1 - x0) * (w - L - R - 20) + 10; };
    var py = function (y) { return T + (1 - (y - y0) / (y1 - y0)) * (h - T - B - 20) + 10; };
    g.strokeStyle = "#e4e7ec"; g.fillStyle = "#667085";
    g.beginPath(); g.moveTo(L, T); g.lineTo(L, h - B); g.lineTo(w - R, h - B); g.stroke();
    for (var k = 0; k <= 4; k++) {
      var yv = y0 + (y1 - y0) * k / 4;
      g.fillText(ns.fmtValue(yv), 4, py(yv) + 4);
      if (numeric) { var xv = x0 + (x1 - x0) * k / 4; g.fillText(ns.fmtValue(xv), px(xv) - 12, h - B + 16); }
    }
    if (!numeric) cats.forEach(function (c, i) { g.fillText(c.slice(0, 16), px(i) - 12, h - B + 16); });
    g.fillText(sx.value + " →", w - R - 120, h - 4);
    pts.forEach(function (p) {
      g.fillStyle = H.COLORS[p.i % H.COLORS.length];
      g.beginPath(); g.arc(px(p.x), py(p.y), 5, 0, 2 * Math.PI); g.fill();
    });
  }
  sx.addEventListener("change", draw);
  sy.addEventListener("change", draw);
  window.addEventListener("resize", draw);
  draw();
})();

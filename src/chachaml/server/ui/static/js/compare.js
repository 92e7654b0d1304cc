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

  /* [min, max] of values with 8% room on each side (a single value gets a band around it). */
  function padded(values) {
    var lo = Math.min.apply(null, values), hi = Math.max.apply(null, values);
    if (lo === hi) { var d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
    var pad = (hi - lo) * 0.08;
    return [lo - pad, hi + pad];
  }

  /* About `count` round tick values (steps of 1, 2 or 5 × 10^k) inside [lo, hi], and the number
     of decimals that step needs (so 0.664477 shows as 0.664 when the ticks are 0.002 apart). */
  function ticks(lo, hi, count) {
    var raw = (hi - lo) / Math.max(1, count);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var step = [1, 2, 5, 10].map(function (m) { return m * mag; }).filter(function (s) { return s >= raw; })[0];
    var values = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
      values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return { values: values, decimals: Math.max(0, -Math.floor(Math.log10(step) + 1e-9)) };
  }

  function tickText(v, decimals) {
    var a = Math.abs(v);
    if (a !== 0 && (a >= 1e6 || decimals > 6)) return v.toExponential(2);
    return v.toFixed(Math.min(decimals, 6));
  }

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
    var dpr = window.devicePixelRatio || 1, w = Math.min(canvas.clientWidth || 720, 720), h = 260;
    canvas.width = w * dpr; canvas.height = h * dpr;
    var g = canvas.getContext("2d");
    g.scale(dpr, dpr);
    g.clearRect(0, 0, w, h);
    g.font = "12px system-ui, sans-serif";
    info.textContent = pts.length + " of " + cfg.runs.length + " runs have both values";
    if (!pts.length) return;
    var xr = numeric ? padded(pts.map(function (p) { return p.x; })) : [-0.5, cats.length - 0.5];
    var yr = padded(pts.map(function (p) { return p.y; }));
    var yt = ticks(yr[0], yr[1], 5), xt = numeric ? ticks(xr[0], xr[1], 6) : null;
    var ylabels = yt.values.map(function (v) { return tickText(v, yt.decimals); });
    var L = 14 + Math.max.apply(null, ylabels.map(function (t) { return g.measureText(t).width; }));
    var R = 12, T = 18, B = 40;
    var px = function (x) { return L + (x - xr[0]) / (xr[1] - xr[0]) * (w - L - R); };
    var py = function (y) { return T + (1 - (y - yr[0]) / (yr[1] - yr[0])) * (h - T - B); };
    g.lineWidth = 1;
    g.textBaseline = "middle"; g.textAlign = "right";
    yt.values.forEach(function (v, k) {
      var y = Math.round(py(v)) + 0.5;
      g.strokeStyle = "#eef0f3"; g.beginPath(); g.moveTo(L, y); g.lineTo(w - R, y); g.stroke();
      g.fillStyle = "#667085"; g.fillText(ylabels[k], L - 6, y);
    });
    g.textBaseline = "top"; g.textAlign = "center";
    if (numeric) {
      xt.values.forEach(function (v) {
        var x = Math.round(px(v)) + 0.5;
        g.strokeStyle = "#eef0f3"; g.beginPath(); g.moveTo(x, T); g.lineTo(x, h - B); g.stroke();
        g.fillStyle = "#667085"; g.fillText(tickText(v, xt.decimals), x, h - B + 6);
      });
    } else {
      cats.forEach(function (c, i) {
        g.fillStyle = "#667085";
        g.fillText(c.length > 16 ? c.slice(0, 15) + "…" : c, px(i), h - B + 6);
      });
    }
    g.strokeStyle = "#c5cad3";
    g.beginPath(); g.moveTo(L + 0.5, T); g.lineTo(L + 0.5, h - B + 0.5); g.lineTo(w - R, h - B + 0.5); g.stroke();
    g.fillStyle = "#344054"; g.textAlign = "right"; g.textBaseline = "bottom";
    g.fillText(sx.value + " →", w - R, h - 2);
    g.textAlign = "left"; g.textBaseline = "top";
    g.fillText("↑ " + sy.value, 4, 0);
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

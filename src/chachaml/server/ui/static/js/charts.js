/* Metric charts over uPlot: one chart per metric key, one or more runs overlaid.
   x = step, relative time or wall time; log scale; EMA smoothing; drag to zoom, double-click to
   reset. Points arrive downsampled by the server (~2,000 per series), live points are appended. */
(function () {
  "use strict";
  var ns = window.chachaml;
  var COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#db2777",
    "#65a30d", "#4f46e5", "#a16207"];
  var MAX_KEPT = 20000; /* more points than this in memory: reload downsampled */
  var settings = { x: "step", log: false, smooth: 0 };
  var charts = [];

  function num(v) {
    if (typeof v === "number") return v;
    if (v === "Infinity") return Infinity;
    if (v === "-Infinity") return -Infinity;
    return null; /* "NaN" and anything else: a gap */
  }

  function fmtSeconds(s) {
    if (s == null) return "";
    var a = Math.abs(s);
    if (a < 60) return (Math.round(s * 10) / 10) + "s";
    if (a < 3600) return Math.floor(s / 60) + "m" + String(Math.floor(a % 60)).padStart(2, "0");
    return Math.floor(s / 3600) + "h" + String(Math.floor((a % 3600) / 60)).padStart(2, "0");
  }

  function compact(v) {
    var a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toFixed(2) + "G";
    if (a >= 1e6) return +(v / 1e6).toFixed(2) + "M";
    if (a >= 1e4) return +(v / 1e3).toFixed(1) + "k";
    return String(+v.toFixed(6));
  }

  /* y tick labels: as many decimals as the tick spacing needs (0.664, 0.666, ... rather than
     0.664477), k/M/G for large values, exponents for tiny ones; 4 significant digits on a log
     scale, whose ticks are not evenly spaced. */
  function yTicks(u, splits) {
    if (!splits || !splits.length) return [];
    var shown = splits.filter(function (v) { return v != null && isFinite(v); });
    if (!shown.length) return splits.map(function () { return ""; });
    var maxAbs = Math.max.apply(null, shown.map(Math.abs));
    var fmt;
    if (u.scales.y && u.scales.y.distr === 3) {
      fmt = function (v) { return maxAbs >= 1e4 ? compact(v) : String(+v.toPrecision(4)); };
    } else if (maxAbs >= 1e4) {
      fmt = compact;
    } else if (maxAbs < 1e-3 && maxAbs > 0) {
      fmt = function (v) { return v === 0 ? "0" : v.toExponential(1); };
    } else {
      var step = shown.length > 1 ? Math.abs(shown[1] - shown[0]) : (maxAbs || 1);
      var decimals = Math.min(8, Math.max(0, -Math.floor(Math.log10(step || 1) + 1e-9)));
      fmt = function (v) { return v.toFixed(decimals); };
    }
    /* uPlot passes null for ticks it leaves out (log scales): those stay unlabelled */
    return splits.map(function (v) { return v == null || !isFinite(v) ? "" : fmt(v); });
  }

  /* Width of the y axis: room for its longest label. */
  function yAxisSize(u, values) {
    if (!values || !values.length) return 40;
    var longest = Math.max.apply(null, values.map(function (v) { return String(v).length; }));
    return Math.max(36, Math.ceil(longest * 7 + 18));
  }

  function ema(ys, alpha) {
    var out = new Array(ys.length), last = null, weight = 0;
    for (var i = 0; i < ys.length; i++) {
      var y = ys[i];
      if (y == null || !isFinite(y)) { out[i] = null; continue; }
      last = last == null ? (1 - alpha) * y : alpha * last + (1 - alpha) * y;
      weight = alpha * weight + (1 - alpha);
      out[i] = last / weight; /* debiased, as TensorBoard does */
    }
    return out;
  }

  /* A chart of one metric key. runs: [{id, label, start}] */
  function Chart(parent, key, runs) {
    this.key = key;
    this.runs = runs.map(function (r, i) { return Object.assign({ color: COLORS[i % COLORS.length] }, r); });
    this.points = {}; /* run id -> {step: [], value: [], ts: []} */
    this.zoomed = false;
    this.loaded = false;
    this.box = ns.el("div", { "class": "chart", "data-key": key });
    var head = ns.el("div", { "class": "chart-head" });
    head.appendChild(ns.el("span", { "class": "title" }, key));
    this.note = ns.el("span", { "class": "chart-note" }, "loading…");
    head.appendChild(this.note);
    this.body = ns.el("div", { "class": "chart-body" });
    this.box.appendChild(head);
    this.box.appendChild(this.body);
    parent.appendChild(this.box);
    charts.push(this);
  }

  Chart.prototype.lastStep = function (runId) {
    var p = this.points[runId];
    return p && p.step.length ? p.step[p.step.length - 1] : null;
  };

  Chart.prototype.size = function (runId) {
    var p = this.points[runId];
    return p ? p.step.length : 0;
  };

  Chart.prototype.setPoints = function (runId, pts) {
    var p = { step: [], value: [], ts: [] };
    for (var i = 0; i < pts.length; i++) {
      p.step.push(pts[i].step); p.value.push(num(pts[i].value)); p.ts.push(pts[i].timestamp);
    }
    this.points[runId] = p;
    this.loaded = true;
  };

  Chart.prototype.append = function (runId, pts) {
    var p = this.points[runId];
    if (!p) { this.setPoints(runId, pts); return; }
    var last = p.step.length ? p.step[p.step.length - 1] : -Infinity;
    for (var i = 0; i < pts.length; i++) {
      if (pts[i].step <= last) continue;
      p.step.push(pts[i].step); p.value.push(num(pts[i].value)); p.ts.push(pts[i].timestamp);
    }
  };

  Chart.prototype.table = function (run) {
    var p = this.points[run.id];
    if (!p) return null;
    var n = p.step.length, idx = new Array(n), xs = new Array(n), i;
    for (i = 0; i < n; i++) {
      idx[i] = i;
      xs[i] = settings.x === "step" ? p.step[i]
        : settings.x === "wall" ? p.ts[i] / 1000 : (p.ts[i] - run.start) / 1000;
    }
    if (settings.x !== "step") idx.sort(function (a, b) { return xs[a] - xs[b] || a - b; });
    var x = [], y = [], prev = null;
    for (i = 0; i < n; i++) {
      var j = idx[i], v = p.value[j];
      if (prev !== null && xs[j] === prev) continue; /* uPlot needs strictly increasing x */
      prev = xs[j];
      if (v != null && (!isFinite(v) || (settings.log && v <= 0))) v = null;
      x.push(xs[j]); y.push(v);
    }
    var out = [x, y];
    if (settings.smooth > 0) out.push(ema(y, settings.smooth));
    return out;
  };

  Chart.prototype.build = function () {
    var self = this, tables = [];
    var series = [{ label: settings.x === "step" ? "step" : "time",
      value: settings.x === "relative" ? function (u, v) { return fmtSeconds(v); }
        : settings.x === "step" ? function (u, v) { return v == null ? "--" : String(v); } : undefined }];
    this.runs.forEach(function (run) {
      var t = self.table(run);
      if (!t || !t[0].length) return;
      tables.push(t);
      var label = self.runs.length > 1 ? run.label : self.key;
      series.push({ label: label, stroke: settings.smooth > 0 ? run.color + "50" : run.color,
        width: settings.smooth > 0 ? 1 : 1.5, spanGaps: true, points: { show: false } });
      if (settings.smooth > 0) {
        series.push({ label: label + " (smoothed)", stroke: run.color, width: 1.75, spanGaps: true,
          points: { show: false } });
      }
    });
    if (!tables.length) return null;
    var data = tables.length === 1 ? tables[0] : uPlot.join(tables);
    var xaxis = { stroke: "#667085", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e4e7ec" } };
    if (settings.x === "relative") xaxis.values = function (u, splits) { return splits.map(fmtSeconds); };
    if (settings.x === "step") xaxis.values = function (u, splits) { return splits.map(compact); };
    return {
      data: data,
      opts: {
        width: Math.max(280, this.body.clientWidth || 440), height: 240,
        series: series,
        scales: { x: { time: settings.x === "wall" }, y: { distr: settings.log ? 3 : 1 } },
        axes: [xaxis, { stroke: "#667085", grid: { stroke: "#eef0f3" }, ticks: { stroke: "#e4e7ec" },
          size: yAxisSize, values: yTicks }],
        cursor: { drag: { x: true, y: false }, points: { size: 5 } },
        legend: { live: true },
        hooks: {
          setSelect: [function (u) { if (u.select.width > 0) self.zoomed = true; }]
        }
      }
    };
  };

  /* Draw (again). rebuild: the scales changed (x kind, log), so a new plot is made. */
  Chart.prototype.render = function (rebuild) {
    var built = this.build();
    var total = 0, self = this;
    this.runs.forEach(function (r) { total += self.size(r.id); });
    this.note.textContent = built ? total.toLocaleString() + " pts shown" : "no points";
    if (!built) { if (this.plot) { this.plot.destroy(); this.plot = null; } return; }
    if (this.plot && !rebuild && this.plot.series.length === built.opts.series.length) {
      this.plot.setData(built.data, !this.zoomed);
      return;
    }
    if (this.plot) this.plot.destroy();
    this.body.replaceChildren();
    this.zoomed = false;
    this.plot = new uPlot(built.opts, built.data, this.body);
    this.plot.over.addEventListener("dblclick", function () { self.zoomed = false; });
  };

  Chart.prototype.resize = function () {
    if (this.plot) this.plot.setSize({ width: Math.max(280, this.body.clientWidth), height: 240 });
  };

  /* Wire the x-axis / log / smoothing controls (ids x-axis, log-y, smoothing). */
  function controls() {
    var box = document.getElementById("chart-controls");
    if (!box) return;
    box.hidden = false;
    var x = document.getElementById("x-axis"), log = document.getElementById("log-y");
    var smooth = document.getElementById("smoothing"), shown = document.getElementById("smoothing-value");
    function redraw() { charts.forEach(function (c) { if (c.loaded) c.render(true); }); }
    x.addEventListener("change", function () { settings.x = x.value; redraw(); });
    log.addEventListener("change", function () { settings.log = log.checked; redraw(); });
    var timer = null;
    smooth.addEventListener("input", function () {
      settings.smooth = Number(smooth.value);
      shown.textContent = smooth.value;
      clearTimeout(timer);
      timer = setTimeout(redraw, 60);
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () { charts.forEach(function (c) { c.resize(); }); }, 100);
  });

  /* Call load(chart) when a chart comes near the viewport (pages with many metrics). */
  function whenVisible(chart, load) {
    if (!("IntersectionObserver" in window)) { load(chart); return; }
    var seen = new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) { seen.disconnect(); load(chart); }
    }, { rootMargin: "300px" });
    seen.observe(chart.box);
  }

  function historyUrl(runId, key, params) {
    var qs = "key=" + encodeURIComponent(key);
    for (var k in params) qs += "&" + k + "=" + encodeURIComponent(params[k]);
    return "/api/runs/" + encodeURIComponent(runId) + "/metrics/history?" + qs;
  }

  ns.charts = { Chart: Chart, settings: settings, controls: controls, whenVisible: whenVisible,
    historyUrl: historyUrl, all: charts, MAX_KEPT: MAX_KEPT, COLORS: COLORS };
})();

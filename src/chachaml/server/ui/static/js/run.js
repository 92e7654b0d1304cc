/* /runs/{id}: charts (downsampled on the server), live update of a running run with the
   after_step cursor (only new points), and the note editor's preview. */
(function () {
  "use strict";
  var ns = window.chachaml;
  var cfg = ns.data("chart-data", null);
  var csrf = ns.csrf();
  var H = ns.charts;

  /* note editor: preview through the server (sanitised there) */
  var form = document.getElementById("note-form");
  if (form) {
    var text = document.getElementById("note-text"), pane = document.getElementById("note-preview");
    var write = document.getElementById("note-write"), prev = document.getElementById("note-preview-btn");
    write.hidden = false; prev.hidden = false;
    prev.addEventListener("click", function () {
      var body = new URLSearchParams();
      body.set("note", text.value); body.set("csrf_token", csrf);
      fetch(form.getAttribute("data-preview"), { method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf } })
        .then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.text(); })
        .then(function (html) {
          pane.innerHTML = html; /* sanitised by the server (markdown-it + nh3) */
          pane.hidden = false; text.hidden = true;
          ns.typeset(pane);
        })
        .catch(function (e) { pane.textContent = "Preview failed: " + e.message; pane.hidden = false; });
    });
    write.addEventListener("click", function () { pane.hidden = true; text.hidden = false; text.focus(); });
  }

  if (!cfg || !document.getElementById("charts") || typeof uPlot === "undefined") return;
  var run = { id: cfg.run.id, label: cfg.run.name, start: cfg.run.start_time };
  var box = document.getElementById("charts");
  var byKey = {};
  H.controls();

  function load(chart) {
    return ns.getJSON(H.historyUrl(run.id, chart.key, { max_points: cfg.points })).then(function (body) {
      chart.setPoints(run.id, body.points);
      chart.render(true);
    }).catch(function (e) { chart.note.textContent = "could not load: " + e.message; });
  }

  function addChart(key) {
    var chart = new H.Chart(box, key, [run]);
    byKey[key] = chart;
    H.whenVisible(chart, load);
  }
  cfg.keys.forEach(addChart);

  /* -- live update while the run is running ------------------------------------------------ */
  var status = cfg.run.status;
  var note = document.getElementById("live-note");
  var PAGE = 5000;

  function catchUp(chart) {
    var after = chart.lastStep(run.id);
    if (after == null) return load(chart);
    return ns.getJSON(H.historyUrl(run.id, chart.key, { after_step: after, max_points: PAGE }))
      .then(function (body) {
        if (!body.points.length) return;
        chart.append(run.id, body.points);
        if (chart.size(run.id) > H.MAX_KEPT) return load(chart); /* too long: downsample again */
        chart.render(false);
        if (body.points.length === PAGE) return catchUp(chart);
      });
  }

  function newCard(key) {
    var cards = document.getElementById("metric-cards");
    if (!cards) return null;
    var card = ns.el("div", { "class": "card", "data-key": key });
    card.appendChild(ns.el("div", { "class": "key" }, key));
    card.appendChild(ns.el("div", { "class": "val", "data-field": "last" }));
    var mm = ns.el("div", { "class": "mm" });
    ["min ", "min", " · max ", "max", " · ", "count", " pts"].forEach(function (part, i) {
      mm.appendChild(i % 2 ? ns.el("span", { "data-field": part }) : document.createTextNode(part));
    });
    card.appendChild(mm);
    cards.appendChild(card);
    return card;
  }

  function updateCards(stats) {
    Object.keys(stats).forEach(function (key) {
      var card = document.querySelector('.card[data-key="' + CSS.escape(key) + '"]');
      if (!card) card = newCard(key);
      if (!card) return;
      ["last", "min", "max", "count"].forEach(function (f) {
        var el = card.querySelector('[data-field="' + f + '"]');
        if (!el) return;
        var v = stats[key][f];
        if (f === "count") el.textContent = String(v);
        else if (f === "last") el.textContent = ns.fmtValue(v);
        else { el.textContent = ns.fmtShort(v); el.title = ns.fmtValue(v); }
      });
    });
  }

  function poll() {
    if (document.hidden) { setTimeout(poll, 2000); return; }
    ns.getJSON("/api/runs/" + encodeURIComponent(run.id)).then(function (r) {
      var stats = r.metric_stats || {};
      Object.keys(stats).sort().forEach(function (key) { if (!byKey[key]) addChart(key); });
      updateCards(stats);
      var jobs = Object.keys(byKey).map(function (k) { return byKey[k].loaded ? catchUp(byKey[k]) : null; });
      return Promise.all(jobs).then(function () { return r; });
    }).then(function (r) {
      if (r.status !== "running") {
        status = r.status;
        document.getElementById("run-status").replaceChildren(ns.statusBadge(r.status));
        var dur = document.getElementById("run-duration");
        if (dur) dur.textContent = ns.fmtDuration(r.duration_ms);
        note.textContent = "run " + r.status;
        return;
      }
      note.textContent = "live · updated " + new Date().toLocaleTimeString();
      setTimeout(poll, 2000);
    }).catch(function () { note.textContent = "live update paused (retrying)"; setTimeout(poll, 5000); });
  }
  if (status === "running") {
    note.textContent = "live";
    setTimeout(poll, 2000);
    var since = document.querySelector("#run-duration [data-since]");
    if (since) {
      var t0 = Number(since.getAttribute("data-since"));
      var clock = setInterval(function () {
        if (status !== "running") { clearInterval(clock); return; }
        since.textContent = ns.fmtDuration(Date.now() - t0);
      }, 1000);
    }
  }
})();

/* /runs and /search: selection for Compare, collapsible run tree, live status of running runs. */
(function () {
  "use strict";
  var ns = window.chachaml;
  /* experiment names for the filter box, fetched after the page shows (the page itself never
     scans every run for them) */
  var names = document.getElementById("experiment-names");
  if (names) {
    document.getElementById("f-experiment").addEventListener("focus", function () {
      if (names.childElementCount) return;
      ns.getJSON("/api/experiments").then(function (list) {
        list.forEach(function (e) { names.appendChild(ns.el("option", { value: e.name })); });
      }).catch(function () {});
    }, { once: true });
  }
  var table = document.getElementById("runs-table");
  if (!table) return;
  var form = document.getElementById("runs-form");
  var boxes = function () { return Array.prototype.slice.call(table.querySelectorAll('input[name="ids"]')); };
  var all = document.getElementById("select-all");
  var count = document.getElementById("selected-count");
  var compare = document.getElementById("compare-btn");

  function updateSelection() {
    var n = boxes().filter(function (b) { return b.checked; }).length;
    count.textContent = n ? n + " selected" : "select runs to compare";
    compare.disabled = n === 0;
    all.checked = n > 0 && n === boxes().length;
    all.indeterminate = n > 0 && n < boxes().length;
  }
  all.hidden = false;
  all.addEventListener("change", function () {
    boxes().forEach(function (b) { b.checked = all.checked; });
    updateSelection();
  });
  form.addEventListener("change", function (e) { if (e.target.name === "ids") updateSelection(); });
  updateSelection();

  /* run tree: hide/show every descendant row of a parent */
  function descendants(id, out) {
    table.querySelectorAll('tr[data-parent="' + CSS.escape(id) + '"]').forEach(function (row) {
      out.push(row);
      descendants(row.getAttribute("data-run"), out);
    });
    return out;
  }
  table.querySelectorAll("button.toggle-children").forEach(function (btn) {
    btn.hidden = false;
    btn.addEventListener("click", function () {
      var open = btn.getAttribute("aria-expanded") === "true";
      btn.setAttribute("aria-expanded", open ? "false" : "true");
      btn.textContent = open ? "▸" : "▾";
      btn.title = open ? "Show child runs" : "Hide child runs";
      descendants(btn.getAttribute("data-toggle"), []).forEach(function (row) {
        row.hidden = open;
        var inner = row.querySelector("button.toggle-children");
        if (inner && !open) { inner.setAttribute("aria-expanded", "true"); inner.textContent = "▾"; }
      });
    });
  });

  /* live status: poll the running runs of this page until none is running */
  var running = ns.data("running-runs", []);
  var started = {};
  table.querySelectorAll("[data-since]").forEach(function (el) {
    started[el.closest("tr").getAttribute("data-run")] = Number(el.getAttribute("data-since"));
  });
  function tick() {
    Object.keys(started).forEach(function (id) {
      var cell = table.querySelector('[data-duration-of="' + id + '"]');
      if (cell && running.indexOf(id) >= 0) cell.textContent = ns.fmtDuration(Date.now() - started[id]);
    });
  }
  function poll() {
    if (!running.length || document.hidden) return;
    var qs = running.map(function (id) { return "ids=" + encodeURIComponent(id); }).join("&");
    ns.getJSON("/api/runs?include_archived=true&limit=" + running.length + "&" + qs).then(function (body) {
      body.runs.forEach(function (run) {
        var cell = table.querySelector('[data-status-of="' + run.id + '"]');
        if (cell && run.status !== "running") {
          cell.replaceChildren(ns.statusBadge(run.status));
          var dur = table.querySelector('[data-duration-of="' + run.id + '"]');
          if (dur) dur.textContent = ns.fmtDuration(run.duration_ms);
          running = running.filter(function (x) { return x !== run.id; });
        }
      });
    }).catch(function () {});
  }
  if (running.length) {
    setInterval(tick, 1000);
    setInterval(poll, 3000);
  }
})();

/* ThyroWeb charts: reads data from <script type="application/json"> blocks and draws with Chart.js.
   No inline scripts (Content-Security-Policy script-src 'self'). */
(function () {
  "use strict";

  var lang = document.documentElement.lang || "en";
  var CLASS_COLOURS = { normal: "#2e7d32", hyperthyroid: "#c62828", hypothyroid: "#1565c0" };
  var CLASSES = ["normal", "hyperthyroid", "hypothyroid"];

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function dateLabel(ms) {
    return new Date(ms).toLocaleDateString(lang, { year: "numeric", month: "short", day: "numeric" });
  }

  function number(value, digits) {
    return Number(value).toLocaleString(lang, { maximumFractionDigits: digits === undefined ? 3 : digits });
  }

  // Draws the reference interval as a shaded band behind the data (options.plugins.referenceBand).
  var referenceBand = {
    id: "referenceBand",
    beforeDatasetsDraw: function (chart, args, options) {
      if (!options || options.low === undefined || options.low === null) return;
      var area = chart.chartArea;
      var y = chart.scales.y;
      var top = Math.max(area.top, y.getPixelForValue(options.high));
      var bottom = Math.min(area.bottom, y.getPixelForValue(options.low));
      if (bottom <= top) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(46, 125, 50, 0.14)";
      ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
      ctx.restore();
    },
  };

  function drawDashboard() {
    var data = readJSON("dashboard-data");
    if (!data) return;
    var dist = document.getElementById("chart-distribution");
    if (dist) {
      new Chart(dist, {
        type: "bar",
        data: {
          labels: data.distribution.map(function (row) { return row.label; }),
          datasets: [{
            label: dist.dataset.label,
            data: data.distribution.map(function (row) { return row.count; }),
            backgroundColor: data.distribution.map(function (row) { return CLASS_COLOURS[row.class] || "#777"; }),
          }],
        },
        options: { maintainAspectRatio: false, plugins: { legend: { display: false } },
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    }
    var perDay = document.getElementById("chart-per-day");
    if (perDay) {
      new Chart(perDay, {
        type: "bar",
        data: {
          labels: data.per_day.map(function (row) { return dateLabel(row.day + "T12:00:00"); }),
          datasets: [{ label: perDay.dataset.label, data: data.per_day.map(function (row) { return row.count; }),
                       backgroundColor: "#0b5cad" }],
        },
        options: { maintainAspectRatio: false, plugins: { legend: { display: false } },
                   scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
      });
    }
  }

  function drawLabHistory() {
    var history = readJSON("lab-history");
    if (!history) return;
    document.querySelectorAll("canvas.lab-chart").forEach(function (canvas) {
      var series = history[canvas.dataset.test];
      if (!series) return;
      if (!series.points.length) {
        var note = document.createElement("p");
        note.className = "muted";
        note.textContent = canvas.dataset.emptyLabel || "";
        canvas.parentNode.replaceWith(note);
        return;
      }
      var times = series.points.map(function (p) { return p.x; });
      var first = Math.min.apply(null, times), last = Math.max.apply(null, times);
      var pad = Math.max((last - first) * 0.05, 86400000);
      var low = series.reference[0], high = series.reference[1];
      var ys = series.points.map(function (p) { return p.y; }).concat([low, high]);
      var span = Math.max.apply(null, ys) - Math.min.apply(null, ys) || 1;
      new Chart(canvas, {
        type: "line",
        data: { datasets: [{ label: series.label, data: series.points, borderColor: "#0b5cad",
                             backgroundColor: "#0b5cad", pointRadius: 3, tension: 0 }] },
        options: {
          maintainAspectRatio: false,
          parsing: false,
          plugins: {
            legend: { display: false },
            referenceBand: { low: low, high: high },
            tooltip: { callbacks: {
              title: function (items) { return items.length ? dateLabel(items[0].parsed.x) : ""; },
              label: function (item) { return series.label + ": " + number(item.parsed.y) + " " + series.unit; },
            } },
          },
          scales: {
            x: { type: "linear", min: first - pad, max: last + pad,
                 ticks: { maxTicksLimit: 4, callback: function (v) { return dateLabel(v); } } },
            y: { suggestedMin: Math.max(0, Math.min.apply(null, ys) - 0.1 * span),
                 suggestedMax: Math.max.apply(null, ys) + 0.1 * span,
                 ticks: { callback: function (v) { return number(v, 2); } } },
          },
        },
        plugins: [referenceBand],
      });
    });
  }

  function curveChart(curves, labels, diagonal) {
    var datasets = CLASSES.filter(function (name) { return curves[name] && curves[name].length; }).map(function (name) {
      return { label: labels[name] || name,
               data: curves[name], borderColor: CLASS_COLOURS[name], backgroundColor: CLASS_COLOURS[name],
               pointRadius: 0, borderWidth: 2, tension: 0 };
    });
    if (diagonal) {
      datasets.push({ label: diagonal, data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: "#999",
                      borderDash: [4, 4], pointRadius: 0, borderWidth: 1 });
    }
    return datasets;
  }

  function drawPerformance() {
    var data = readJSON("performance-data");
    if (!data) return;
    document.querySelectorAll("canvas.perf-chart").forEach(function (canvas) {
      var version = data.versions[Number(canvas.dataset.slot)];
      if (!version) return;
      var datasets;
      if (canvas.dataset.kind === "reliability") {
        datasets = [{ label: canvas.dataset.seriesLabel, data: version.reliability, borderColor: "#0b5cad",
                      backgroundColor: "#0b5cad", pointRadius: 3, tension: 0 },
                    { label: canvas.dataset.idealLabel, data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], borderColor: "#999",
                      borderDash: [4, 4], pointRadius: 0, borderWidth: 1 }];
      } else {
        datasets = curveChart(version[canvas.dataset.kind] || {}, version.class_labels || {},
                              canvas.dataset.kind === "roc" ? "—" : null);
      }
      new Chart(canvas, {
        type: "line",
        data: { datasets: datasets },
        options: {
          maintainAspectRatio: false,
          parsing: false,
          animation: false,
          plugins: { legend: { labels: { filter: function (item) { return item.text !== "—"; } } } },
          scales: {
            x: { type: "linear", min: 0, max: 1, title: { display: true, text: canvas.dataset.xLabel } },
            y: { min: 0, max: 1, title: { display: true, text: canvas.dataset.yLabel } },
          },
        },
      });
    });
  }

  function drawTrainingHistory() {
    var data = readJSON("training-data");
    var canvas = document.getElementById("chart-training");
    if (!data || !canvas || !data.history.length) return;
    function series(key) {
      return data.history.filter(function (row) { return typeof row[key] === "number" && isFinite(row[key]); })
        .map(function (row) { return { x: row.epoch, y: row[key] }; });
    }
    new Chart(canvas, {
      type: "line",
      data: { datasets: [
        { label: canvas.dataset.f1Label, data: series("val_macro_f1"), borderColor: "#2e7d32",
          backgroundColor: "#2e7d32", yAxisID: "f1", pointRadius: 2 },
        { label: canvas.dataset.lossLabel, data: series("loss"), borderColor: "#0b5cad",
          backgroundColor: "#0b5cad", yAxisID: "loss", pointRadius: 2 },
        { label: canvas.dataset.valLossLabel, data: series("val_loss"), borderColor: "#c62828",
          backgroundColor: "#c62828", yAxisID: "loss", pointRadius: 2, borderDash: [4, 3] },
      ] },
      options: {
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: "linear", title: { display: true, text: canvas.dataset.xLabel }, ticks: { precision: 0 } },
          f1: { position: "left", min: 0, max: 1 },
          loss: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } },
        },
      },
    });
  }

  function start() {
    if (typeof Chart === "undefined") return;
    Chart.defaults.locale = lang;
    Chart.defaults.animation = false;
    drawDashboard();
    drawLabHistory();
    drawPerformance();
    drawTrainingHistory();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

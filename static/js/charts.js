/* ThyroWeb charts: reads data from <script type="application/json"> blocks and draws with Chart.js.
   No inline scripts (Content-Security-Policy script-src 'self'). */
(function () {
  "use strict";

  var lang = document.documentElement.lang || "en";
  var dateLocale = lang === "en" ? "en-GB" : lang;  // 5 Jan 2026, not Jan 5, 2026
  var CLASS_COLOURS = { normal: "#2e7d32", hyperthyroid: "#c62828", hypothyroid: "#1565c0" };
  var CLASSES = ["normal", "hyperthyroid", "hypothyroid"];

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function dateLabel(ms) {
    return new Date(ms).toLocaleDateString(dateLocale, { year: "numeric", month: "short", day: "numeric" });
  }

  function number(value, digits) {
    return Number(value).toLocaleString(lang, { maximumFractionDigits: digits === undefined ? 3 : digits });
  }

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
    if (!data || !canvas || !(data.fit.length || data.cv.length)) return;
    function series(rows, key) {
      return rows.filter(function (row) { return typeof row[key] === "number" && isFinite(row[key]); })
        .map(function (row) { return { x: row.epoch, y: row[key] }; });
    }
    var labels = canvas.dataset;
    // The model kept ("fit") and each out-of-fold model ("cv", for the calibration) are separate series:
    // each counts its epochs from 1, so they are never joined into one line.
    var datasets = [
      { label: labels.f1Label, data: series(data.fit, "val_macro_f1"), borderColor: "#2e7d32",
        backgroundColor: "#2e7d32", yAxisID: "f1", pointRadius: 2, stage: "fit" },
      { label: labels.lossLabel, data: series(data.fit, "loss"), borderColor: "#0b5cad",
        backgroundColor: "#0b5cad", yAxisID: "loss", pointRadius: 2, stage: "fit" },
      { label: labels.valLossLabel, data: series(data.fit, "val_loss"), borderColor: "#c62828",
        backgroundColor: "#c62828", yAxisID: "loss", pointRadius: 2, borderDash: [4, 3], stage: "fit" },
    ];
    data.cv.forEach(function (fold) {
      datasets.push({ label: labels.cvLossLabel.replace("{fold}", fold.fold), data: series(fold.rows, "val_loss"),
                      borderColor: "#8d8d8d", backgroundColor: "#8d8d8d", borderWidth: 1, yAxisID: "loss",
                      pointRadius: 0, borderDash: [1, 2], stage: "cv" });
    });
    new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: { type: "linear", min: 1, title: { display: true, text: labels.xLabel }, ticks: { precision: 0 } },
          f1: { position: "left", min: 0, max: 1, title: { display: true, text: labels.f1Axis } },
          loss: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
                  title: { display: true, text: labels.lossAxis } },
        },
      },
    });
  }

  function start() {
    if (typeof Chart === "undefined") return;
    Chart.defaults.locale = lang;
    Chart.defaults.animation = false;
    drawDashboard();
    drawPerformance();
    drawTrainingHistory();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

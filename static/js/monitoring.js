/* ThyroWeb model monitoring charts: data from the <script id="monitoring-data"> block, drawn with Chart.js.
   No inline scripts (Content-Security-Policy script-src 'self'). */
(function () {
  "use strict";

  var CLASS_COLOURS = { normal: "#2e7d32", hyperthyroid: "#c62828", hypothyroid: "#1565c0" };
  var LAB_COLOURS = ["#0b5cad", "#c62828", "#2e7d32", "#8e24aa", "#ef6c00", "#00838f", "#6d4c41", "#546e7a"];
  var OUTCOME_COLOURS = { assessed: "#2e7d32", refer: "#ef6c00", not_assessed: "#757575" };

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // Horizontal lines at the PSI bands (options.plugins.psiBands.values).
  var psiBands = {
    id: "psiBands",
    afterDatasetsDraw: function (chart, args, options) {
      if (!options || !options.values) return;
      var area = chart.chartArea, y = chart.scales.y, ctx = chart.ctx;
      ctx.save();
      options.values.forEach(function (value, index) {
        var pixel = y.getPixelForValue(value);
        if (pixel < area.top || pixel > area.bottom) return;
        ctx.strokeStyle = index ? "rgba(198, 40, 40, 0.8)" : "rgba(239, 108, 0, 0.8)";
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(area.left, pixel);
        ctx.lineTo(area.right, pixel);
        ctx.stroke();
      });
      ctx.restore();
    },
  };

  function labNames(periods) {
    return periods.length ? Object.keys(periods[0].labs) : [];
  }

  function draw() {
    var data = readJSON("monitoring-data");
    if (!data || typeof Chart === "undefined") return;
    var periods = data.periods;
    var labels = periods.map(function (p) { return p.start; });
    var labs = labNames(periods);
    var common = { maintainAspectRatio: false, animation: false };

    var psi = document.getElementById("chart-psi");
    if (psi) {
      new Chart(psi, {
        type: "line",
        data: {
          labels: labels,
          datasets: labs.map(function (lab, i) {
            return { label: lab, data: periods.map(function (p) { return p.labs[lab].band === "few" ? null : p.labs[lab].psi; }),
                     borderColor: LAB_COLOURS[i % LAB_COLOURS.length], backgroundColor: LAB_COLOURS[i % LAB_COLOURS.length],
                     spanGaps: true };
          }),
        },
        options: Object.assign({}, common, {
          plugins: { psiBands: { values: data.bands } },
          scales: { y: { beginAtZero: true, suggestedMax: 0.3, title: { display: true, text: "PSI" } } },
        }),
        plugins: [psiBands],
      });
    }
    var outcomes = document.getElementById("chart-outcomes");
    if (outcomes) {
      var names = { assessed: outcomes.dataset.assessed, refer: outcomes.dataset.refer, not_assessed: outcomes.dataset.notAssessed };
      new Chart(outcomes, {
        type: "bar",
        data: {
          labels: labels,
          datasets: Object.keys(names).map(function (key) {
            return { label: names[key], data: periods.map(function (p) { return p.outcomes[key]; }),
                     backgroundColor: OUTCOME_COLOURS[key] };
          }),
        },
        options: Object.assign({}, common, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }),
      });
    }
    var classes = document.getElementById("chart-classes");
    if (classes) {
      new Chart(classes, {
        type: "bar",
        data: {
          labels: labels,
          datasets: Object.keys(data.class_labels).map(function (key) {
            return { label: data.class_labels[key], data: periods.map(function (p) { return p.classes[key]; }),
                     backgroundColor: CLASS_COLOURS[key] || "#777" };
          }),
        },
        options: Object.assign({}, common, { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }),
      });
    }
    var missing = document.getElementById("chart-missing");
    if (missing) {
      new Chart(missing, {
        type: "line",
        data: {
          labels: labels,
          datasets: labs.map(function (lab, i) {
            return { label: lab, data: periods.map(function (p) { var s = p.labs[lab].missing_share; return s === null ? null : 100 * s; }),
                     borderColor: LAB_COLOURS[i % LAB_COLOURS.length], backgroundColor: LAB_COLOURS[i % LAB_COLOURS.length] };
          }),
        },
        options: Object.assign({}, common, { scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "%" } } } }),
      });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

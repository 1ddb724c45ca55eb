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

  // One stacked bar per period: period[field][key] for each key of names (key -> legend label).
  function stackedBars(canvas, labels, periods, field, names, colours) {
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: labels,
        datasets: Object.keys(names).map(function (key) {
          return { label: names[key], data: periods.map(function (p) { return p[field][key]; }),
                   backgroundColor: colours[key] || "#777" };
        }),
      },
      options: { maintainAspectRatio: false, animation: false,
                 scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  // One line per lab: value(period, lab) over the periods.
  function labLines(canvas, labels, labs, value, periods, options, plugins) {
    new Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: labs.map(function (lab, i) {
          var colour = LAB_COLOURS[i % LAB_COLOURS.length];
          return { label: lab, data: periods.map(function (p) { return value(p, lab); }),
                   borderColor: colour, backgroundColor: colour, spanGaps: true };
        }),
      },
      options: Object.assign({ maintainAspectRatio: false, animation: false }, options),
      plugins: plugins,
    });
  }

  function draw() {
    var data = readJSON("monitoring-data");
    if (!data || typeof Chart === "undefined") return;
    var periods = data.periods;
    var labels = periods.map(function (p) { return p.start; });
    var labs = labNames(periods);

    var psi = document.getElementById("chart-psi");
    if (psi) {
      labLines(psi, labels, labs, function (p, lab) { return p.labs[lab].band === "few" ? null : p.labs[lab].psi; }, periods,
               { plugins: { psiBands: { values: data.bands } },
                 scales: { y: { beginAtZero: true, suggestedMax: 0.3, title: { display: true, text: "PSI" } } } },
               [psiBands]);
    }
    var outcomes = document.getElementById("chart-outcomes");
    if (outcomes) {
      var names = { assessed: outcomes.dataset.assessed, refer: outcomes.dataset.refer, not_assessed: outcomes.dataset.notAssessed };
      stackedBars(outcomes, labels, periods, "outcomes", names, OUTCOME_COLOURS);
    }
    var classes = document.getElementById("chart-classes");
    if (classes) {
      stackedBars(classes, labels, periods, "classes", data.class_labels, CLASS_COLOURS);
    }
    var missing = document.getElementById("chart-missing");
    if (missing) {
      labLines(missing, labels, labs, function (p, lab) { var v = p.labs[lab].missing_share; return v === null ? null : 100 * v; },
               periods, { scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: "%" } } } }, []);
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();

/* ThyroWeb lab history (patient page): one chart per test, TSH on a logarithmic axis, each point
   coloured by the predicted class of its panel, value and outcome on hover.
   Data from <script type="application/json" id="lab-history"> (Content-Security-Policy: no inline script). */
(function () {
  "use strict";

  var lang = document.documentElement.lang || "en";
  var dateLocale = lang === "en" ? "en-GB" : lang;
  var CLASS_COLOURS = { normal: "#2e7d32", hyperthyroid: "#c62828", hypothyroid: "#1565c0" };
  var UNSCORED = "#6e7781";
  // TSH spans four decades (0.005 to 500 mU/L): a linear axis squashes the low values together.
  var LOG_AXIS = { TSH: true };
  var LOG_FLOOR = 0.005;  // the lowest TSH the assays of the data report; a zero is drawn there

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function dateLabel(ms) {
    return new Date(ms).toLocaleString(dateLocale, { year: "numeric", month: "short", day: "numeric",
                                                     hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function dayLabel(ms) {
    return new Date(ms).toLocaleDateString(dateLocale, { year: "numeric", month: "short", day: "numeric" });
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
      var bottom = Math.min(area.bottom, y.getPixelForValue(Math.max(options.low, y.min)));
      if (bottom <= top) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.fillStyle = "rgba(46, 125, 50, 0.14)";
      ctx.fillRect(area.left, top, area.right - area.left, bottom - top);
      ctx.restore();
    },
  };

  function pointColour(point) {
    return CLASS_COLOURS[point.cls] || UNSCORED;
  }

  function yScale(name, values, low, high) {
    var ys = values.concat([low, high]);
    var min = Math.min.apply(null, ys), max = Math.max.apply(null, ys);
    if (LOG_AXIS[name]) {
      return { type: "logarithmic", min: Math.pow(10, Math.floor(Math.log10(Math.max(min, LOG_FLOOR)))),
               max: Math.pow(10, Math.ceil(Math.log10(max))),
               ticks: { callback: function (v) {
                 var exponent = Math.log10(v);
                 return Math.abs(exponent - Math.round(exponent)) < 1e-9 ? number(v, 3) : null;
               } } };
    }
    var span = max - min || 1;
    return { type: "linear", suggestedMin: Math.max(0, min - 0.1 * span), suggestedMax: max + 0.1 * span,
             ticks: { callback: function (v) { return number(v, 2); } } };
  }

  function draw(canvas, name, series, labels) {
    var points = series.points.map(function (p) {
      return { x: p.x, y: LOG_AXIS[name] ? Math.max(p.y, LOG_FLOOR) : p.y, value: p.y, cls: p.cls, outcome: p.outcome };
    });
    var times = points.map(function (p) { return p.x; });
    var first = Math.min.apply(null, times), last = Math.max.apply(null, times);
    var pad = Math.max((last - first) * 0.05, 86400000);
    var low = series.reference[0], high = series.reference[1];
    var unit = series.unit ? " " + series.unit : "";
    var y = yScale(name, points.map(function (p) { return p.y; }), low, high);
    y.title = { display: true, text: series.unit ? name + " (" + series.unit + ")" : name };
    new Chart(canvas, {
      type: "line",
      data: { datasets: [{ label: series.label, data: points, borderColor: "#8c959f", borderWidth: 1.5,
                           pointBackgroundColor: points.map(pointColour), pointBorderColor: points.map(pointColour),
                           pointRadius: 5, pointHoverRadius: 7, tension: 0 }] },
      options: {
        maintainAspectRatio: false,
        parsing: false,
        plugins: {
          legend: { display: false },
          referenceBand: { low: low, high: high },
          tooltip: { callbacks: {
            title: function (items) { return items.length ? dateLabel(items[0].raw.x) : ""; },
            label: function (item) {
              var p = item.raw;
              var text = series.label + " " + number(p.value) + unit;
              var result = p.cls ? (labels.classes[p.cls] || p.cls) : labels.unscored;
              if (p.outcome && p.outcome !== "assessed") result += " (" + (labels.outcomes[p.outcome] || p.outcome) + ")";
              return [text, result];
            },
          } },
        },
        scales: {
          x: { type: "linear", min: first - pad, max: last + pad,
               title: { display: true, text: labels.date },
               ticks: { maxTicksLimit: 5, callback: function (v) { return dayLabel(v); } } },
          y: y,
        },
      },
      plugins: [referenceBand],
    });
  }

  function start() {
    var history = readJSON("lab-history");
    if (!history || typeof Chart === "undefined") return;
    var labels = readJSON("lab-history-labels") || { classes: {}, outcomes: {}, unscored: "", date: "" };
    Chart.defaults.locale = lang;
    Chart.defaults.animation = false;
    document.querySelectorAll("canvas.lab-chart").forEach(function (canvas) {
      var name = canvas.dataset.test;
      var series = history[name];
      if (!series) return;
      if (!series.points.length) {
        var note = document.createElement("p");
        note.className = "muted";
        note.textContent = canvas.dataset.emptyLabel || "";
        canvas.parentNode.replaceWith(note);
        return;
      }
      draw(canvas, name, series, labels);
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

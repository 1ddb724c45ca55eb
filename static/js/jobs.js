/* Live progress of training runs and scoring jobs: polls the small JSON endpoint while a job is unfinished. */
(function () {
  "use strict";

  var POLL_MS = 2000;
  var lang = document.documentElement.lang || "en";

  function unfinished(table) {
    return Array.prototype.filter.call(table.querySelectorAll("tr[data-job-id]"), function (row) {
      return row.dataset.status === "queued" || row.dataset.status === "running";
    });
  }

  function show(row, job) {
    row.dataset.status = job.status;
    row.querySelectorAll("[data-field]").forEach(function (node) {
      var key = node.dataset.field;
      if (!(key in job)) return;
      var value = job[key];
      if (key === "progress") {
        node.value = value;
      } else if (key === "val_macro_f1") {
        node.textContent = value === null ? "–" : Number(value).toLocaleString(lang, { minimumFractionDigits: 3, maximumFractionDigits: 3 });
      } else if (key === "message") {
        node.textContent = job.status === "failed" ? value : "";
      } else {
        node.textContent = value === null ? "–" : String(value);
      }
    });
  }

  function poll(table) {
    var rows = unfinished(table);
    if (!rows.length) return;
    var ids = rows.map(function (row) { return row.dataset.jobId; }).join(",");
    fetch(table.dataset.progressUrl + "?ids=" + encodeURIComponent(ids), {
      credentials: "same-origin", headers: { Accept: "application/json" },
    }).then(function (response) {
      if (!response.ok) throw new Error("progress " + response.status);
      return response.json();
    }).then(function (data) {
      var finished = false;
      data.jobs.forEach(function (job) {
        var row = table.querySelector('tr[data-job-id="' + job.id + '"]');
        if (!row) return;
        show(row, job);
        finished = finished || job.done;
      });
      // A finished job may have produced a result link or file: reload once to show it.
      if (finished && table.dataset.reloadOnDone !== "no") { window.location.reload(); return; }
      window.setTimeout(function () { poll(table); }, POLL_MS);
    }).catch(function () {
      window.setTimeout(function () { poll(table); }, POLL_MS * 5);
    });
  }

  document.querySelectorAll("table.jobs[data-progress-url]").forEach(function (table) {
    if (unfinished(table).length) window.setTimeout(function () { poll(table); }, POLL_MS);
  });
})();

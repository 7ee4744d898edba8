/*
 * The lead-definition what-if chart: MQLs per week under a version against
 * the active one, with sales capacity as a line. The figures come from the
 * page (Django's json_script), never from inline script, so the CSP holds.
 * The chart is drawn on page load and again whenever htmx swaps the what-if in.
 */
(function () {
  "use strict";

  var COLORS = {
    draft: "#1e88e5",
    active: "#9e9e9e",
    capacity: "#d32f2f",
  };

  function draw(root) {
    if (typeof window.Chart === "undefined" || !root || !root.querySelectorAll) {
      return;
    }
    root.querySelectorAll("canvas[data-what-if]").forEach(function (canvas) {
      var source = document.getElementById(canvas.dataset.whatIf);
      if (!source) {
        return;
      }
      var data = JSON.parse(source.textContent);
      var existing = window.Chart.getChart(canvas);
      if (existing) {
        existing.destroy();
      }
      var datasets = [
        {
          type: "bar",
          label: "This version",
          data: data.draft,
          backgroundColor: COLORS.draft,
          order: 2,
        },
      ];
      if (data.active) {
        datasets.push({
          type: "bar",
          label: "Active version",
          data: data.active,
          backgroundColor: COLORS.active,
          order: 3,
        });
      }
      datasets.push({
        type: "line",
        label: "Sales capacity",
        data: data.weeks.map(function () {
          return data.capacity;
        }),
        borderColor: COLORS.capacity,
        borderDash: [6, 4],
        borderWidth: 2,
        pointRadius: 0,
        fill: false,
        order: 1,
      });
      new window.Chart(canvas, {
        data: { labels: data.weeks, datasets: datasets },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          interaction: { mode: "index", intersect: false },
          scales: {
            y: { beginAtZero: true, title: { display: true, text: "MQLs per week" } },
            x: { title: { display: true, text: "Week of" } },
          },
          plugins: { legend: { position: "bottom" } },
        },
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
  });
  document.addEventListener("htmx:load", function (event) {
    draw(event.target);
  });
})();

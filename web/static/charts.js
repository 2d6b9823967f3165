/* Draws the dashboard's bar charts with Chart.js (vendor/chartjs, served from here: no CDN).
 *
 * Each chart's data sits in a <script type="application/json"> block named by the
 * data-chart attribute of its box, because the CSP allows no inline script. Once a chart is
 * drawn, its table is hidden visually but stays for screen readers; without JavaScript (or
 * when Chart.js fails to load) the table simply stays visible.
 */
(function () {
  "use strict";

  if (typeof window.Chart !== "function") {
    return;
  }
  var Chart = window.Chart;
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  Chart.defaults.color = "#52606d";
  Chart.defaults.font.family = 'system-ui, -apple-system, "Segoe UI", sans-serif';

  function options(data) {
    var several = data.series.length > 1;
    return {
      locale: "nl-NL",
      responsive: true,
      maintainAspectRatio: false,
      animation: reducedMotion ? false : { duration: 300 },
      // Hovering anywhere over a day shows all of its bars in one tooltip.
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: several, position: "top", labels: { boxWidth: 12 } },
        tooltip: {
          callbacks: {
            label: function (item) {
              return " " + item.dataset.label + ": " + item.formattedValue;
            }
          }
        }
      },
      scales: {
        x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 8 } },
        // Whole numbers only: every tick is a count that can happen, at an even step, so a
        // bar of 1 ends exactly on the "1" line.
        y: { beginAtZero: true, ticks: { precision: 0 } }
      }
    };
  }

  function draw(box) {
    var source = document.getElementById(box.getAttribute("data-chart"));
    if (!source) {
      return;
    }
    var data = JSON.parse(source.textContent);
    box.hidden = false;
    new Chart(box.querySelector("canvas"), {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series) {
          return {
            label: series.label,
            data: series.values,
            backgroundColor: series.colour,
            borderRadius: 2,
            maxBarThickness: 48
          };
        })
      },
      options: options(data)
    });
    var table = box.parentNode.querySelector(".chart-table");
    if (table) {
      table.classList.add("visually-hidden");
    }
  }

  document.querySelectorAll("[data-chart]").forEach(draw);
})();

/* duanxin console: progressive enhancement only. Every page works without this file. */
(function () {
  "use strict";
  // Forms that ask before they act (removing a channel, revoking a key).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
  // A key shown once answers a POST: reloading must not post again (and issue another
  // key), so the address becomes the page's own, which a reload merely shows.
  var shown = document.getElementById("new-key");
  if (shown && shown.getAttribute("data-then") && window.history.replaceState) {
    window.history.replaceState(null, "", shown.getAttribute("data-then"));
  }
  // The customer's daily statistics (uPlot, shipped with the package).
  var days = document.getElementById("stats-chart");
  var daily = document.getElementById("stats-data");
  if (days && daily && typeof uPlot !== "undefined") {
    var d = JSON.parse(daily.textContent);
    var when = d.days.map(function (day) { return Date.parse(day + "T00:00:00") / 1000; });
    var daySize = function () { return { width: Math.max(280, days.clientWidth), height: 240 }; };
    var dayPlot = new uPlot(Object.assign(daySize(), {
      series: [{}].concat(d.series.map(function (s, i) {
        return { label: s.label, stroke: ["#2b8a3e", "#c92a2a"][i % 2], width: 2 };
      })),
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.15)]; } } },
    }), [when].concat(d.series.map(function (s) { return s.values; })), days);
    window.addEventListener("resize", function () { dayPlot.setSize(daySize()); });
  }
  // The dashboard's TPS chart (uPlot, shipped with the package).
  var holder = document.getElementById("tps-chart");
  var source = document.getElementById("tps-data");
  if (!holder || !source || typeof uPlot === "undefined") return;
  var data = JSON.parse(source.textContent);
  var base = Math.floor(Date.now() / 60000) * 60 - (data.minutes.length - 1) * 60;
  var xs = data.minutes.map(function (_, i) { return base + i * 60; });
  var colours = ["#0b6bcb", "#e8590c"];
  var series = [{}].concat(data.series.map(function (s, i) {
    return { label: s.label, stroke: colours[i % colours.length], width: 2,
             value: function (u, v) { return v == null ? "—" : v.toFixed(2) + "/s"; } };
  }));
  function size() { return { width: Math.max(280, holder.clientWidth), height: 260 }; }
  var plot = new uPlot(Object.assign(size(), {
    series: series,
    axes: [{}, { label: "TPS", size: 60 }],
    scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.15)]; } } },
  }), [xs].concat(data.series.map(function (s) { return s.values; })), holder);
  window.addEventListener("resize", function () { plot.setSize(size()); });
})();

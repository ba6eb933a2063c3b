// Stagehand UI: small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // Selects marked data-autosubmit submit their form on change.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  // Facts tree filter: hide leaves whose path and value do not contain the text.
  var filter = document.getElementById("fact-filter");
  if (filter) {
    var items = Array.prototype.slice.call(document.querySelectorAll(".tree li[data-path]"));
    var status = document.getElementById("fact-filter-status");
    filter.addEventListener("input", function () {
      var needle = filter.value.trim().toLowerCase();
      var shown = 0;
      items.forEach(function (li) {
        var hay = li.getAttribute("data-path").toLowerCase();
        var match = !needle || hay.indexOf(needle) !== -1;
        li.classList.toggle("hidden", !match);
        if (match) { shown++; }
      });
      document.querySelectorAll(".tree details").forEach(function (d) { d.open = !!needle || d.hasAttribute("data-open"); });
      if (status) { status.textContent = needle ? shown + " matching entries" : ""; }
    });
  }
  // Check-all boxes (inbox).
  document.querySelectorAll("input[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name='" + box.getAttribute("data-check-all") + "']").forEach(function (b) { b.checked = box.checked; });
    });
  });
  // Pages that wait for a background computation reload themselves.
  var reload = document.querySelector("[data-reload-after]");
  if (reload) { setTimeout(function () { window.location.reload(); }, parseInt(reload.getAttribute("data-reload-after"), 10) * 1000); }
});

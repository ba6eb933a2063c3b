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
      document.querySelectorAll(".tree details").forEach(function (d) { d.open = !needle && d.hasAttribute("data-open"); });
      items.forEach(function (li) {
        var match = !needle || li.getAttribute("data-path").toLowerCase().indexOf(needle) !== -1;
        li.classList.toggle("hidden", !match);
        if (match && needle) { shown++; }
      });
      if (needle) {
        // Keep the branches that lead to a match visible and open.
        items.forEach(function (li) {
          if (li.classList.contains("hidden")) { return; }
          var up = li.parentElement && li.parentElement.closest("li[data-path]");
          while (up) {
            up.classList.remove("hidden");
            var details = up.querySelector(":scope > details");
            if (details) { details.open = true; }
            up = up.parentElement && up.parentElement.closest("li[data-path]");
          }
        });
      }
      if (status) { status.textContent = needle ? shown + " matching entries" : ""; }
    });
  }
  // Check-all boxes (inbox).
  document.querySelectorAll("input[data-check-all]").forEach(function (box) {
    box.addEventListener("change", function () {
      document.querySelectorAll("input[name='" + box.getAttribute("data-check-all") + "']").forEach(function (b) { b.checked = box.checked; });
    });
  });
  // Group editor: live preview of the matching nodes while the rule or pinned nodes are edited.
  var groupForm = document.getElementById("group-form");
  var previewBox = document.getElementById("preview");
  if (groupForm && previewBox) {
    var timer = null;
    var refresh = function () {
      var body = new FormData(groupForm);
      fetch(groupForm.getAttribute("data-preview-url"), { method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRFToken": body.get("csrfmiddlewaretoken") } })
        .then(function (r) { return r.text(); })
        .then(function (html) { previewBox.innerHTML = html; })
        .catch(function () { previewBox.textContent = "Preview unavailable."; });
    };
    groupForm.querySelectorAll("[data-preview], select[name=parent]").forEach(function (el) {
      el.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(refresh, 400); });
    });
    if (previewBox.hasAttribute("data-load-now")) { refresh(); }
  }
  // Parts of a page that take long to compute are fetched after the page is shown.
  document.querySelectorAll("[data-fragment-url]").forEach(function (box) {
    fetch(box.getAttribute("data-fragment-url"), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) { box.innerHTML = html; })
      .catch(function () { box.textContent = "Could not load this part of the page."; });
  });
  // Pages that wait for a background computation reload themselves.
  var reload = document.querySelector("[data-reload-after]");
  if (reload) { setTimeout(function () { window.location.reload(); }, parseInt(reload.getAttribute("data-reload-after"), 10) * 1000); }
});

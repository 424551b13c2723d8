// The CheckpointSimulator: the event stream's bridge to htmx, legend toggles that survive a
// chart's refresh, the per-epoch / per-step view, the settings that fold away once a run exists.
(function () {
  "use strict";

  // The stream's small named events ("started", "status", "epoch", "checkpoint", "ledger", each with the
  // lineage's run id; "runs") become "cs-<name>" on the fragments that show that lineage
  // ([data-cs-run]) and on those that show all of them ([data-cs-any]). Each fragment then
  // fetches itself (hx-trigger="cs-status"…); hx-sync orders its requests. EventSource
  // reconnects by itself, and the server's first event, "runs", reloads the whole view.
  // "queue" carries the waiting runs' places in line as text, {run id: text}: a class's line
  // moves several times a second, and no fragment needs fetching for a number.
  var EVENTS = ["runs", "started", "status", "epoch", "checkpoint", "ledger"];
  document.addEventListener("DOMContentLoaded", function () {
    var shell = document.querySelector("[data-cs-stream]");
    if (!shell || !window.EventSource || !window.htmx) return;
    var source = new EventSource(shell.getAttribute("data-cs-stream"));
    EVENTS.forEach(function (name) {
      source.addEventListener(name, function (e) {
        var mine = e.data ? ", [data-cs-run='" + e.data.replace(/[^\w-]/g, "") + "']" : "";
        document.querySelectorAll("[data-cs-any]" + mine).forEach(function (el) {
          window.htmx.trigger(el, "cs-" + name);
        });
      });
    });
    source.addEventListener("queue", function (e) {
      var places = JSON.parse(e.data);
      document.querySelectorAll("[data-queue-run]").forEach(function (node) {
        var text = places[node.getAttribute("data-queue-run")];
        if (text) node.textContent = text;
      });
    });
  });

  // An answer names an element outside itself to focus (HX-Trigger-After-Settle: cs-focus).
  document.addEventListener("cs-focus", function (e) { e.target.focus(); });

  var hidden = {};  // "chart title|series index" -> true while the learner has switched it off
  function keyOf(button) {
    var svg = button.closest(".chart-figure").querySelector("svg");
    return (svg ? svg.getAttribute("aria-label") : "") + "|" + button.getAttribute("data-series");
  }
  function applyToggles(root) {
    root.querySelectorAll(".legend-toggle").forEach(function (button) {
      var off = !!hidden[keyOf(button)];
      button.setAttribute("aria-pressed", off ? "false" : "true");
      var line = button.closest(".chart-figure").querySelector("polyline[data-series='" + button.getAttribute("data-series") + "']");
      if (line) line.classList.toggle("series-off", off);
    });
  }

  function chosenView() {
    try { return localStorage.getItem("cs-view") === "steps" ? "steps" : "epochs"; } catch (err) { return "epochs"; }
  }
  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest(".legend-toggle");
    if (toggle) {
      hidden[keyOf(toggle)] = !hidden[keyOf(toggle)];
      applyToggles(toggle.closest(".chart-figure"));
      return;
    }
    var view = e.target.closest && e.target.closest("#cs-view-toggle");
    if (view && window.htmx) {
      try { localStorage.setItem("cs-view", view.getAttribute("data-view")); } catch (err) { /* private mode */ }
      ["#cs-timeline", "#cs-compare-box"].forEach(function (id) {
        var el = document.querySelector(id);
        if (el) window.htmx.trigger(el, "cs-view");
      });
    }
  });
  // Every request of the simulator carries the chosen chart view.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.path.indexOf("/components/checkpoint-simulator/") !== 0) return;
    if (chosenView() === "steps") e.detail.parameters.view = "steps";
  });

  // Menus the learner opened in a fragment stay open when it refreshes itself; the menu an
  // action was just chosen from closes.
  var opened = [];
  document.addEventListener("htmx:beforeRequest", function (e) {
    var menu = e.detail.elt.closest && e.detail.elt.closest("details.cs-split");
    if (menu) menu.open = false;
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    if (!target || !target.closest("#cs-live")) return;
    opened = Array.prototype.map.call(target.querySelectorAll("details[id][open]"), function (d) { return d.id; });
  });

  var folded = false;
  document.addEventListener("htmx:afterSettle", function () {
    opened.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) d.open = true;
    });
    opened = [];
    var live = document.getElementById("cs-live");
    if (!live) return;
    applyToggles(live);
    // Once the learner has a run, the settings fold away so the run sits right under Start.
    var settings = document.getElementById("cs-settings");
    if (!folded && settings && live.querySelector(".cs-runs") && !settings.hasAttribute("data-errors")) {
      settings.open = false;
      folded = true;
    }
  });
})();

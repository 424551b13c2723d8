// The CheckpointSimulator: focus after an action, the settings that fold away once a run exists,
// legend toggles that survive live refreshes, the per-epoch / per-step view.
(function () {
  "use strict";
  var hidden = {};  // "chart title|series index" -> true while the learner has switched it off
  var folded = false;

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

  document.addEventListener("click", function (e) {
    var toggle = e.target.closest && e.target.closest(".legend-toggle");
    if (toggle) {
      var key = keyOf(toggle);
      hidden[key] = !hidden[key];
      applyToggles(toggle.closest(".chart-figure"));
      return;
    }
    var view = e.target.closest && e.target.closest("#cs-view-toggle");
    if (view && window.htmx) {
      try { localStorage.setItem("cs-view", view.getAttribute("data-view")); } catch (err) { /* private mode */ }
      var live = document.getElementById("cs-live");
      window.htmx.ajax("GET", live.getAttribute("hx-get"), { target: "#cs-live", swap: "outerHTML" });
    }
  });

  // Every request of the simulator carries the chosen chart view.
  document.addEventListener("htmx:configRequest", function (e) {
    if (e.detail.path.indexOf("/components/checkpoint-simulator/") !== 0) return;
    var view = null;
    try { view = localStorage.getItem("cs-view"); } catch (err) { view = null; }
    if (view === "steps") e.detail.parameters.view = "steps";
  });

  // A live refresh replaces the view several times a second while anything trains: menus and
  // panels the learner opened stay open across it.
  var opened = null;
  var focusedId = null;  // the control a keyboard user is on survives a refresh too
  document.addEventListener("htmx:beforeSwap", function (e) {
    var live = document.getElementById("cs-live");
    if (!live || !live.contains(e.detail.target) && e.detail.target !== live) return;
    // ...except the menu an action was just chosen from.
    var from = e.detail.requestConfig && e.detail.requestConfig.elt;
    var active = document.activeElement;
    focusedId = active && active.id && live.contains(active) ? active.id : null;
    opened = Array.prototype.filter.call(live.querySelectorAll("details[id][open]"), function (d) {
      return !(from && d.contains(from));
    }).map(function (d) { return d.id; });
  });

  document.addEventListener("htmx:afterSettle", function (e) {
    if (opened) {
      opened.forEach(function (id) {
        var d = document.getElementById(id);
        if (d && d.closest("#cs-live")) d.open = true;
      });
      opened = null;
    }
    var live = document.getElementById("cs-live");
    if (!live) return;
    applyToggles(live);
    // Once the learner has a run, the settings fold away so the run sits right under Start.
    var settings = document.getElementById("cs-settings");
    if (!folded && settings && live.getAttribute("data-has-runs") === "true" && !settings.hasAttribute("data-errors")) {
      settings.open = false;
      folded = true;
    }
    if (focusedId) {
      var back = document.getElementById(focusedId);
      var lost = !document.activeElement || document.activeElement === document.body;
      if (back && lost) back.focus({ preventScroll: true });
      focusedId = null;
    }
    var xhr = e.detail && e.detail.xhr;
    var target = xhr && xhr.getResponseHeader("X-CS-Focus");
    if (target) {
      var el = document.querySelector(target);
      if (el) {
        el.focus({ preventScroll: true });
        // After the frame's layout (the settings may just have folded), not before it.
        requestAnimationFrame(function () {
          var box = el.getBoundingClientRect();
          if (box.top < 60 || box.bottom > window.innerHeight) el.scrollIntoView({ block: "center" });
        });
      }
    }
  });
})();

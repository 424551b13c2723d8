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
    if (chosenView() === "steps") e.detail.parameters.view = "steps";
  });

  // One answer for the live view at a time. An answer that lands after another one replaced
  // #cs-live would be swapped into the replaced element (htmx swaps it all the same: a script
  // error, and an action's answer lost). So a refresh asked for meanwhile is made once, after the
  // request under way; an action (Start, Crash, Resume…) sent while a refresh is under way makes
  // that refresh's answer stale (not swapped), and the view is refreshed again after the
  // action's answer.
  var underWay = [];  // the XMLHttpRequests for #cs-live not answered yet
  var refreshAgain = false;
  function busy() {
    underWay = underWay.filter(function (x) { return x.readyState > 0 && x.readyState < 4; });
    return underWay;
  }
  function isRefresh(d) {
    return d.elt && d.elt.id === "cs-live" && d.requestConfig && d.requestConfig.verb === "get";
  }
  document.addEventListener("htmx:beforeRequest", function (e) {
    var d = e.detail;
    if (!d.target || d.target.id !== "cs-live" || !d.xhr) return;
    var refresh = isRefresh(d);
    if (refresh && busy().length) {
      e.preventDefault();
      refreshAgain = true;
      return;
    }
    if (!refresh) {
      busy().forEach(function (x) {
        if (x.csRefresh) { refreshAgain = true; x.csStale = true; }
      });
    }
    d.xhr.csRefresh = refresh;
    underWay.push(d.xhr);
  });
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr && e.detail.xhr.csStale) e.detail.shouldSwap = false;
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var d = e.detail;
    underWay = underWay.filter(function (x) { return x !== d.xhr; });
    if (!refreshAgain || busy().length) return;
    refreshAgain = false;
    setTimeout(function () {
      var live = document.getElementById("cs-live");
      var follow = live && live.closest("[data-events]");
      if (follow && window.htmx) window.htmx.trigger(follow, "sse:changed");
    }, 0);
  });

  // A live refresh replaces the view several times a second while anything trains: menus and
  // panels the learner opened stay open across it.
  var opened = null;
  var focusedId = null;  // the control a keyboard user is on survives a refresh too
  function remember(live, from) {
    var active = document.activeElement;
    focusedId = active && active.id && live.contains(active) ? active.id : null;
    opened = Array.prototype.filter.call(live.querySelectorAll("details[id][open]"), function (d) {
      return !(from && d.contains(from));  // ...except the menu an action was just chosen from
    }).map(function (d) { return d.id; });
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    var live = document.getElementById("cs-live");
    if (!live || !live.contains(e.detail.target) && e.detail.target !== live) return;
    remember(live, e.detail.requestConfig && e.detail.requestConfig.elt);
  });

  // The event stream pushes the whole view when the learner's runs change ("sse:view",
  // static/js/app.js). The stream follows what the page shows, the lineage on screen and the
  // chart view: its URL carries both, and it is reopened when the page shows something else
  // (another lineage picked, a new run started, the view toggled). Opened bare, it shows the
  // learner's latest lineage, and keeps doing so until the page shows another one.
  var stream = { run: "", view: "epochs", shows: "" };  // what the stream was opened for, and shows
  function chosenView() {
    try { return localStorage.getItem("cs-view") === "steps" ? "steps" : "epochs"; } catch (err) { return "epochs"; }
  }
  function streamFollows(live) {
    var run = live.getAttribute("data-root") || "";
    var view = live.getAttribute("data-view") || chosenView();
    if (view === stream.view && (run === stream.run || !stream.run && run === stream.shows)) return true;
    stream = { run: run, view: view, shows: run };
    var follow = live.closest("[data-events]");
    if (!follow) return false;
    var url = follow.getAttribute("data-events") + (run ? "&run=" + encodeURIComponent(run) : "") +
      (view === "steps" ? "&view=steps" : "");
    follow.dispatchEvent(new CustomEvent("sse:retarget", { detail: { url: url } }));
    return false;
  }
  function attrOf(html, name) {  // an attribute of the view's own element, read before placing it
    var tag = /<div id="cs-live"[^>]*>/.exec(html);
    var m = tag && new RegExp(" " + name + '="([^"]*)"').exec(tag[0]);
    return m ? m[1] : null;
  }
  document.addEventListener("sse:view", function (e) {
    var live = document.getElementById("cs-live");
    if (!live || !window.htmx) return;
    // An answer under way replaces #cs-live itself (swapped into a replaced element it would be
    // lost): the view is fetched once more after it instead.
    if (busy().length) { refreshAgain = true; return; }
    // Drawn for what the page no longer shows: the reopened stream's first view comes next.
    if (!streamFollows(live)) return;
    // Drawn before the view on screen (an action's answer overtook it): the newer one stays. The
    // first view of a (re)opened stream always counts: a restarted server counts afresh.
    var version = Number(attrOf(e.detail.html, "data-version") || -1);
    if (!e.detail.fresh && version < Number(live.getAttribute("data-version") || 0)) return;
    stream.shows = attrOf(e.detail.html, "data-root") || "";
    remember(live, null);
    window.htmx.swap(live, e.detail.html, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 0 });
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
    applyPendingFocus();
    if (inView) requestAnimationFrame(keepInView);
    streamFollows(live);
  });

  // Where an action's answer sends focus (X-CS-Focus: the run's state after Start or Crash, the
  // ledger after Resume all). Taken from the answer itself, not from its swap: a live refresh
  // that lands first replaces #cs-live, and htmx then drops the action's own swap (its target is
  // gone), so the refresh's content is what gets the focus.
  var pendingFocus = null;
  document.addEventListener("htmx:afterRequest", function (e) {
    var xhr = e.detail && e.detail.xhr;
    var target = xhr && xhr.getResponseHeader("X-CS-Focus");
    if (!target) return;
    pendingFocus = { selector: target, until: Date.now() + 3000 };
    requestAnimationFrame(applyPendingFocus);
  });

  function applyPendingFocus() {
    if (!pendingFocus) return;
    if (Date.now() > pendingFocus.until) { pendingFocus = null; return; }
    var el = document.querySelector(pendingFocus.selector);
    if (!el) return;  // not on the page yet: the next refresh brings it
    pendingFocus = null;
    el.focus({ preventScroll: true });
    inView = { id: el.id, checks: 2 };
    requestAnimationFrame(keepInView);
  }

  // The focused target is scrolled into view after the frame's layout, and once more after the
  // next settle: folding the settings above it (on the first run) moves it up by their height.
  var inView = null;
  function keepInView() {
    if (!inView) return;
    var el = document.getElementById(inView.id);
    if (--inView.checks <= 0) inView = null;
    if (!el) return;
    var box = el.getBoundingClientRect();
    if (box.top < 60 || box.bottom > window.innerHeight) el.scrollIntoView({ block: "center" });
  }
})();

// Progressive enhancement only: the lesson reads fine without it.
document.documentElement.classList.remove("no-js");  // CSS keeps what only a script folds out of the way
(function () {
  "use strict";

  function addCopyButtons(root) {
    var body = document.body;
    root.querySelectorAll(".code-block").forEach(function (block) {
      if (block.querySelector(".copy-button")) return;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "copy-button";
      button.textContent = body.dataset.copy;
      button.setAttribute("aria-label", body.dataset.copy + " (" + (block.dataset.lang || "code") + ")");
      button.addEventListener("click", function () {
        var text = block.querySelector("code").innerText;
        var done = function (ok) {
          button.textContent = ok ? body.dataset.copied : body.dataset.copyFailed;
          setTimeout(function () { button.textContent = body.dataset.copy; }, 1600);
        };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, function () { done(fallbackCopy(text)); });
        } else {
          done(fallbackCopy(text));
        }
      });
      block.appendChild(button);
    });
  }

  // A class is usually served over plain http on the local network, where the async
  // clipboard API is unavailable: fall back to a hidden textarea.
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  function followToc() {
    var links = Array.prototype.slice.call(document.querySelectorAll(".toc a[href^='#']"));
    if (!links.length) return;
    var byId = {};
    var idOf = function (a) { return decodeURIComponent(a.getAttribute("href").slice(1)); };
    links.forEach(function (a) { byId[idOf(a)] = a; });
    var mark = function (current) {
      links.forEach(function (a) {
        var on = byId[current] === a;
        a.classList.toggle("active", on);
        if (on) a.setAttribute("aria-current", "location"); else a.removeAttribute("aria-current");
      });
    };
    // The heading the reader jumped to stays marked until they scroll themselves: a short
    // section (or the last one, which cannot reach the top) would otherwise mark its neighbour.
    var pinned = null;
    var hash = decodeURIComponent(location.hash.slice(1));
    if (byId[hash]) pinned = hash;
    var details = document.querySelector(".toc-details");
    var narrow = window.matchMedia("(max-width: 900px)");
    links.forEach(function (a) {
      a.addEventListener("click", function () {
        pinned = idOf(a);
        mark(pinned);
        if (details && narrow.matches) details.open = false;
      });
    });
    ["wheel", "touchmove", "keydown", "mousedown"].forEach(function (name) {
      window.addEventListener(name, function () { pinned = null; }, { passive: true });
    });
    // Read the headings' positions once a frame while scrolling: an IntersectionObserver only
    // hears of headings that cross its band, and a fast scroll or a jump crosses none.
    var headings = Object.keys(byId).map(function (id) { return document.getElementById(id); }).filter(Boolean);
    var current = document.querySelector(".toc-current");
    var update = function () {
      var id = pinned;
      if (!id) {
        id = headings.length ? headings[0].id : null;
        for (var i = 0; i < headings.length; i++) {
          if (headings[i].getBoundingClientRect().top < window.innerHeight * 0.35) id = headings[i].id;
        }
      }
      mark(id);
      if (current) current.textContent = id && byId[id] ? byId[id].textContent : "";
    };
    var queued = false;
    window.addEventListener("scroll", function () {
      if (queued) return;
      queued = true;
      window.requestAnimationFrame(function () { queued = false; update(); });
    }, { passive: true });
    update();
  }

  // A table or code block wider than its box scrolls inside it (never the page): keyboard users
  // reach the scrolling with Tab, so such a box must be focusable.
  function focusScrollers(root) {
    root.querySelectorAll("table, .table-scroll, pre").forEach(function (box) {
      if (box.scrollWidth > box.clientWidth + 1 && !box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var toc = document.querySelector(".toc-details");
    if (toc && window.matchMedia("(max-width: 900px)").matches) toc.open = false;
    addCopyButtons(document);
    followToc();
    focusScrollers(document);
  });
  document.addEventListener("htmx:afterSettle", function (e) { addCopyButtons(e.target); focusScrollers(e.target); });
  var resized = null;
  window.addEventListener("resize", function () {
    clearTimeout(resized);
    resized = setTimeout(function () { focusScrollers(document); }, 200);
  });
  // A "close" button empties the panel it names (no inline scripts: the CSP forbids them).
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-clear]");
    if (!button) return;
    var target = document.querySelector(button.getAttribute("data-clear"));
    if (target) target.innerHTML = "";
  });
})();

// The teacher's live views follow a server-sent event stream: an element with data-events="URL"
// opens one EventSource, and each "changed" is re-dispatched there as "sse:changed" (the view
// refetches itself: hx-trigger="sse:changed from:closest [data-events]"). htmx's own sse
// extension, as packaged with htmx 2.0.x, is still the htmx 1 one (it calls an API htmx 2
// removed). EventSource reconnects by itself; the server's first event brings the page up to date.
(function () {
  "use strict";
  function follow(el) {
    if (el.dataset.following || !window.EventSource) return;
    el.dataset.following = "true";
    new EventSource(el.dataset.events).addEventListener("changed", function () {
      if (window.htmx) window.htmx.trigger(el, "sse:changed");
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-events]").forEach(follow);
  });
})();

// The language switch keeps the reader at the same place: the twin chapter has the same headings
// in the same order and the same components (with the same ids), so "the 7th heading" or
// "#transfer-visualizer" names the same spot in either language.
(function () {
  "use strict";
  var MARKS = "article.chapter > h2[id], article.chapter > h3[id], article.chapter [data-component-name][id]";

  function headings() {
    return Array.prototype.slice.call(document.querySelectorAll("article.chapter > h2[id], article.chapter > h3[id]"));
  }
  function currentPlace() {
    var marks = Array.prototype.slice.call(document.querySelectorAll(MARKS));
    var line = window.innerHeight * 0.3, here = null;
    marks.forEach(function (el) { if (el.getBoundingClientRect().top <= line) here = el; });
    if (!here || window.scrollY < 10) return "";
    if (here.hasAttribute("data-component-name")) return "#" + here.id;
    return "#section-" + headings().indexOf(here);
  }
  document.addEventListener("click", function (e) {
    var link = e.target.closest && e.target.closest("a.lang-switch");
    if (!link) return;
    link.href = link.href.split("#")[0] + currentPlace();
  });
  // Chromium scrolls the page when a link in the sticky header takes keyboard focus; put the
  // reader back (scroll events arrive a frame later, so lastY is still where they were reading).
  var lastY = window.scrollY;
  window.addEventListener("scroll", function () { lastY = window.scrollY; }, { passive: true });
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("a.lang-switch") && window.scrollY !== lastY) window.scrollTo(window.scrollX, lastY);
  });
  document.addEventListener("DOMContentLoaded", function () {
    var match = /^#section-(\d+)$/.exec(location.hash);
    var target = match && headings()[Number(match[1])];
    if (!target) return;
    history.replaceState(null, "", "#" + target.id);
    target.scrollIntoView();
  });
})();
